//! Address spaces and the protocol, written once for every [`Scheme`].
//!
//! An [`Mm`] stands for an `mm_struct`: an index from address to VMA that readers
//! search without locks (a table of slots, each covering a fixed region: the leaf
//! level of the maple tree), the mm-wide `mmap_lock` and `mm_lock_seq`.
//! A [`Space`] holds several mms sharing one scheme, hence one allocator, so a
//! VMA freed in one mm can be reused in another.

use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::{RwLock, RwLockWriteGuard};

use crossbeam_utils::CachePadded;

use crate::model::counters::Counters;
use crate::model::hook::{Hook, NoHook, Point};
use crate::model::scheme::Scheme;
use crate::model::vma::{AbortReason, Mistake, StartRead, Vma};
use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Misses after which a broken twin's reader gives up (the correct protocol never
/// does: a detached VMA leaves the index before its writer unlocks).
const TWIN_MAX_MISSES: u32 = 1 << 10;

/// Bytes of address space one slot covers (a VMA fills its slot's region).
pub const REGION: u64 = 1 << 21;
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
    /// `[start, end)` of slot `k`: the same in every mm.
    pub fn range(&self, k: usize) -> (u64, u64) {
        let start = BASE + k as u64 * REGION;
        (start, start + REGION)
    }

    /// The slot covering `addr`, if any.
    #[inline]
    pub fn slot_of(&self, addr: u64) -> Option<usize> {
        let k = addr.checked_sub(BASE)? / REGION;
        (k < self.slots as u64).then_some(k as usize)
    }

    /// Page `page` (taken modulo the pages of a region) of slot `k`.
    #[inline]
    pub fn addr(&self, k: usize, page: u64) -> u64 {
        self.range(k).0 + (page % (REGION / PAGE)) * PAGE
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
pub struct Mm<S: Scheme> {
    id: usize,
    /// `mmap_lock`.
    lock: CachePadded<RwLock<()>>,
    /// `mm_lock_seq`: odd while `mmap_lock` is held for write.
    seq: CachePadded<AtomicU32>,
    slots: Box<[S::Slot]>,
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

impl<S: Scheme> Mm<S> {
    /// Take `mmap_lock` for write and make the sequence odd.
    pub fn write_lock(&self) -> MmapWriteGuard<'_, S> {
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
    fn pin(&self) {
        // Relaxed: published to the exit by the Release put of the read reference
        // we hold, which the exit's detach waits for with Acquire.
        self.life.pins.fetch_add(1, Ordering::Relaxed);
    }

    /// `mmdrop` of a pin.
    fn unpin(&self) {
        // Release: pairs with the Acquire load of `pins` in `free_mm`: our touches
        // of this mm happen before it is freed.
        self.life.pins.fetch_sub(1, Ordering::Release);
    }

    /// Wake this mm's waiting writer (the rcuwait in `vma_refcount_put`). Our
    /// writers spin, so the touch of the mm is all there is to it. `gen` is the
    /// generation the caller saw while it held a reference on one of the mm's
    /// VMAs; returns false if the mm was freed since: a touch of a freed mm.
    fn wake(&self, gen: u64) -> bool {
        // Relaxed: a detector; coherence on `gen` alone decides whether the free
        // came first, and nothing is read after it.
        self.life.gen.load(Ordering::Relaxed) == gen
    }

    /// Free the mm once every pin is dropped (the last `mmdrop`).
    fn free_mm(&self) {
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
    fn recreate(&self) {
        // Relaxed: see `free_mm`.
        let gen = self.life.gen.load(Ordering::Relaxed);
        debug_assert!(gen % 2 == 1, "created over a freed mm");
        self.life.gen.store(gen + 1, Ordering::Relaxed);
    }
}

/// `mmap_lock` held for write; dropping it unlocks every VMA locked in the cycle.
pub struct MmapWriteGuard<'a, S: Scheme> {
    mm: &'a Mm<S>,
    seq: u32,
    _guard: RwLockWriteGuard<'a, ()>,
}

impl<S: Scheme> MmapWriteGuard<'_, S> {
    /// The (odd) sequence of this write cycle.
    pub fn seq(&self) -> u32 {
        self.seq
    }
}

impl<S: Scheme> Drop for MmapWriteGuard<'_, S> {
    fn drop(&mut self) {
        // Release: pairs with the reader's Acquire load of mm_lock_seq in
        // `Vma::start_read`: a reader that sees the new value sees our changes.
        self.mm
            .seq
            .store(self.seq.wrapping_add(1), Ordering::Release);
    }
}

