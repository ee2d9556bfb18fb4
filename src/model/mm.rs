//! An address space (`struct mm_struct`): its index, `mmap_lock`,
//! `mm_lock_seq` and lifetime, and the [`Layout`] every mm of a run shares.
//!
//! The index is a [`Tree`] that faults walk without `mmap_lock`. Beside it each
//! mm keeps the oracle's own record of which VMA maps each slot (`truth`),
//! written by the writers under `mmap_lock` and never read by the protocol: a
//! fault checks its answer against it, so a wrong answer is caught by a tally
//! independent of the index it came from.

use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use crate::model::index::{Shape, Tree};
use crate::model::vma::Vma;
use crate::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use crate::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Bytes of one mapping (each slot's VMA).
pub const REGION: u64 = 1 << 21;
/// Bytes from one slot's start to the next: its VMA, then a guard gap of
/// [`REGION`] bytes, as the `linux` scheme's regions have (real address spaces
/// have gaps between most mappings).
pub const STRIDE: u64 = 2 * REGION;
/// The first mapped address.
pub const BASE: u64 = 0x10_0000_0000;
/// Page size: fault addresses are page-aligned.
pub const PAGE: u64 = 4096;

/// How many mms and how many slots per mm.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Address spaces sharing the allocator.
    pub mms: usize,
    /// Mappings per address space.
    pub slots: usize,
}

impl Layout {
    /// `[start, end)` of slot `k`'s mapping: the same in every mm.
    pub fn range(&self, k: usize) -> (u64, u64) {
        let start = BASE + k as u64 * STRIDE;
        (start, start + REGION)
    }

    /// The slot whose mapping covers `addr`, if any (None in a gap).
    #[inline]
    pub fn slot_of(&self, addr: u64) -> Option<usize> {
        let off = addr.checked_sub(BASE)?;
        let k = off / STRIDE;
        (k < self.slots as u64 && off % STRIDE < REGION).then_some(k as usize)
    }

    /// Page `page` (taken modulo the pages of a mapping) of slot `k`.
    #[inline]
    pub fn addr(&self, k: usize, page: u64) -> u64 {
        self.range(k).0 + (page % (REGION / PAGE)) * PAGE
    }

    /// The index's shape for this layout.
    pub fn shape(&self) -> Shape {
        Shape {
            base: BASE,
            stride: STRIDE,
            len: REGION,
            regions: self.slots,
        }
    }
}

/// How a mapping is (re)made by a writer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `mmap(MAP_FIXED)` over the old mapping: a fresh `vm_area_alloc`.
    Fresh,
    /// A change that copies the VMA (`vm_area_dup`, as mprotect or mremap do).
    Copy,
}

/// One address space. Its memory is a type-stable table entry: an mm that exits
/// is "freed" by advancing its generation and a new mm is later created in its
/// place, so touching a freed mm is never undefined behaviour, only detected.
pub struct Mm {
    id: usize,
    /// `mmap_lock`.
    lock: CachePadded<RwLock<()>>,
    /// `mm_lock_seq`: odd while `mmap_lock` is held for write.
    pub(crate) seq: CachePadded<AtomicU32>,
    /// `mm->mm_mt`.
    pub(crate) tree: Tree,
    /// The oracle's record: slot `k`'s VMA (null: unmapped). Written under
    /// `mmap_lock` for write before the VMA is attached; read by the oracle under
    /// a read reference (ordered by attach's Release) or under `mmap_lock`.
    truth: Box<[AtomicPtr<Vma>]>,
    life: CachePadded<Life>,
}

/// An mm's lifetime: its generation and its pins (`mmgrab` / `mmdrop`).
#[derive(Default)]
struct Life {
    /// Even while the mm lives; odd from its free until a new mm is created here.
    gen: AtomicU64,
    /// Pins (`mm_count` beyond the mm's own): the mm is not freed while any is held.
    pins: AtomicU32,
    /// An exit waits for pins to be dropped before it frees the mm (tests watch it).
    freeing: AtomicBool,
}

impl Mm {
    /// A new mm `id` whose index maps slot `k` with `vmas[k]` (null: unmapped),
    /// its nodes from `alloc`.
    pub(crate) fn new(
        id: usize,
        layout: Layout,
        vmas: &[*mut Vma],
        alloc: &mut impl FnMut() -> NonNull<crate::model::index::Node>,
    ) -> Mm {
        Mm {
            id,
            lock: CachePadded::new(RwLock::new(())),
            seq: CachePadded::new(AtomicU32::new(0)),
            tree: Tree::build(layout.shape(), |k| vmas[k], alloc),
            truth: vmas.iter().map(|&v| AtomicPtr::new(v)).collect(),
            life: CachePadded::new(Life::default()),
        }
    }

    /// The generation while the caller holds a read reference on one of this
    /// mm's attached VMAs (its exit waits for that reference before it frees
    /// the mm): the live generation, for [`Mm::wake`] to compare with.
    pub(crate) fn live_generation(&self) -> u64 {
        // Relaxed: read under a read reference that the exit's detach waits for
        // (Acquire) before it frees the mm.
        self.life.gen.load(Ordering::Relaxed)
    }

    /// Take `mmap_lock` for read.
    pub fn read_lock(&self) -> RwLockReadGuard<'_, ()> {
        self.lock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The oracle's record of slot `k` (null: unmapped). The caller holds
    /// `mmap_lock`, or a read reference on a VMA it compares with it.
    #[inline]
    pub fn truth(&self, k: usize) -> *mut Vma {
        // Relaxed: ordered by the caller's lock, or by the Acquire CAS of its read
        // reference, which pairs with the Release attach made after the store.
        self.truth[k].load(Ordering::Relaxed)
    }

