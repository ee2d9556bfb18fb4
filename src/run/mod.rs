//! Running: the driver, one run, the sweep, the real kernel and the host.
//!
//! [`driver::drive`] runs any `VmaLookup` on a pool of worker threads and sums
//! their counters; [`spec::run_spec`] makes one run of a named scheme (a model
//! through the registry, or the real kernel) and turns it into the output
//! layer's `Row`; [`sweep`] runs every point of a grid and writes the CSV and
//! its JSON. [`kernel`] is the real kernel behind `VmaLookup`, over the
//! system-call layer `sys` (the run layer's only `unsafe`); [`host`] reads what
//! the machine says about itself (`/proc`, `/sys`, `getrusage`).
//!
//! The run layer imports the model, the schemes, the RCU flavours' settings,
//! the output layer (the row and the metadata it writes), the error type, the
//! file writer, the clock and the generator. The names a [`spec::RunSpec`] is
//! made of that live below it (a scheme's policy, flavour and id, a layout, a
//! fault's work, the flavours' settings, and whether the urcu flavours are
//! built) are re-exported here, so the command line speaks to this layer alone.

mod config;
pub mod driver;
pub mod floor;
pub mod host;
pub mod kernel;
pub mod latency;
pub mod spec;
pub mod sweep;
mod sys;
pub mod timeline;
mod worker;

pub use crate::model::mm::Layout;
pub use crate::model::space::FaultWork;
pub use crate::rcu::{urcu_missing, RcuSettings};
pub use crate::schemes::{Flavour, Policy, SchemeId};
