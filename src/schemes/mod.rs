//! The schemes, one file each, the RCU flavours they run over, and the
//! registry that names them.
//!
//! A scheme is a free policy ([`Policy`]) and, for the policies that read the
//! index under RCU, an RCU flavour ([`Flavour`]): [`SchemeId`] is the pair. The
//! policies are `rwlock` (the pre-6.4 kernel), `deferred` (call_rcu per removed
//! VMA, 6.4 to 6.14), `typesafe` (SLAB_TYPESAFE_BY_RCU, 6.15+), `hazard`
//! (hazard pointers), `leak` (no reclamation: the ceiling), the real kernel
//! (`linux`, which is not a model: the run layer drives it) and the broken twins
//! of `typesafe` ([`twins`]). The schemes do no I/O and make no system calls.

pub mod hazard;
pub mod leak;
pub mod rcu;
pub mod rwlock;
pub mod twins;

pub use hazard::Hazard;
pub use leak::Leak;
pub use rcu::{Deferred, Typesafe};
pub use rwlock::Rwlock;
pub use twins::Twin;

use crate::model::scheme::Visit;
use crate::rcu::Rcu;

/// An RCU flavour a `deferred` or `typesafe` scheme reads and frees under.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flavour {
    /// crossbeam-epoch: a pin (a full fence) per fault.
    Epoch,
    /// seize: an `enter` per fault; batches of retired objects.
    Seize,
    /// liburcu's memb flavour: a per-thread nesting counter on the read side,
    /// `membarrier` on the writer's (like a preemptible kernel).
    UrcuMemb,
    /// liburcu's QSBR flavour: no read-side cost; each worker reports a
    /// quiescent state every so many operations (like a non-preemptible kernel).
    UrcuQsbr,
}

/// Something done with a flavour's type (see [`Flavour::with`]).
pub trait WithRcu {
    /// What it returns.
    type Out;
    /// Do it with flavour `R`.
    fn with<R: Rcu>(self) -> Self::Out;
}

impl Flavour {
    /// Every flavour, the most kernel-like last.
    pub const ALL: [Flavour; 4] = [
        Flavour::Epoch,
        Flavour::Seize,
        Flavour::UrcuMemb,
        Flavour::UrcuQsbr,
    ];

    /// Its name (`--rcu`, the CSV's `rcu` column).
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Epoch => "epoch",
            Flavour::Seize => "seize",
            Flavour::UrcuMemb => "urcu-memb",
            Flavour::UrcuQsbr => "urcu-qsbr",
        }
    }

    /// The flavour with this name.
    pub fn parse(name: &str) -> Option<Flavour> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether this build has it (the urcu flavours need liburcu at build time).
    pub fn available(self) -> bool {
        match self {
            Flavour::Epoch | Flavour::Seize => true,
            Flavour::UrcuMemb | Flavour::UrcuQsbr => crate::rcu::urcu_missing().is_none(),
        }
    }

    /// Why it is not available (None if it is).
    pub fn missing(self) -> Option<&'static str> {
        if self.available() {
            None
        } else {
            crate::rcu::urcu_missing()
        }
    }

    /// The flavour closest to the kernel's RCU that this build has: `urcu-qsbr`,
    /// else `epoch`.
    pub fn most_kernel_like() -> Flavour {
        if Flavour::UrcuQsbr.available() {
            Flavour::UrcuQsbr
        } else {
            Flavour::Epoch
        }
    }

    /// The question each flavour answers.
    pub fn about(self) -> &'static str {
        match self {
            Flavour::Epoch => {
                "crossbeam-epoch, a pin (full fence) per fault: what the crate the Rust world uses costs"
            }
            Flavour::Seize => {
                "seize, an enter per fault and batched retires: a modern Rust reclaimer's cost"
            }
            Flavour::UrcuMemb => {
                "liburcu memb: read-side nesting counter, membarrier for writers (a preemptible kernel)"
            }
            Flavour::UrcuQsbr => {
                "liburcu QSBR: free read side, quiescent states between operations (a non-preemptible kernel)"
            }
        }
    }

    /// Run `w` with this flavour's type; None if this build lacks it.
    pub fn with<W: WithRcu>(self, w: W) -> Option<W::Out> {
        Some(match self {
            Flavour::Epoch => w.with::<crate::rcu::Epoch>(),
            Flavour::Seize => w.with::<crate::rcu::Seize>(),
            #[cfg(vma_bench_urcu)]
            Flavour::UrcuMemb => w.with::<crate::rcu::UrcuMemb>(),
            #[cfg(vma_bench_urcu)]
            Flavour::UrcuQsbr => w.with::<crate::rcu::UrcuQsbr>(),
            #[cfg(not(vma_bench_urcu))]
            Flavour::UrcuMemb | Flavour::UrcuQsbr => return None,
        })
    }
}