    /// Record `vma` as slot `k`'s mapping (null: unmapped). The caller holds
    /// `mmap_lock` for write, and attaches a new VMA only after this.
    pub(crate) fn set_truth(&self, k: usize, vma: *mut Vma) {
        // Relaxed: published by attach's Release, or by the mmap_lock release.
        self.truth[k].store(vma, Ordering::Relaxed);
    }

    /// Take `mmap_lock` for write and make the sequence odd.
    pub fn write_lock(&self) -> MmapWriteGuard<'_> {
        let guard = self.lock.write().unwrap_or_else(|e| e.into_inner());
        // Relaxed: only the lock holder changes the sequence. Readers compare it only
        // after an Acquire CAS on a VMA whose write-lock (made after this store, in
        // this thread) was published by a Release.
        let seq = self.seq.load(Ordering::Relaxed).wrapping_add(1);
        self.seq.store(seq, Ordering::Relaxed);
        MmapWriteGuard {
            mm: self,
            seq,
            _guard: guard,
        }
    }

    /// This mm's id (the value a VMA's `mm` field holds).
    pub fn id(&self) -> usize {
        self.id
    }

    /// The index (`mm->mm_mt`), for tests and models that look at its nodes;
    /// [`Tree::nodes`] and [`Tree::entries`] need the caller to own it, or to
    /// hold `mmap_lock`.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The lifetime generation: even while alive, odd once freed (tests).
    pub fn generation(&self) -> u64 {
        // Relaxed: a snapshot for tests.
        self.life.gen.load(Ordering::Relaxed)
    }

    /// Whether the mm is freed and not yet created again (odd generation): a
    /// detector for touches of a freed mm, and a snapshot for tests.
    pub fn is_freed(&self) -> bool {
        // Relaxed: a detector; nothing is read or ordered after it.
        self.life.gen.load(Ordering::Relaxed) & 1 == 1
    }

    /// Whether an exit is waiting for this mm's pins before freeing it (tests).
    pub fn freeing(&self) -> bool {
        // Relaxed: a snapshot for tests.
        self.life.freeing.load(Ordering::Relaxed)
    }

    /// `mmgrab`: the mm is not freed until [`unpin`](Mm::unpin). Only valid while
    /// the caller holds a read reference on one of this mm's attached VMAs (an
    /// exit detaches them, waiting for that reference, before it frees the mm).
    pub(crate) fn pin(&self) {
        // Relaxed: published to the exit by the Release put of the read reference
        // we hold, which the exit's detach waits for with Acquire.
        self.life.pins.fetch_add(1, Ordering::Relaxed);
    }

    /// `mmdrop` of a pin.
    pub(crate) fn unpin(&self) {
        // Release: pairs with the Acquire load of `pins` in `free_mm`: our touches
        // of this mm happen before it is freed.
        self.life.pins.fetch_sub(1, Ordering::Release);
    }

    /// Wake this mm's waiting writer (the rcuwait in `vma_refcount_put`). Our
    /// writers spin, so the touch of the mm is all there is to it. `gen` is the
    /// generation the caller saw while it held a reference on one of the mm's
    /// VMAs; returns false if the mm was freed since: a touch of a freed mm.
    pub(crate) fn wake(&self, gen: u64) -> bool {
        // Relaxed: a detector; coherence on `gen` alone decides whether the free
        // came first, and nothing is read after it.
        self.life.gen.load(Ordering::Relaxed) == gen
    }

    /// Free the mm once every pin is dropped (the last `mmdrop`).
    pub(crate) fn free_mm(&self) {
        // Relaxed (flag): test visibility only.
        self.life.freeing.store(true, Ordering::Relaxed);
        let mut round = 0;
        // Acquire: pairs with the Release in `unpin`.
        while self.life.pins.load(Ordering::Acquire) != 0 {
            crate::sync::spin_wait(&mut round);
        }
        // Relaxed (gen): only the exiting writer (holding mmap_lock for write)
        // changes it; a reader compares it with a value read under a pin or a read
        // reference, both ordered before this store by the waits above.
        let gen = self.life.gen.load(Ordering::Relaxed);
        self.life.gen.store(gen + 1, Ordering::Relaxed);
        // Relaxed: test visibility only.
        self.life.freeing.store(false, Ordering::Relaxed);
    }

    /// Create a new mm in the place of the freed one.
    pub(crate) fn recreate(&self) {
        // Relaxed: see `free_mm`.
        let gen = self.life.gen.load(Ordering::Relaxed);
        debug_assert!(gen % 2 == 1, "created over a freed mm");
        self.life.gen.store(gen + 1, Ordering::Relaxed);
    }
}

/// `mmap_lock` held for write; dropping it unlocks every VMA locked in the cycle.
pub struct MmapWriteGuard<'a> {
    mm: &'a Mm,
    seq: u32,
    _guard: RwLockWriteGuard<'a, ()>,
}

impl MmapWriteGuard<'_> {
    /// The (odd) sequence of this write cycle.
    pub fn seq(&self) -> u32 {
        self.seq
    }
}

impl Drop for MmapWriteGuard<'_> {
    fn drop(&mut self) {
        // Release: pairs with the reader's Acquire load of mm_lock_seq in
        // `Vma::start_read`: a reader that sees the new value sees our changes.
        self.mm
            .seq
            .store(self.seq.wrapping_add(1), Ordering::Release);
    }
}
