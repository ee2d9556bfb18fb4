//! The schemes, one file each, and the registry that names them.

pub mod hazard;
pub mod leak;
pub mod rcu_epoch;
pub mod rcu_seize;
pub mod rwlock;
pub mod typesafe;

pub use hazard::Hazard;
pub use leak::Leak;
pub use rcu_epoch::RcuEpoch;
pub use rcu_seize::RcuSeize;
pub use rwlock::Rwlock;
pub use typesafe::Typesafe;

use crate::model::scheme::Scheme;

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
    /// The real kernel of this machine ([`crate::linux::Linux`]): not a model, so
    /// [`SchemeId::visit`] has no type for it.
    Linux,
    /// Broken twin N6.
    TypesafeNoMmCheck,
    /// Broken twin N1.
    TypesafeDupCopiesRefcnt,
    /// Broken twin N2.
    TypesafeFreeAttached,
    /// Broken twin N3.
    TypesafeDetachNoWait,
    /// Broken twin N8.
    TypesafePutOnRetry,
    /// Broken twin N10.
    TypesafeMmUnpinned,
    /// Broken twin N13.
    TypesafeNoAddrCheck,
    /// Broken twin N7.
    TypesafeSeqOfVmaMm,
    /// Broken twin N9.
    TypesafeFreeResetsSeq,
}

/// Something done with a scheme's type, chosen at run time by [`SchemeId::visit`].
pub trait Visit {
    /// What it returns.
    type Out;
    /// Do it with scheme `S`.
    fn visit<S: Scheme + Default>(self) -> Self::Out;
}

impl SchemeId {
    /// All schemes: the correct models, the real kernel, then the broken twins.
    pub const ALL: [SchemeId; 16] = [
        SchemeId::Rwlock,
        SchemeId::RcuEpoch,
        SchemeId::RcuSeize,
        SchemeId::Typesafe,
        SchemeId::Hazard,
        SchemeId::Leak,
        SchemeId::Linux,
        SchemeId::TypesafeNoMmCheck,
        SchemeId::TypesafeDupCopiesRefcnt,
        SchemeId::TypesafeFreeAttached,
        SchemeId::TypesafeDetachNoWait,
        SchemeId::TypesafePutOnRetry,
        SchemeId::TypesafeMmUnpinned,
        SchemeId::TypesafeNoAddrCheck,
        SchemeId::TypesafeSeqOfVmaMm,
        SchemeId::TypesafeFreeResetsSeq,
    ];

    /// The correct model schemes.
    pub fn correct() -> impl Iterator<Item = SchemeId> {
        Self::ALL
            .into_iter()
            .filter(|s| !s.is_twin() && *s != SchemeId::Linux)
    }

    /// The default sweep's schemes: the correct models, and `linux` where
    /// [`crate::linux::available`] says this system can run it (else the reason it
    /// cannot, to print as a note).
    pub fn default_sweep() -> (Vec<SchemeId>, Option<String>) {
        let mut out: Vec<_> = Self::correct().collect();
        match crate::linux::available() {
            Ok(()) => {
                out.push(SchemeId::Linux);
                (out, None)
            }
            Err(why) => (out, Some(format!("skipping the linux scheme: {why}"))),
        }
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
        use typesafe::{
            Correct, DetachNoWait, DupCopiesRefcnt, FreeAttached, FreeResetsSeq, MmUnpinned,
            NoAddrCheck, NoMmCheck, PutOnRetry, SeqOfVmaMm,
        };
        Some(match self {
            SchemeId::Rwlock => v.visit::<Rwlock>(),
            SchemeId::RcuEpoch => v.visit::<RcuEpoch>(),
            SchemeId::RcuSeize => v.visit::<RcuSeize>(),
            SchemeId::Typesafe => v.visit::<Typesafe<Correct>>(),
            SchemeId::Hazard => v.visit::<Hazard>(),
            SchemeId::Leak => v.visit::<Leak>(),
            SchemeId::TypesafeNoMmCheck => v.visit::<Typesafe<NoMmCheck>>(),
            SchemeId::TypesafeDupCopiesRefcnt => v.visit::<Typesafe<DupCopiesRefcnt>>(),
            SchemeId::TypesafeFreeAttached => v.visit::<Typesafe<FreeAttached>>(),
            SchemeId::TypesafeDetachNoWait => v.visit::<Typesafe<DetachNoWait>>(),
            SchemeId::TypesafePutOnRetry => v.visit::<Typesafe<PutOnRetry>>(),
            SchemeId::TypesafeMmUnpinned => v.visit::<Typesafe<MmUnpinned>>(),
            SchemeId::TypesafeNoAddrCheck => v.visit::<Typesafe<NoAddrCheck>>(),
            SchemeId::TypesafeSeqOfVmaMm => v.visit::<Typesafe<SeqOfVmaMm>>(),
            SchemeId::TypesafeFreeResetsSeq => v.visit::<Typesafe<FreeResetsSeq>>(),
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
        matches!(
            self,
            SchemeId::TypesafeNoMmCheck
                | SchemeId::TypesafeDupCopiesRefcnt
                | SchemeId::TypesafeFreeAttached
                | SchemeId::TypesafeDetachNoWait
                | SchemeId::TypesafePutOnRetry
                | SchemeId::TypesafeMmUnpinned
                | SchemeId::TypesafeNoAddrCheck
                | SchemeId::TypesafeSeqOfVmaMm
                | SchemeId::TypesafeFreeResetsSeq
        )
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
            SchemeId::TypesafeNoMmCheck => "BROKEN twin of typesafe (N6): no vma->vm_mm == mm check",
            SchemeId::TypesafeDupCopiesRefcnt => {
                "BROKEN twin of typesafe (N1): vm_area_dup copies the attached refcount"
            }
            SchemeId::TypesafeFreeAttached => {
                "BROKEN twin of typesafe (N2): a VMA is freed still attached (refcnt 1)"
            }
            SchemeId::TypesafeDetachNoWait => {
                "BROKEN twin of typesafe (N3): detach does not wait for readers"
            }
            SchemeId::TypesafePutOnRetry => {
                "BROKEN twin of typesafe (N8): a put without a get on the detached/retry path"
            }
            SchemeId::TypesafeMmUnpinned => {
                "BROKEN twin of typesafe (N10): wakes the other mm's writer without pinning it (needs --exits)"
            }
            SchemeId::TypesafeNoAddrCheck => {
                "BROKEN twin of typesafe (N13): no address check after locking"
            }
            SchemeId::TypesafeSeqOfVmaMm => {
                "BROKEN twin of typesafe (N7): lock checks against vma->vm_mm's sequence, not the caller's mm"
            }
            SchemeId::TypesafeFreeResetsSeq => {
                "BROKEN twin of typesafe (N9): the free path resets lock_seq before readers drain"
            }
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