/// Per-thread state: the scheme's local part, the hook, and a generation source.
pub struct Handle<'a, S: Scheme, H = NoHook> {
    local: S::Local<'a>,
    hook: H,
    gen_base: u64,
    gens: u64,
}

impl<S: Scheme, H> Handle<'_, S, H> {
    fn next_gen(&mut self) -> u64 {
        self.gens += 1;
        self.gen_base | self.gens
    }
}

/// Several address spaces over one scheme, with the hook type `H` for its handles.
pub struct Space<S: Scheme, H = NoHook> {
    scheme: S,
    mms: Box<[Mm<S>]>,
    layout: Layout,
    hook: H,
}

/// A VMA read-locked by `lock_vma_under_rcu`; unlocks on drop (counting a
/// refcount underflow, which only a broken twin makes, in `errors`).
pub struct ReadLocked<'a> {
    vma: NonNull<Vma>,
    c: &'a Counters,
    /// The scheme's mistake (a constant after inlining): `None` drops unchecked.
    mistake: Mistake,
    _space: PhantomData<&'a Vma>,
}

impl std::ops::Deref for ReadLocked<'_> {
    type Target = Vma;
    fn deref(&self) -> &Vma {
        // SAFETY: we hold a read reference (refcnt > 0, taken while the scheme's
        // section protected the pointer). A writer frees an object only after
        // `mark_detached`, which waits for every read reference to be dropped, so
        // the memory stays a live VMA while `self` exists.
        unsafe { self.vma.as_ref() }
    }
}

impl Drop for ReadLocked<'_> {
    fn drop(&mut self) {
        if !self.end_read_with(self.mistake) {
            self.c.errors.inc();
        }
    }
}

/// A writer's new mapping, prepared but not yet in the index.
pub struct Pending<'a, S: Scheme> {
    mm: &'a Mm<S>,
    guard: MmapWriteGuard<'a, S>,
    slot: usize,
    new: NonNull<Vma>,
}

impl<'a, S: Scheme> Pending<'a, S> {
    /// The new object (detached until commit).
    pub fn vma(&self) -> &'a Vma {
        // SAFETY: allocated by the scheme for this writer and not freed until it is
        // replaced by a later writer, which needs the mm lock we hold.
        unsafe { self.new.as_ref() }
    }
}

impl<S: Scheme> Space<S, NoHook> {
    /// A space with `layout`, every slot mapped, handles without a hook.
    pub fn new(scheme: S, layout: Layout) -> Self {
        Space::with_hook(scheme, layout, NoHook)
    }
}

