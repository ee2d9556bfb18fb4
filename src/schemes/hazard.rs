//! `hazard`: hazard pointers with haphazard. A fault's walk protects each node it
//! enters and the VMA it finds with hazard pointers, hand over hand (two for
//! nodes, one for the VMA, which stays protected until the VMA's read lock is
//! taken), each validated against the node it was read from; removed VMAs and
//! replaced nodes are retired into a domain owned by the run. This is the honest
//! cost of hazard pointers on a tree: a full fence per level.

use std::ops::Deref;
use std::ptr::NonNull;

use haphazard::{raw::Pointer, Domain, HazardPointer};

use crate::model::index::{Node, Protect};
use crate::model::scheme::{Free, Scheme};
use crate::rcu::{Deferrable, RcuSettings};
use crate::sync::atomic::{fence, AtomicPtr, Ordering};

/// The domain family of this scheme's hazard pointers.
#[derive(Debug)]
pub struct Family;

/// An object as haphazard retires it (haphazard requires `Send`; a
/// `Deferrable` is freed from whichever thread runs its callback by design).
#[repr(transparent)]
pub struct Retired<T>(T);

// SAFETY: see the type's documentation: the object is only reclaimed, once,
// through `Deferrable::reclaim`, which may run on any thread.
unsafe impl<T> Send for Retired<T> {}

/// The owner haphazard drops a retired object through: its drop runs the
/// object's callback (which frees it into its cache).
pub struct Reclaim<T: Deferrable>(NonNull<Retired<T>>);

impl<T: Deferrable> Deref for Reclaim<T> {
    type Target = Retired<T>;
    fn deref(&self) -> &Retired<T> {
        // SAFETY: a `Reclaim` owns a retired, still allocated object until dropped.
        unsafe { self.0.as_ref() }
    }
}

impl<T: Deferrable> Drop for Reclaim<T> {
    fn drop(&mut self) {
        // SAFETY: haphazard drops the owner once, after no hazard pointer protects
        // the object, which was retired once.
        unsafe { T::reclaim(self.0.cast()) };
    }
}

// SAFETY: `into_raw` hands out the pointer, valid until `from_raw` takes it back
// (1, 2); `from_raw` wraps the pointer it was given once (3).
unsafe impl<T: Deferrable> Pointer<Retired<T>> for Reclaim<T> {
    fn into_raw(self) -> *mut Retired<T> {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
    unsafe fn from_raw(ptr: *mut Retired<T>) -> Self {
        Reclaim(NonNull::new(ptr).expect("haphazard passes back what it was given"))
    }
}

/// Hazard pointers over a domain owned by the run (drained when dropped).
pub struct Hazard {
    domain: Domain<Family>,
}

impl Default for Hazard {
    fn default() -> Self {
        Hazard {
            domain: Domain::new(&Family),
        }
    }
}

/// A thread's three hazard pointers: two for nodes (alternating by depth), one
/// for the VMA.
pub struct Hps<'a>([HazardPointer<'a, Family>; 3]);

/// A walk's protection: the thread's hazard pointers, taken out of its
/// `Local` for the section and put back by `leave`.
pub struct HazardSection<'a>(Hps<'a>);

impl HazardSection<'_> {
    /// Protect the pointer in `src` with hazard pointer `i`, validated against
    /// `src` (and against `holder` still being live); None: the holder was
    /// replaced, walk again.
    #[inline]
    fn protect(&mut self, i: usize, src: &AtomicPtr<u8>, holder: Option<&Node>) -> Option<*mut u8> {
        let hp = &mut self.0 .0[i];
        // Acquire: pairs with the Release store that published the pointer.
        let mut p = src.load(Ordering::Acquire);
        loop {
            hp.protect_raw(p);
            // SeqCst: the hazard pointer's store must be visible before we re-read
            // `src` and `holder`'s dead mark; pairs with the fence of haphazard's
            // reclamation scan, which the retiring writer runs after it replaced
            // the pointer and marked the holder dead.
            fence(Ordering::SeqCst);
            // Acquire: as the first load.
            let now = src.load(Ordering::Acquire);
            if now == p {
                break;
            }
            p = now;
        }
        if holder.is_some_and(Node::is_dead) {
            return None;
        }
        Some(p)
    }
}

impl Protect for HazardSection<'_> {
    #[inline]
    fn node(
        &mut self,
        src: &AtomicPtr<u8>,
        holder: Option<&Node>,
        depth: usize,
    ) -> Option<*mut u8> {
        self.protect(depth % 2, src, holder)
    }
    #[inline]
    fn entry(&mut self, src: &AtomicPtr<u8>, holder: &Node) -> Option<*mut u8> {
        self.protect(2, src, Some(holder))
    }
}

// SAFETY: a walk's loads are protected by hazard pointers of this domain, each
// validated after a SeqCst fence against its source slot and its holder's dead
// mark; a node is replaced (slot rewritten, then marked dead) and a VMA removed
// before either is retired into this domain, whose reclamation never frees an
// object a validated hazard pointer names: the node at depth d stays valid until
// the load at depth d + 2 (1), retired objects are freed once after that (2).
// Nothing is freed at once (3, 4).
unsafe impl Scheme for Hazard {
    const NAME: &'static str = "hazard";
    const RCU: &'static str = "none";
    const VMA_FREE: Free = Free::Deferred;
    const NODE_FREE: Free = Free::Deferred;
    type Local<'a> = Option<Hps<'a>>;
    type Section<'a> = HazardSection<'a>;

    fn new(_settings: &RcuSettings) -> Self {
        Hazard::default()
    }
    fn local(&self) -> Self::Local<'_> {
        Some(Hps(std::array::from_fn(|_| {
            HazardPointer::new_in_domain(&self.domain)
        })))
    }
    #[inline]
    fn enter<'a>(&'a self, local: &mut Self::Local<'a>) -> HazardSection<'a> {
        // Taken out for the section and put back by `leave`: a thread has one
        // section at a time, so it is always there.
        HazardSection(local.take().unwrap_or_else(|| {
            Hps(std::array::from_fn(|_| {
                HazardPointer::new_in_domain(&self.domain)
            }))
        }))
    }
    #[inline]
    fn leave<'a>(&'a self, local: &mut Self::Local<'a>, mut section: HazardSection<'a>) {
        for hp in &mut section.0 .0 {
            hp.reset_protection();
        }
        *local = Some(section.0);
    }
    unsafe fn defer<'a, T: Deferrable>(&'a self, _local: &mut Self::Local<'a>, obj: NonNull<T>) {
        // SAFETY: out of every slot a walk loads from (the caller's promise 1),
        // retired once; every load that could see it used this domain's hazard
        // pointers and was validated after it was published.
        unsafe {
            self.domain
                .retire_ptr::<Retired<T>, Reclaim<T>>(obj.cast::<Retired<T>>().as_ptr())
        };
    }
}