/// A free policy: what happens to a removed VMA (and how faults read the index).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// [`Rwlock`].
    Rwlock,
    /// [`Deferred`].
    Deferred,
    /// [`Typesafe`] (correct).
    Typesafe,
    /// [`Hazard`].
    Hazard,
    /// [`Leak`].
    Leak,
    /// The real kernel of this machine (the run layer's `kernel` backend).
    Linux,
    /// A broken twin of `typesafe` (never in the default sweep).
    Twin(Twin),
}

impl Policy {
    /// The policies that are not twins: the correct models, then the real kernel.
    const UNBROKEN: [Policy; 6] = [
        Policy::Rwlock,
        Policy::Deferred,
        Policy::Typesafe,
        Policy::Hazard,
        Policy::Leak,
        Policy::Linux,
    ];

    /// All policies: the correct models, the real kernel, then the twins in the
    /// order of their table.
    pub const ALL: [Policy; Self::UNBROKEN.len() + Twin::ALL.len()] = {
        let mut all = [Policy::Rwlock; Self::UNBROKEN.len() + Twin::ALL.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = if i < Self::UNBROKEN.len() {
                Self::UNBROKEN[i]
            } else {
                Policy::Twin(Twin::ALL[i - Self::UNBROKEN.len()])
            };
            i += 1;
        }
        all
    };

    /// Its name (`--scheme`, the CSV's `scheme` column).
    pub fn name(self) -> &'static str {
        match self {
            Policy::Rwlock => "rwlock",
            Policy::Deferred => "deferred",
            Policy::Typesafe => "typesafe",
            Policy::Hazard => "hazard",
            Policy::Leak => "leak",
            Policy::Linux => "linux",
            Policy::Twin(t) => t.name(),
        }
    }

    /// The policy with this name.
    pub fn parse(name: &str) -> Option<Policy> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether it reads and frees under an RCU flavour.
    pub fn uses_rcu(self) -> bool {
        matches!(self, Policy::Deferred | Policy::Typesafe | Policy::Twin(_))
    }

    /// One line saying what it is.
    pub fn about(self) -> &'static str {
        match self {
            Policy::Rwlock => "every fault holds the mm-wide lock for read (Linux before 6.4)",
            Policy::Deferred => {
                "per-VMA lock; one call_rcu per removed VMA, freed into the slab cache after a grace period (Linux 6.4-6.14)"
            }
            Policy::Typesafe => {
                "per-VMA lock; SLAB_TYPESAFE_BY_RCU: freed VMAs reused at once, validated after locking; only emptied slabs wait (Linux 6.15+)"
            }
            Policy::Hazard => {
                "per-VMA lock; hazard pointers (haphazard) on every node of the walk and on the VMA"
            }
            Policy::Leak => "per-VMA lock; never frees, no read section: the no-reclamation ceiling",
            Policy::Linux => {
                "the real kernel of this machine: real faults, MAP_FIXED or munmap+mmap churn (one mm; Linux only)"
            }
            Policy::Twin(t) => t.about(),
        }
    }
}

/// A scheme: a free policy, and the RCU flavour it runs over if it uses one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SchemeId {
    /// The free policy.
    pub policy: Policy,
    /// The flavour (Some exactly when the policy uses RCU).
    pub rcu: Option<Flavour>,
}

impl SchemeId {
    /// The pair, if it is valid: a flavour exactly for the policies that use one.
    pub fn new(policy: Policy, rcu: Option<Flavour>) -> Option<SchemeId> {
        (policy.uses_rcu() == rcu.is_some()).then_some(SchemeId { policy, rcu })
    }

    /// `policy` over the most kernel-like flavour if it uses one.
    pub fn kernel_like(policy: Policy) -> SchemeId {
        SchemeId {
            policy,
            rcu: policy.uses_rcu().then(Flavour::most_kernel_like),
        }
    }