impl<S: Scheme, H> Space<S, H> {
    /// A space whose handles carry a copy of `hook`.
    pub fn with_hook(scheme: S, layout: Layout, hook: H) -> Self {
        assert!(
            layout.mms > 0 && layout.slots > 0,
            "validated by the caller"
        );
        let mms = (0..layout.mms)
            .map(|id| Mm {
                id,
                lock: CachePadded::new(RwLock::new(())),
                seq: CachePadded::new(AtomicU32::new(0)),
                slots: Box::new([]),
                life: CachePadded::new(Life::default()),
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        let mut space = Space {
            scheme,
            mms,
            layout,
            hook,
        };
        space.populate();
        space
    }

    fn populate(&mut self) {
        let mut slots: Vec<Box<[S::Slot]>> = Vec::with_capacity(self.layout.mms);
        {
            let mut local = self.scheme.local();
            let mut gen = u64::MAX << 40;
            for mm in 0..self.layout.mms {
                let row = (0..self.layout.slots)
                    .map(|k| {
                        let vma = self.scheme.alloc(&mut local);
                        let (start, end) = self.layout.range(k);
                        gen += 1;
                        // SAFETY: just allocated for us; no reader can know it yet.
                        let v = unsafe { vma.as_ref() };
                        v.init(mm, start, end, gen);
                        v.mark_attached();
                        self.scheme.new_slot(vma)
                    })
                    .collect();
                slots.push(row);
            }
        }
        for (mm, row) in self.mms.iter_mut().zip(slots) {
            mm.slots = row;
        }
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The scheme.
    pub fn scheme(&self) -> &S {
        &self.scheme
    }

    /// Address space `mm`.
    pub fn mm(&self, mm: usize) -> &Mm<S> {
        &self.mms[mm]
    }

    /// The VMA slot `slot` of `mm` holds now (for tests; dereference it only under
    /// that mm's lock or a read reference).
    pub fn current(&self, mm: usize, slot: usize) -> *const Vma {
        S::current(&self.mms[mm].slots[slot])
    }

    /// A handle for thread `index` carrying a hook of type `H`.
    pub fn handle(&self, index: usize) -> Handle<'_, S, H>
    where
        H: Clone,
    {
        self.handle_with(index, self.hook.clone())
    }

    /// A handle for thread `index` with a hook of any type (scripted tests).
    pub fn handle_with<H2>(&self, index: usize, hook: H2) -> Handle<'_, S, H2> {
        Handle {
            local: self.scheme.local(),
            hook,
            gen_base: (index as u64 + 1) << 40,
            gens: 0,
        }
    }

    /// `lock_vma_under_rcu(mm, addr)`: find, read-lock and validate the VMA for
    /// `addr` without the mm lock. A VMA found detached counts a miss and is looked
    /// up again; any other failure counts an abort.
    pub fn lock_vma_under_rcu<'a, 'r, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        addr: u64,
        c: &'r Counters,
    ) -> Result<ReadLocked<'r>, AbortReason>
    where
        'a: 'r,
    {
        let m = &self.mms[mm];
        let Some(k) = self.layout.slot_of(addr) else {
            c.lock_abort.inc();
            return Err(AbortReason::NotFound);
        };
        self.lock_in_slot(h, m, &m.slots[k], addr, c)
    }

    /// [`Self::lock_vma_under_rcu`] in `slot`, the index entry of `addr` in `m`:
    /// a fault looks the entry up once, since its oracle reads it again after.
    #[inline]
    fn lock_in_slot<'a, 'r, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        m: &'a Mm<S>,
        slot: &'a S::Slot,
        addr: u64,
        c: &'r Counters,
    ) -> Result<ReadLocked<'r>, AbortReason>
    where
        'a: 'r,
    {
        let mut section = self.scheme.enter(&mut h.local);
        let mut misses = 0u32;
        let result = loop {
            let Some(ptr) = S::find(&mut section, slot) else {
                break Err(AbortReason::NotFound);
            };
            // SAFETY: Scheme promise 1: valid until the next find or the section ends;
            // we use it only inside this iteration, inside the section.
            let vma = unsafe { ptr.as_ref() };
            h.hook.at(Point::Found);
            let seq = if S::MISTAKE == Mistake::SeqOfVmaMm {
                self.seq_of_vma_mm(vma, &m.seq, c)
            } else {
                &m.seq
            };
            let other_mm = |v: &Vma, hook: &mut H2| self.put_other_mm(v, hook, c);
            match vma.start_read_with(m.id, seq, S::MISTAKE, &mut h.hook, other_mm) {
                StartRead::Detached => {
                    c.lock_miss.inc();
                    if S::MISTAKE == Mistake::PutOnRetry && !vma.end_read() {
                        // N8, the mistake itself: a put where no reference was taken.
                        c.errors.inc();
                    }
                    if S::MISTAKE != Mistake::None {
                        // A twin may leave an indexed VMA looking detached for good.
                        misses += 1;
                        if misses > TWIN_MAX_MISSES {
                            break Err(AbortReason::GaveUp);
                        }
                    }
                    continue;
                }
                StartRead::Abort(why) => break Err(why),
                StartRead::Locked => {}
            }
            if S::MISTAKE != Mistake::NoAddrCheck && !vma.covers(addr) {
                if !vma.end_read_with(S::MISTAKE) {
                    c.errors.inc();
                }
                break Err(AbortReason::Address);
            }
            break Ok(ReadLocked {
                vma: ptr,
                c,
                mistake: S::MISTAKE,
                _space: PhantomData,
            });
        };
        self.scheme.leave(&mut h.local, section);
        if let Err(why) = result {
            c.lock_abort.inc();
            if why == AbortReason::Underflow {
                c.errors.inc();
            }
        }
        result
    }

    /// N7, the mistake itself: the sequence of the mm `vma` names now, read
    /// without a reference (a reuse may change it at any time), instead of the
    /// caller's. Reading it touches that mm, which may have been freed: counted.
    #[cold]
    fn seq_of_vma_mm<'m>(&'m self, vma: &Vma, own: &'m AtomicU32, c: &Counters) -> &'m AtomicU32 {
        let Some(other) = self.mms.get(vma.mm()) else {
            return own;
        };
        if other.is_freed() {
            c.errors.inc();
        }
        &other.seq
    }

