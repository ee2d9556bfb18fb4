//! # vma-bench
//!
//! A benchmark and comparison harness for memory-reclamation schemes, built around
//! one question from the Linux kernel: how should a page fault find and lock its
//! VMA while other threads `mmap` and `munmap`?
//!
//! The model ([`space`], [`vma`]) is the per-VMA lock of Linux 6.15 and
//! `lock_vma_under_rcu`, written once and generic over a [`Scheme`]: how the index
//! is read and how removed VMAs are freed. The schemes ([`schemes`]) are
//! call_rcu-style deferred free (crossbeam-epoch, seize), SLAB_TYPESAFE_BY_RCU
//! type-stable reuse, hazard pointers (haphazard), a plain mm-wide rwlock and no
//! reclamation at all. Every fault checks its own answer, so every run reports
//! wrong answers next to throughput.
//!
//! [`VmaLookup`] is the trait the [`driver`], the benchmarks and the tests drive.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod boxed;
pub mod cli;
pub mod counters;
pub mod driver;
pub mod hook;
pub mod linux;
pub mod lookup;
pub mod meta;
pub mod plot;
pub mod pool;
pub mod rcu;
pub mod report;
pub mod results;
pub mod rng;
pub mod run;
pub mod scheme;
pub mod schemes;
pub mod space;
pub mod stats;
pub mod sweep;
pub mod sync;
pub mod vma;

pub use driver::{drive, Limit, RunConfig, RunResult, Skew};
pub use lookup::VmaLookup;
pub use run::{run_row, run_spec, Row, RunSpec};
pub use scheme::Scheme;
pub use schemes::SchemeId;
pub use space::{Layout, MapKind, Space};
