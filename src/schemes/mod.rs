//! The schemes, one file each, and the registry that names them.
//!
//! A scheme implements the model's `Scheme` trait: how the index is read and what
//! happens to a removed VMA's memory. [`SchemeId`] names every scheme the command
//! line knows: the correct models, the real kernel (`linux`, which is not a model:
//! the run layer drives it) and the broken twins of `typesafe` ([`twins`]). The
//! schemes do no I/O and make no system calls.

pub mod hazard;
pub mod leak;
pub mod rcu_epoch;
pub mod rcu_seize;
pub mod rwlock;
pub mod twins;
pub mod typesafe;

pub use hazard::Hazard;
pub use leak::Leak;
pub use rcu_epoch::RcuEpoch;
pub use rcu_seize::RcuSeize;
pub use rwlock::Rwlock;
pub use twins::Twin;
pub use typesafe::Typesafe;

use crate::model::scheme::{Scheme, Visit};

/// Every scheme the command line knows, correct ones first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SchemeId {
    /// [`Rwlock`].
    Rwlock,
    /// [`RcuEpoch`].
    RcuEpoch,
    /// [`RcuSeize`].
    RcuSeize,
    /// [`Typesafe`] (correct).
    Typesafe,
    /// [`Hazard`].
    Hazard,
    /// [`Leak`].
    Leak,
    /// The real kernel of this machine (the run layer's `kernel` backend): not a
    /// model, so [`SchemeId::visit`] has no type for it.
    Linux,
    /// A broken twin of `typesafe` (never in the default sweep).
    Twin(Twin),
}

impl SchemeId {
    /// The schemes that are not twins: the correct models, then the real kernel.
    const UNBROKEN: [SchemeId; 7] = [
        SchemeId::Rwlock,
        SchemeId::RcuEpoch,
        SchemeId::RcuSeize,
        SchemeId::Typesafe,
        SchemeId::Hazard,
        SchemeId::Leak,
        SchemeId::Linux,
    ];

    /// All schemes: the correct models, the real kernel, then the broken twins in
    /// the order of their table.
    pub const ALL: [SchemeId; Self::UNBROKEN.len() + Twin::ALL.len()] = {
        let mut all = [SchemeId::Rwlock; Self::UNBROKEN.len() + Twin::ALL.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = if i < Self::UNBROKEN.len() {
                Self::UNBROKEN[i]
            } else {
                SchemeId::Twin(Twin::ALL[i - Self::UNBROKEN.len()])
            };
            i += 1;
        }
        all
    };

    /// The correct model schemes.
    pub fn correct() -> impl Iterator<Item = SchemeId> {
        Self::ALL
            .into_iter()
            .filter(|s| !s.is_twin() && *s != SchemeId::Linux)
    }

    /// The address spaces this scheme runs with when `wanted` are asked for: the
    /// real kernel always has 1 (one process is one mm), a model has `wanted`.
    pub fn mms(self, wanted: usize) -> usize {
        if self.is_kernel() {
            1
        } else {
            wanted
        }
    }

    /// Whether this is the real kernel rather than a model.
    pub fn is_kernel(self) -> bool {
        self == SchemeId::Linux
    }

    /// Run `v` with this scheme's type; None for `linux`, which is not a model.
    pub fn visit<V: Visit>(self, v: V) -> Option<V::Out> {
        Some(match self {
            SchemeId::Rwlock => v.visit::<Rwlock>(),
            SchemeId::RcuEpoch => v.visit::<RcuEpoch>(),
            SchemeId::RcuSeize => v.visit::<RcuSeize>(),
            SchemeId::Typesafe => v.visit::<Typesafe>(),
            SchemeId::Hazard => v.visit::<Hazard>(),
            SchemeId::Leak => v.visit::<Leak>(),
            SchemeId::Twin(twin) => twin.visit(v),
            SchemeId::Linux => return None,
        })
    }

    /// The name on the command line and in the CSV.
    pub fn name(self) -> &'static str {
        struct Name;
        impl Visit for Name {
            type Out = &'static str;
            fn visit<S: Scheme + Default>(self) -> &'static str {
                S::NAME
            }
        }
        self.visit(Name).unwrap_or("linux")
    }

    /// The scheme with this name.
    pub fn parse(name: &str) -> Option<SchemeId> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether this is a broken twin (never in the default sweep).
    pub fn is_twin(self) -> bool {
        matches!(self, SchemeId::Twin(_))
    }

    /// One line saying what the scheme is.
    pub fn about(self) -> &'static str {
        match self {
            SchemeId::Rwlock => "every fault holds the mm-wide lock for read (Linux before 6.4)",
            SchemeId::RcuEpoch => "per-VMA lock; call_rcu-style deferred free with crossbeam-epoch",
            SchemeId::RcuSeize => "per-VMA lock; call_rcu-style deferred free with seize",
            SchemeId::Typesafe => {
                "per-VMA lock; SLAB_TYPESAFE_BY_RCU: type-stable pool, reuse at once, validate after locking (Linux 6.15+)"
            }
            SchemeId::Hazard => "per-VMA lock; hazard pointers (haphazard) cover find + lock",
            SchemeId::Leak => "per-VMA lock; never frees: the no-reclamation ceiling",
            SchemeId::Linux => {
                "the real kernel of this machine: real faults, MAP_FIXED churn (one mm; Linux only)"
            }
            SchemeId::Twin(twin) => twin.about(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for s in SchemeId::ALL {
            assert_eq!(SchemeId::parse(s.name()), Some(s));
        }
        let mut names: Vec<_> = SchemeId::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SchemeId::ALL.len());
        assert_eq!(SchemeId::correct().count(), 6);
        assert!(SchemeId::correct().all(|s| !s.is_twin() && !s.is_kernel()));
        let twins = SchemeId::ALL.iter().filter(|s| s.is_twin());
        assert!(twins.clone().all(|s| s.name().starts_with("typesafe-")));
        assert_eq!(twins.count(), SchemeId::ALL.len() - 7);
    }
}