    /// Every valid pair, twins included, flavours this build lacks included.
    pub fn all() -> impl Iterator<Item = SchemeId> {
        Policy::ALL.into_iter().flat_map(|p| {
            let flavours: Vec<Option<Flavour>> = if p.uses_rcu() {
                Flavour::ALL.into_iter().map(Some).collect()
            } else {
                vec![None]
            };
            flavours
                .into_iter()
                .map(move |rcu| SchemeId { policy: p, rcu })
        })
    }

    /// The correct model schemes over every flavour this build has.
    pub fn correct() -> impl Iterator<Item = SchemeId> {
        Self::all().filter(|s| !s.is_twin() && !s.is_kernel() && s.runnable())
    }

    /// Whether this build has its flavour (always, for a policy without one).
    pub fn runnable(self) -> bool {
        self.rcu.map_or(true, Flavour::available)
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
        self.policy == Policy::Linux
    }

    /// Whether this is a broken twin (never in the default sweep).
    pub fn is_twin(self) -> bool {
        matches!(self.policy, Policy::Twin(_))
    }

    /// The policy's name (the CSV's `scheme` column).
    pub fn name(self) -> &'static str {
        self.policy.name()
    }

    /// The flavour's name, or `none` (the CSV's `rcu` column).
    pub fn rcu_name(self) -> &'static str {
        self.rcu.map_or("none", Flavour::name)
    }

    /// `policy/flavour` (or the policy alone): how plots and tables name it.
    pub fn label(self) -> String {
        match self.rcu {
            Some(f) => format!("{}/{}", self.name(), f.name()),
            None => self.name().to_string(),
        }
    }

    /// The scheme a label names (`typesafe/urcu-qsbr`, `rwlock`).
    pub fn parse_label(label: &str) -> Option<SchemeId> {
        let (p, f) = match label.split_once('/') {
            Some((p, f)) => (p, Some(Flavour::parse(f)?)),
            None => (label, None),
        };
        SchemeId::new(Policy::parse(p)?, f)
    }

    /// One line saying what it is.
    pub fn about(self) -> String {
        match self.rcu {
            Some(f) => format!("{} (RCU: {})", self.policy.about(), f.about()),
            None => self.policy.about().to_string(),
        }
    }

    /// Run `v` with this scheme's type; None for `linux` (not a model) and for a
    /// flavour this build lacks.
    pub fn visit<V: Visit>(self, v: V) -> Option<V::Out> {
        struct Over<V>(Policy, V);
        impl<V: Visit> WithRcu for Over<V> {
            type Out = V::Out;
            fn with<R: Rcu>(self) -> V::Out {
                match self.0 {
                    Policy::Deferred => self.1.visit::<Deferred<R>>(),
                    Policy::Typesafe => self.1.visit::<Typesafe<R>>(),
                    Policy::Twin(t) => t.visit::<R, V>(self.1),
                    _ => unreachable!("a policy over RCU"),
                }
            }
        }
        match (self.policy, self.rcu) {
            (Policy::Rwlock, _) => Some(v.visit::<Rwlock>()),
            (Policy::Hazard, _) => Some(v.visit::<Hazard>()),
            (Policy::Leak, _) => Some(v.visit::<Leak>()),
            (Policy::Linux, _) => None,
            (p, Some(f)) => f.with(Over(p, v)),
            (_, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::scheme::{label_of, Scheme};

    #[test]
    fn labels_round_trip_and_are_unique() {
        let all: Vec<SchemeId> = SchemeId::all().collect();
        for s in &all {
            assert_eq!(SchemeId::parse_label(&s.label()), Some(*s));
        }
        let mut labels: Vec<_> = all.iter().map(|s| s.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), all.len());
        // 3 policies without a flavour, linux, and (deferred, typesafe, twins) x 4.
        assert_eq!(all.len(), 4 + (2 + Twin::ALL.len()) * Flavour::ALL.len());
        assert!(SchemeId::correct().all(|s| !s.is_twin() && !s.is_kernel()));
        assert!(SchemeId::new(Policy::Rwlock, Some(Flavour::Epoch)).is_none());
        assert!(SchemeId::new(Policy::Typesafe, None).is_none());
    }

    /// The type a registry entry visits carries the entry's own names.
    #[test]
    fn visit_reaches_the_type_the_label_names() {
        struct Label;
        impl Visit for Label {
            type Out = String;
            fn visit<S: Scheme>(self) -> String {
                label_of::<S>()
            }
        }
        for s in SchemeId::all() {
            match s.visit(Label) {
                Some(l) => assert_eq!(l, s.label()),
                None => assert!(s.is_kernel() || !s.runnable()),
            }
        }
    }
}
