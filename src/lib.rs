//! # vma-bench
//!
//! A benchmark and comparison harness for memory-reclamation schemes, built around
//! one question from the Linux kernel: how should a page fault find and lock its
//! VMA while other threads `mmap` and `munmap`?
//!
//! The model ([`model`]) is the per-VMA lock of Linux 6.15 and
//! `lock_vma_under_rcu` over a maple-like index and SLUB-like slab caches,
//! written once and generic over a [`Scheme`]: how a fault's walk of the index
//! is protected and how removed VMAs and replaced index nodes are freed. A
//! scheme ([`schemes`]) is a free policy (`rwlock`, `deferred` call_rcu,
//! `typesafe` SLAB_TYPESAFE_BY_RCU reuse, `hazard` pointers, `leak`) and, for
//! `deferred` and `typesafe`, an RCU flavour ([`rcu`]: crossbeam-epoch, seize,
//! liburcu's memb and QSBR). Every fault checks its own answer, so every run
//! reports wrong answers next to throughput.
//!
//! [`VmaLookup`] is the trait the [`run::driver`], the benchmarks and the tests drive.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod cli;
pub mod clock;
pub mod error;
pub mod files;
pub mod model;
pub mod output;
pub mod rcu;
pub mod rng;
pub mod run;
pub mod schemes;
pub mod sync;

pub use model::lookup::VmaLookup;
pub use model::mm::{Layout, MapKind};
pub use model::scheme::Scheme;
pub use model::space::{FaultWork, Space};
pub use output::row::Row;
pub use run::driver::{drive, ChurnKind, Limit, RunConfig, RunResult, Skew};
pub use run::spec::{run_row, run_spec, RunSpec};
pub use schemes::SchemeId;