    /// Drop a read reference on a VMA that turned out to belong to another mm
    /// (`vma_refcount_put` from the failed mm check): pin that mm first (`mmgrab`),
    /// since the put may let its exit proceed and the wake-up after it touches
    /// the mm. The `MmUnpinned` twin (N10) skips the pin; a touch of a freed mm is
    /// counted in `errors`. Returns false on a refcount underflow.
    #[cold]
    fn put_other_mm<H2: Hook>(&self, vma: &Vma, hook: &mut H2, c: &Counters) -> bool {
        // Copy `vma.mm` first, while we hold the reference (read ordered after the
        // reader's Acquire CAS).
        let Some(other) = self.mms.get(vma.mm()) else {
            return vma.end_read();
        };
        let pinned = S::MISTAKE != Mistake::MmUnpinned;
        if pinned {
            other.pin();
        }
        // Relaxed: read under our read reference on one of its attached VMAs, which
        // its exit waits for (Acquire) before freeing it: the live generation.
        let gen = other.life.gen.load(Ordering::Relaxed);
        let left = vma.put();
        hook.at(Point::Put);
        if left.is_some_and(Vma::writer_waits) && !other.wake(gen) {
            c.errors.inc();
        }
        if pinned {
            other.unpin();
        }
        left.is_some()
    }

