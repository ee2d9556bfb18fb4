//! `typesafe`: SLAB_TYPESAFE_BY_RCU. A freed VMA goes straight back to a
//! type-stable pool and may be reused at once, by any mm, while an old reader
//! still holds a pointer to it; readers detect reuse after locking (detached,
//! address and mm checks).
//!
//! The broken twins (`twins.rs`) are this same scheme with one mistake compiled
//! in ([`Variant::MISTAKE`]); they share every line with it.

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::AtomicPtr;

use crate::model::boxed::std_find;
use crate::model::counters::{count_freed, Counters};
use crate::model::pool::{Cache, Pool};
use crate::model::scheme::Scheme;
use crate::model::vma::{Mistake, Vma};

/// Which protocol the typesafe scheme runs: the correct one or a broken twin.
pub trait Variant: Send + Sync + 'static {
    /// The scheme's name.
    const NAME: &'static str;
    /// The mistake compiled in.
    const MISTAKE: Mistake;
}

/// The correct protocol.
#[derive(Debug)]
pub struct Correct;
impl Variant for Correct {
    const NAME: &'static str = "typesafe";
    const MISTAKE: Mistake = Mistake::None;
}

/// Type-stable reuse over a [`Pool`].
pub struct Typesafe<V = Correct> {
    pool: Pool,
    _variant: PhantomData<V>,
}

impl<V> Default for Typesafe<V> {
    fn default() -> Self {
        Typesafe {
            pool: Pool::default(),
            _variant: PhantomData,
        }
    }
}

impl<V> Typesafe<V> {
    /// Objects the pool ever constructed.
    pub fn pool_objects(&self) -> usize {
        self.pool.objects()
    }
}

// SAFETY: the pool never releases memory while it lives, so every pointer ever
// stored in a slot stays a valid `Vma` for the scheme's life (1, 2); the pool
// returns detached objects (3); `publish` swaps with Release (4).
unsafe impl<V: Variant> Scheme for Typesafe<V> {
    const NAME: &'static str = V::NAME;
    const MISTAKE: Mistake = V::MISTAKE;
    type Slot = AtomicPtr<Vma>;
    type Local<'a> = Cache<'a>;
    type Section<'a> = ();

    fn local(&self) -> Cache<'_> {
        self.pool.cache()
    }
    #[inline]
    fn enter<'a>(&'a self, _local: &mut Cache<'a>) {}
    #[inline]
    fn find(_section: &mut (), slot: &Self::Slot) -> Option<NonNull<Vma>> {
        std_find(slot)
    }
    crate::model::boxed::std_slot_ops!();
    fn alloc(&self, local: &mut Cache<'_>) -> NonNull<Vma> {
        self.pool.alloc(local)
    }
    unsafe fn free(&self, local: &mut Cache<'_>, vma: NonNull<Vma>, _c: &Counters) {
        self.pool.free(local, vma);
        count_freed(1);
    }
    unsafe fn destroy(&self, _vma: NonNull<Vma>) {
        // The memory belongs to the pool's slabs, released when the pool drops.
    }
}
