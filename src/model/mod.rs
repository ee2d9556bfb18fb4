//! The model: the kernel objects and the protocol, written once.
//!
//! A [`vma::Vma`] with its per-VMA lock (`vm_refcnt`, `vm_lock_seq`) and its
//! oracle; an [`mm::Mm`] with its index (a maple-like [`index::Tree`]),
//! `mmap_lock` and `mm_lock_seq`; the slab caches every scheme allocates from
//! ([`slab::KmemCache`] with per-CPU sheaves and a barn, over the
//! [`page::PageAllocator`]); `lock_vma_under_rcu`, the fault and the writers
//! ([`space::Space`]), generic over a [`scheme::Scheme`] (how a fault's walk is
//! protected and what happens to a removed VMA or a replaced index node); the
//! grace-period probes ([`gp`]); the [`hook`] points a test or an adversarial
//! run can step in at; the per-thread [`counters`]; and [`lookup::VmaLookup`],
//! what the driver, the benchmarks and the tests drive.
//!
//! No I/O and no system calls of its own: the model imports only itself,
//! [`crate::rcu`] (`call_rcu`'s `rcu_head`), [`crate::sync`], [`crate::rng`] and
//! [`crate::clock`]; it reads the clock (latency samples, grace-period probes,
//! a broken twin's writer giving up), yields the CPU while a writer waits, and
//! takes its page arenas from the global allocator.

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