    /// A page fault at `addr` in `mm`: the per-VMA lock path, or the mm lock.
    /// The fault body checks its answer and counts a wrong one.
    #[inline]
    pub fn fault<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        addr: u64,
        c: &Counters,
    ) {
        c.faults.inc();
        let m = &self.mms[mm];
        let k = self.layout.slot_of(addr);
        if S::PER_VMA_LOCK {
            match k {
                Some(k) => {
                    let slot = &m.slots[k];
                    if let Ok(vma) = self.lock_in_slot(h, m, slot, addr, c) {
                        c.lock_success.inc();
                        // The oracle's view of the index (skipped where the oracle is off).
                        let indexed = if cfg!(vma_bench_bare) {
                            std::ptr::null_mut()
                        } else {
                            S::current(slot)
                        };
                        if !vma.fault_check(m.id, addr, indexed) {
                            c.wrong.inc();
                        }
                        return;
                    }
                }
                // No entry for the address: the walk finds nothing.
                None => c.lock_abort.inc(),
            }
        }
        c.fallbacks.inc();
        let _read = m.lock.read().unwrap_or_else(|e| e.into_inner());
        let ok = k.is_some_and(|k| {
            let ptr = S::current(&m.slots[k]);
            // SAFETY: we hold mmap_lock for read: no writer can remove (let alone
            // free) the VMA in the slot, and outside writers every slot holds one.
            let vma = unsafe { &*ptr };
            vma.fault_check(m.id, addr, ptr)
        });
        if !ok {
            c.wrong.inc();
        }
    }

    /// First half of a writer's change of `slot` in `mm`: take `mmap_lock` for
    /// write, allocate the new VMA and fill it (fresh, or copied from the current
    /// one). Nothing is visible in the index yet.
    pub fn prepare<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    ) -> Pending<'a, S> {
        let m = &self.mms[mm];
        let guard = m.write_lock();
        let new = self.alloc_vma(h, m, slot, kind, c);
        Pending {
            mm: m,
            guard,
            slot,
            new,
        }
    }

    /// A detached VMA for `slot` of `m`, filled fresh or copied from the slot's
    /// current one (counting a reused object). The caller holds `m`'s mmap_lock
    /// for write.
    fn alloc_vma<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        m: &Mm<S>,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    ) -> NonNull<Vma> {
        let new = self.scheme.alloc(&mut h.local);
        // SAFETY: Scheme promise 3: a detached object only we own (stale readers
        // may read it; every field is atomic).
        let v = unsafe { new.as_ref() };
        if v.generation() != 0 {
            c.reused.inc();
        }
        let gen = h.next_gen();
        match kind {
            MapKind::Fresh => {
                let (start, end) = self.layout.range(slot);
                v.init(m.id, start, end, gen);
            }
            MapKind::Copy => {
                // SAFETY: the caller holds mmap_lock for write: the current VMA
                // stays in the slot, hence alive, until it is replaced.
                let orig = unsafe { &*S::current(&m.slots[slot]) };
                v.dup_from(orig, S::MISTAKE);
                v.rewrite(gen);
            }
        }
        new
    }

    /// Second half: write-lock the old VMA and the new one, attach the new one and
    /// store it in the index, detach the old one (waiting for its readers) and hand
    /// it to the scheme's free path; then `mmap_lock` is released, which unlocks both.
    pub fn commit<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        p: Pending<'a, S>,
        c: &Counters,
    ) {
        let seq = p.guard.seq();
        let slot = &p.mm.slots[p.slot];
        // SAFETY: under mmap_lock for write the slot's VMA is alive until replaced.
        let old = unsafe { &*S::current(slot) };
        if !old.start_write_with(seq, S::MISTAKE) {
            c.errors.inc();
        }
        let new = p.vma();
        // New VMAs stay write-locked until mmap_lock is released, as in __mmap_region.
        if !new.start_write_with(seq, S::MISTAKE) {
            c.errors.inc();
        }
        new.mark_attached();
        let old_ptr = self.scheme.publish(slot, p.new);
        debug_assert!(std::ptr::eq(old_ptr.as_ptr(), old));
        h.hook.at(Point::Detaching);
        if !old.mark_detached_with(S::MISTAKE) {
            c.errors.inc();
        }
        c.maps.inc();
        c.unmaps.inc();
        // SAFETY: `old` is out of the index and detached, its readers drained by
        // `mark_detached`; it is freed once, here.
        unsafe { self.scheme.free(&mut h.local, old_ptr, c) };
        drop(p.guard);
    }

    /// Replace the mapping in `slot` of `mm` (munmap + mmap).
    pub fn replace<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    ) {
        let p = self.prepare(h, mm, slot, kind, c);
        self.commit(h, p, c);
    }

    /// The process owning `mm` exits and a new one is created in its place, under
    /// one `mmap_lock` write cycle: every VMA is write-locked and replaced in the
    /// index by a new, not yet attached one (readers miss on it until the end);
    /// the old VMAs are detached (waiting for readers) and freed, then the mm
    /// itself is freed once no one pins it, a new mm is created in its entry and
    /// its VMAs are attached.
    pub fn exit<'a, H2: Hook>(&'a self, h: &mut Handle<'a, S, H2>, mm: usize, c: &Counters) {
        let m = &self.mms[mm];
        let guard = m.write_lock();
        let seq = guard.seq();
        let mut olds = Vec::with_capacity(m.slots.len());
        let mut news = Vec::with_capacity(m.slots.len());
        for (k, slot) in m.slots.iter().enumerate() {
            // SAFETY: under mmap_lock for write the slot's VMA is alive until replaced.
            let old = unsafe { &*S::current(slot) };
            if !old.start_write_with(seq, S::MISTAKE) {
                c.errors.inc();
            }
            let new = self.alloc_vma(h, m, k, MapKind::Fresh, c);
            // SAFETY: Scheme promise 3: a detached object only we own.
            let v = unsafe { new.as_ref() };
            if !v.start_write_with(seq, S::MISTAKE) {
                c.errors.inc();
            }
            olds.push(self.scheme.publish(slot, new));
            news.push(new);
        }
        h.hook.at(Point::Detaching);
        for old in olds {
            // SAFETY: out of the index; alive until freed just below.
            let v = unsafe { old.as_ref() };
            if !v.mark_detached_with(S::MISTAKE) {
                c.errors.inc();
            }
            c.unmaps.inc();
            // SAFETY: out of the index and detached (readers drained); freed once.
            unsafe { self.scheme.free(&mut h.local, old, c) };
        }
        m.free_mm();
        h.hook.at(Point::MmFreed);
        m.recreate();
        for new in news {
            // SAFETY: in the index, alive until a later writer replaces it under
            // the mm lock we hold.
            unsafe { new.as_ref() }.mark_attached();
            c.maps.inc();
        }
        drop(guard);
    }
}

impl<S: Scheme, H> Drop for Space<S, H> {
    fn drop(&mut self) {
        for m in self.mms.iter() {
            for slot in m.slots.iter() {
                let ptr = S::current(slot);
                if let Some(vma) = NonNull::new(ptr) {
                    // SAFETY: we own the space exclusively: no handle (their
                    // lifetimes borrow the space) and no reader remains.
                    unsafe { self.scheme.destroy(vma) };
                }
            }
        }
    }
}
