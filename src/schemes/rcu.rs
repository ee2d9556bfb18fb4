//! The two schemes over an RCU flavour, as the kernel has them before and after
//! "mm: make vma cache SLAB_TYPESAFE_BY_RCU":
//!
//! - `deferred` (call_rcu-style deferred free, Linux 6.4 to 6.14): each removed
//!   VMA is one `call_rcu()`, freed into its cache after a grace period;
//! - `typesafe` (SLAB_TYPESAFE_BY_RCU, Linux 6.15+): a removed VMA goes back to
//!   its cache at once and may be reused at once, by any mm, while an old reader
//!   still holds a pointer to it; readers detect reuse after locking (the
//!   detached, address and mm checks), and only an emptied slab waits for a
//!   grace period (one `call_rcu()` per slab).
//!
//! In both, faults walk the index inside the flavour's read section (maple-tree
//! nodes are freed through RCU in every version), and each replaced node is one
//! `call_rcu()`. The broken twins are `typesafe` with one [`Mistake`] compiled in
//! ([`Variant::MISTAKE`], the table in `twins.rs`); they share every other line.

use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::model::index::{Node, Protect};
use crate::model::scheme::{Free, Scheme};
use crate::model::vma::Mistake;
use crate::rcu::{Deferrable, Rcu, RcuSettings};
use crate::sync::atomic::AtomicPtr;

/// Which scheme over the flavour: `deferred`, `typesafe`, or a broken twin.
pub trait Variant: Send + Sync + 'static {
    /// The scheme's name.
    const NAME: &'static str;
    /// The mistake compiled in.
    const MISTAKE: Mistake;
    /// Whether the VMA cache is SLAB_TYPESAFE_BY_RCU (VMAs freed at once).
    const TYPESAFE: bool = true;
}

/// `typesafe`, the correct protocol.
#[derive(Debug)]
pub struct Correct;
impl Variant for Correct {
    const NAME: &'static str = "typesafe";
    const MISTAKE: Mistake = Mistake::None;
}

/// `deferred`: one `call_rcu()` per removed VMA.
#[derive(Debug)]
pub struct CallRcu;
impl Variant for CallRcu {
    const NAME: &'static str = "deferred";
    const MISTAKE: Mistake = Mistake::None;
    const TYPESAFE: bool = false;
}

/// A scheme over the RCU flavour `R`.
pub struct RcuScheme<R: Rcu, V: Variant> {
    rcu: R,
    _variant: PhantomData<V>,
}

/// `deferred` over `R`.
pub type Deferred<R> = RcuScheme<R, CallRcu>;
/// `typesafe` (or a twin, `V`) over `R`.
pub type Typesafe<R, V = Correct> = RcuScheme<R, V>;

impl<R: Rcu, V: Variant> RcuScheme<R, V> {
    /// The flavour.
    pub fn rcu(&self) -> &R {
        &self.rcu
    }
}

/// A read section of flavour `R`: the walk loads with the flavour's ordering
/// inside it ([`Rcu::LOAD`]: Acquire, or SeqCst for seize).
pub struct RcuSection<'a, R: Rcu + 'a>(R::Read<'a>);

impl<'a, R: Rcu + 'a> Protect for RcuSection<'a, R> {
    #[inline]
    fn node(&mut self, src: &AtomicPtr<u8>, _: Option<&Node>, _: usize) -> Option<*mut u8> {
        // R::LOAD (at least Acquire): pairs with the Release store that published
        // the node; nothing to validate, as in `RcuWalk`.
        Some(src.load(R::LOAD))
    }
    #[inline]
    fn entry(&mut self, src: &AtomicPtr<u8>, _: &Node) -> Option<*mut u8> {
        // R::LOAD: pairs with the Release store of the entry.
        Some(src.load(R::LOAD))
    }
}

// SAFETY: a walk loads inside the flavour's read section, and every VMA and node
// a walk can reach is freed only through `call_rcu`, after every section that
// began before its removal (Rcu promise 1): (1), (2). A typesafe VMA freed at
// once stays a `Vma` in its SLAB_TYPESAFE_BY_RCU cache, whose slabs go back only
// through `call_rcu` (3). Nodes are always deferred (4).
unsafe impl<R: Rcu, V: Variant> Scheme for RcuScheme<R, V> {
    const NAME: &'static str = V::NAME;
    const RCU: &'static str = R::NAME;
    const MISTAKE: Mistake = V::MISTAKE;
    const GP_BETWEEN_SECTIONS: bool = R::GP_BETWEEN_SECTIONS;
    const TYPESAFE: bool = V::TYPESAFE;
    const VMA_FREE: Free = if V::TYPESAFE {
        Free::Now
    } else {
        Free::Deferred
    };
    const NODE_FREE: Free = Free::Deferred;
    type Local<'a> = R::Thread<'a>;
    type Section<'a> = RcuSection<'a, R>;

    fn new(settings: &RcuSettings) -> Self {
        RcuScheme {
            rcu: R::new(settings),
            _variant: PhantomData,
        }
    }
    fn local(&self) -> R::Thread<'_> {
        self.rcu.register()
    }
    #[inline]
    fn enter<'a>(&'a self, local: &mut R::Thread<'a>) -> Self::Section<'a> {
        RcuSection(self.rcu.read_lock(local))
    }
    #[inline]
    fn leave<'a>(&'a self, local: &mut R::Thread<'a>, section: Self::Section<'a>) {
        self.rcu.read_unlock(local, section.0);
    }
    #[inline]
    fn quiescent<'a>(&'a self, local: &mut R::Thread<'a>) {
        self.rcu.quiescent(local);
    }
    unsafe fn defer<'a, T: Deferrable>(&'a self, local: &mut R::Thread<'a>, obj: NonNull<T>) {
        // SAFETY: the caller's promise 1 is the flavour's caller promise 1.
        unsafe { self.rcu.call_rcu(local, obj) };
    }
}
