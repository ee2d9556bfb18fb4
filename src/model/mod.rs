//! The model: the kernel objects and the protocol, written once.
//!
//! A [`vma::Vma`] with its per-VMA lock (`vm_refcnt`, `vm_lock_seq`) and its
//! oracle; an [`mm::Mm`] with its index of slots, `mmap_lock` and `mm_lock_seq`;
//! `lock_vma_under_rcu`, the fault and the writers ([`mm::Space`]), generic over a
//! [`scheme::Scheme`] (how the index is read and how a removed VMA's memory is
//! given back); the allocators the schemes share ([`boxed`], and the type-stable
//! [`pool`] of `typesafe`); the [`hook`] points a test or an adversarial run can
//! step in at; the per-thread [`counters`]; and [`lookup::VmaLookup`], what the
//! driver, the benchmarks and the tests drive.
//!
//! No I/O and no system calls: the model imports only itself, [`crate::sync`] and
//! [`crate::rng`].

pub mod counters;
pub mod gp;
pub mod hook;
pub mod index;
pub mod lookup;
pub mod mm;
pub mod page;
pub mod scheme;
pub mod slab;
pub mod space;
pub mod vma;
