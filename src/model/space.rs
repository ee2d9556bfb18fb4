//! The protocol, written once for every [`Scheme`]: `lock_vma_under_rcu`, the
//! fault, and the writers (`mmap(MAP_FIXED)`, `munmap`, `mmap`, exit).
//!
//! A [`Space`] holds several [`Mm`]s over one scheme and one pair of slab caches
//! (VMAs, index nodes), so a VMA freed in one mm can be reused in another, and
//! every scheme allocates exactly as every other: from a `kmem_cache` with
//! per-CPU sheaves. Schemes differ only in their read section and in what
//! happens to a removed VMA or a replaced node ([`Free`]).

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::clock::{Stopwatch, Untimed};
use crate::model::counters::Counters;
use crate::model::gp::{GpLatency, GpProbes, PROBE_EVERY};
use crate::model::hook::{Hook, NoHook, Point};
use crate::model::index::{Node, Position, Protect, Stale, Stored, Tree};
use crate::model::mm::{Layout, MapKind, Mm, MmapWriteGuard};
use crate::model::page::{PageAllocator, PageStats};
use crate::model::scheme::{Free, Scheme};
use crate::model::slab::{CacheConfig, CacheStats, KmemCache, Sheaves};
use crate::model::vma::{AbortReason, Mistake, StartRead, Vma};
use crate::rcu::RcuSettings;
use crate::sync::atomic::AtomicU32;

/// Misses after which a reader gives up (an abort, `AbortReason::GaveUp`). The
/// correct protocol needs no bound (a detached VMA leaves the index before its
/// writer unlocks), so only a broken twin's reader gives up, which may leave an
/// indexed VMA looking detached for good. Under loom every reader gives up after
/// one miss: loom models no fairness, so it would show a reader the stale index
/// forever. What a model's reader did until then is a prefix of the unbounded
/// reader's run, and a model detaches each VMA once, so its one retry already
/// meets every later state of the VMA.
const MAX_MISSES: u32 = if cfg!(vma_bench_loom) { 1 } else { 1 << 10 };

/// What a fault does besides finding and checking its VMA, while it holds the
/// VMA's read lock (or `mmap_lock`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultWork {
    /// Read the VMA's fields and payload only (a few ns): reader-side costs of
    /// the schemes weigh far more than in the kernel.
    #[default]
    Light,
    /// Also clear a 4 KiB page, the dominant cost of a real anonymous fault
    /// (`clear_page` of the new page), so results read at the kernel's proportions.
    Page,
}

impl FaultWork {
    /// Every value, in the order of the command line's help.
    pub const ALL: [FaultWork; 2] = [FaultWork::Light, FaultWork::Page];

    /// Its name in the CSV and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FaultWork::Light => "light",
            FaultWork::Page => "page",
        }
    }

    /// The value with this name.
    pub fn parse(s: &str) -> Option<FaultWork> {
        Self::ALL.into_iter().find(|w| w.name() == s)
    }
}

/// A page a fault clears ([`FaultWork::Page`]).
#[repr(C, align(4096))]
struct PageBuf([u8; 4096]);

/// Frees and deferred calls counted inside the slab caches (on whichever thread
/// ran them), to set against the call sites' counts in [`Counters`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// VMAs freed into their cache after a grace period (callbacks run).
    pub vmas_after_gp: u64,
    /// Index nodes freed into their cache after a grace period.
    pub nodes_after_gp: u64,
    /// Typesafe slabs whose page went back after their grace period.
    pub slabs_after_gp: u64,
}

/// Per-thread state: the scheme's part, this CPU's sheaves of both caches, the
/// hook, a generation source, and the page a fault clears.
pub struct Handle<'a, S: Scheme, H = NoHook> {
    local: S::Local<'a>,
    vmas: Sheaves<'a, Vma>,
    nodes: Sheaves<'a, Node>,
    hook: H,
    gen_base: u64,
    gens: u64,
    page: Option<Box<PageBuf>>,
    /// Deferred frees made, for the grace-period probes.
    deferred: u32,
}

impl<S: Scheme, H> Handle<'_, S, H> {
    fn next_gen(&mut self) -> u64 {
        self.gens += 1;
        self.gen_base | self.gens
    }
}

/// Several address spaces over one scheme and one pair of slab caches, with the
/// hook type `H` for its handles.
pub struct Space<S: Scheme, H = NoHook> {
    /// Dropped before the caches (by `Drop` or [`Space::teardown`]): its drop
    /// runs every pending callback, which frees into the caches below.
    scheme: ManuallyDrop<S>,
    /// Whether the scheme was dropped already ([`Space::teardown`]).
    torn: bool,
    mms: Box<[Mm]>,
    /// `vm_area_cachep` (SLAB_TYPESAFE_BY_RCU under a typesafe scheme).
    vmas: KmemCache<Vma>,
    /// `maple_node_cache`.
    nodes: KmemCache<Node>,
    layout: Layout,
    work: FaultWork,
    hook: H,
    /// Where grace-period probes record: boxed, so its address survives a move
    /// of the space (probes in flight point to it); outlives the scheme, which is
    /// dropped first.
    gp: Box<GpProbes>,
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
pub struct Pending<'a> {
    mm: &'a Mm,
    guard: MmapWriteGuard<'a>,
    slot: usize,
    new: NonNull<Vma>,
}

/// One `mmap_lock` write cycle, reported to a [`Stopwatch`]: `requested` and
/// `locked` as it is taken, `unlocked` once it is released (on drop, or at
/// [`WriteCycle::end`]), so every early return of a writer reports it too.
struct WriteCycle<'m, 'w, W: Stopwatch> {
    /// Taken in `new`; None only inside `drop`.
    guard: Option<MmapWriteGuard<'m>>,
    sw: &'w mut W,
}

impl<'m, 'w, W: Stopwatch> WriteCycle<'m, 'w, W> {
    /// Take `m`'s `mmap_lock` for write.
    fn new(m: &'m Mm, sw: &'w mut W) -> Self {
        sw.requested();
        let guard = m.write_lock();
        sw.locked();
        WriteCycle {
            guard: Some(guard),
            sw,
        }
    }

    /// The (odd) sequence of this write cycle.
    fn seq(&self) -> u32 {
        self.guard.as_ref().expect("held until drop").seq()
    }
}

impl<W: Stopwatch> Drop for WriteCycle<'_, '_, W> {
    fn drop(&mut self) {
        // `mmap_write_unlock` first (it unlocks every VMA locked this cycle),
        // then the stopwatch's reading.
        drop(self.guard.take());
        self.sw.unlocked();
    }
}

impl<'a> Pending<'a> {
    /// The new object (detached until commit).
    pub fn vma(&self) -> &'a Vma {
        // SAFETY: allocated for this writer and not freed until it is replaced by
        // a later writer, which needs the mm lock we hold.
        unsafe { self.new.as_ref() }
    }
}

impl<S: Scheme> Space<S, NoHook> {
    /// A space with `layout`, every slot mapped, handles without a hook.
    pub fn new(scheme: S, layout: Layout) -> Self {
        Space::with_hook(scheme, layout, NoHook)
    }

    /// [`Space::new`] with the scheme's default settings.
    pub fn with_defaults(layout: Layout) -> Self {
        Space::new(S::new(&RcuSettings::default()), layout)
    }
}

impl<S: Scheme, H> Space<S, H> {
    /// A space whose handles carry a copy of `hook`.
    pub fn with_hook(scheme: S, layout: Layout, hook: H) -> Self {
        assert!(
            layout.mms > 0 && layout.slots > 0,
            "validated by the caller"
        );
        let pages = Arc::new(PageAllocator::new());
        // The stale-retry twin reads nodes (and, through them, VMAs) that may
        // have been freed: its caches keep their empty slabs, so that memory
        // stays a `Node` or a `Vma` (all atomics) and a use-after-free is
        // counted (`Position`), not undefined. Every other scheme: SLUB's
        // settings.
        let config = if S::MISTAKE == Mistake::StaleRetry {
            CacheConfig {
                min_partial: usize::MAX,
                ..CacheConfig::SLUB
            }
        } else {
            CacheConfig::SLUB
        };
        let vmas: KmemCache<Vma> = KmemCache::new(pages.clone(), config.typesafe(S::TYPESAFE));
        let nodes: KmemCache<Node> = KmemCache::new(pages, config);
        let mms = {
            let mut vs = vmas.sheaves();
            let mut ns = nodes.sheaves();
            let mut gen = u64::MAX << 40;
            let mms = (0..layout.mms)
                .map(|mm| {
                    let row: Vec<*mut Vma> = (0..layout.slots)
                        .map(|k| {
                            let v = vmas.alloc(&mut vs).obj;
                            let (start, end) = layout.range(k);
                            gen += 1;
                            // SAFETY: just allocated for us; no reader can know it yet.
                            let r = unsafe { v.as_ref() };
                            r.init(mm, start, end, gen);
                            r.mark_attached();
                            v.as_ptr()
                        })
                        .collect();
                    Mm::new(mm, layout, &row, &mut || nodes.alloc(&mut ns).obj)
                })
                .collect();
            drop((vs, ns));
            mms
        };
        Space {
            scheme: ManuallyDrop::new(scheme),
            torn: false,
            mms,
            vmas,
            nodes,
            layout,
            work: FaultWork::Light,
            hook,
            gp: Box::default(),
        }
    }

    /// The same space whose faults do `work`.
    pub fn with_fault_work(mut self, work: FaultWork) -> Self {
        self.work = work;
        self
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// What each fault does besides its lookup.
    pub fn fault_work(&self) -> FaultWork {
        self.work
    }

    /// The scheme.
    pub fn scheme(&self) -> &S {
        &self.scheme
    }

    /// Address space `mm`.
    pub fn mm(&self, mm: usize) -> &Mm {
        &self.mms[mm]
    }

    /// The VMA mapping `slot` of `mm` now, as the oracle records it (for tests;
    /// dereference it only under that mm's lock or a read reference).
    pub fn current(&self, mm: usize, slot: usize) -> *const Vma {
        self.mms[mm].truth(slot)
    }

    /// The VMA cache's statistics.
    pub fn vma_cache(&self) -> CacheStats {
        self.vmas.stats()
    }

    /// The node cache's statistics.
    pub fn node_cache(&self) -> CacheStats {
        self.nodes.stats()
    }

    /// What the caches freed after a grace period so far.
    pub fn reclaimed(&self) -> Reclaimed {
        let (v, n) = (self.vmas.stats(), self.nodes.stats());
        Reclaimed {
            vmas_after_gp: v.freed_after_gp,
            nodes_after_gp: n.freed_after_gp,
            slabs_after_gp: v.slabs_rcu_freed,
        }
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
            vmas: self.vmas.sheaves(),
            nodes: self.nodes.sheaves(),
            hook,
            gen_base: (index as u64 + 1) << 40,
            gens: 0,
            page: (self.work == FaultWork::Page).then(|| Box::new(PageBuf([0; 4096]))),
            deferred: 0,
        }
    }

    /// Between two operations of `h`'s thread: the scheme may report a
    /// quiescent state.
    #[inline]
    pub fn quiescent<'a, H2>(&'a self, h: &mut Handle<'a, S, H2>) {
        self.scheme.quiescent(&mut h.local);
    }

    /// `lock_vma_under_rcu(mm, addr)`: find, read-lock and validate the VMA for
    /// `addr` without the mm lock. A VMA found detached counts a miss and is looked
    /// up again, in a new read section and from the index's root; any other
    /// failure counts an abort.
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
        self.lock_in(h, &self.mms[mm], addr, c)
    }

    /// [`Self::lock_vma_under_rcu`] in `m`.
    // Always: see `VmaLookup::fault` for `Space`.
    #[inline(always)]
    fn lock_in<'a, 'r, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        m: &'a Mm,
        addr: u64,
        c: &'r Counters,
    ) -> Result<ReadLocked<'r>, AbortReason>
    where
        'a: 'r,
    {
        let mut section = self.scheme.enter(&mut h.local);
        let mut misses = 0u32;
        // Where the last walk ended, and whether a grace period may have freed
        // that leaf before this section began: kept across the sections only
        // by the stale-retry twin (N17).
        let mut kept: Option<(Position, bool)> = None;
        let result = loop {
            // `mas_walk`; None: a hazard pointer's validation failed, walk again.
            let Some((found, at)) = self.walk(m, addr, &mut section, kept.take(), c) else {
                continue;
            };
            let Some(ptr) = NonNull::new(found) else {
                break Err(AbortReason::NotFound);
            };
            // SAFETY: Scheme promise 1: the section keeps the VMA valid memory until
            // it is left; we use it only inside this iteration, inside the section.
            let vma = unsafe { ptr.as_ref() };
            h.hook.at(Point::Found);
            let seq = if S::MISTAKE == Mistake::SeqOfVmaMm {
                self.seq_of_vma_mm(vma, &m.seq, c)
            } else {
                &m.seq
            };
            let other_mm = |v: &Vma, hook: &mut H2| self.put_other_mm(v, hook, c);
            match vma.start_read_with(m.id(), seq, S::MISTAKE, &mut h.hook, other_mm) {
                StartRead::Detached => {
                    c.lock_miss.inc();
                    if S::MISTAKE == Mistake::PutOnRetry && !vma.end_read() {
                        // N8, the mistake itself: a put where no reference was taken.
                        c.errors.inc();
                    }
                    if S::MISTAKE != Mistake::None || cfg!(vma_bench_loom) {
                        // See `MAX_MISSES`.
                        misses += 1;
                        if misses > MAX_MISSES {
                            break Err(AbortReason::GaveUp);
                        }
                    }
                    // `vma_start_read` drops the RCU read lock on failure ("mm:
                    // change vma_start_read() to drop RCU lock on failure"), and
                    // the retry takes it again and walks from the root
                    // (`mas_set`): nothing read in the old section is kept.
                    self.scheme.leave(&mut h.local, section);
                    h.hook.at(Point::Retry);
                    if S::MISTAKE == Mistake::StaleRetry {
                        // N17, the mistake itself: the maple state is kept. Read
                        // now, between the sections: whether its leaf was handed
                        // to `call_rcu` already (or reused), so that the next
                        // section does not hold back its free; never under QSBR,
                        // where no grace period ends before our next quiescent
                        // state, after this fault.
                        // SAFETY: the twin's caches give no slab back (`with_hook`),
                        // so the leaf's memory is still a `Node`.
                        kept = at
                            .map(|at| (at, S::GP_BETWEEN_SECTIONS && unsafe { at.unprotected() }));
                    }
                    section = self.scheme.enter(&mut h.local);
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

    /// `mas_walk` in `m`'s index from the root, or, for the stale-retry twin
    /// only, from `kept`: the leaf the reader's walk in an earlier section
    /// ended in, and whether a grace period may have freed it before this
    /// section began. A walk from such a leaf, or from one whose memory was
    /// reused since, is the twin's use-after-free: counted in `errors`, and the
    /// walk starts from the root instead, so nothing read from freed memory is
    /// used. Returns the entry and where the walk ended; None as for
    /// [`Tree::walk`].
    #[inline]
    fn walk<P: Protect>(
        &self,
        m: &Mm,
        addr: u64,
        section: &mut P,
        kept: Option<(Position, bool)>,
        c: &Counters,
    ) -> Option<(*mut Vma, Option<Position>)> {
        if S::MISTAKE == Mistake::StaleRetry {
            if let Some((at, unprotected)) = kept {
                if !unprotected {
                    // SAFETY: the leaf's memory is still a `Node` (see the
                    // retry); `addr` is the address of the walk that ended there.
                    // A VMA it returns is a pointer into the twin's VMA cache,
                    // which gives no slab back either: a `Vma` the per-VMA lock
                    // validates as any VMA a walk finds.
                    match unsafe { m.tree.walk_from(at, addr, section) } {
                        Some(Ok(e)) => return Some((e, Some(at))),
                        None => return None,
                        // Replaced but not freed: the walk starts again from
                        // the root, as the maple tree's does.
                        Some(Err(Stale::Dead)) => return m.tree.walk_at(addr, section),
                        Some(Err(Stale::Reused)) => {}
                    }
                }
                c.errors.inc();
            }
        }
        m.tree.walk_at(addr, section)
    }

    /// A reader parked inside its read section: enter the scheme's section,
    /// walk the index to `addr` in `mm` as a fault does (under hazard pointers
    /// the walk leaves the last two nodes and the entry it found protected), call
    /// `park` (the caller sleeps there), then leave. Under `rwlock`, whose
    /// readers have no section but `mmap_lock`, the reader holds `mmap_lock` for
    /// read while parked. A reader preempted or interrupted inside
    /// `rcu_read_lock()` does this: it holds up every grace period (and, under
    /// QSBR, reports no quiescent state) until it leaves. No VMA is locked.
    pub fn stall<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        addr: u64,
        park: impl FnOnce(),
    ) {
        let m = &self.mms[mm];
        if !S::PER_VMA_LOCK {
            let _read = m.read_lock();
            std::hint::black_box(m.tree.find_locked(addr));
            park();
            return;
        }
        let mut section = self.scheme.enter(&mut h.local);
        // None: a hazard pointer's validation failed; walk again, as a fault does.
        while m.tree.walk(addr, &mut section).is_none() {}
        park();
        self.scheme.leave(&mut h.local, section);
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
        let gen = other.live_generation();
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

    /// The fault's work under its lock, beyond reading the VMA.
    #[inline]
    fn work<H2>(&self, h: &mut Handle<'_, S, H2>) {
        if let Some(page) = h.page.as_mut() {
            // `clear_page`: a 4 KiB memset the compiler may not drop.
            page.0.fill(0);
            std::hint::black_box(&mut page.0);
        }
    }

    /// A page fault at `addr` in `mm`: the per-VMA lock path, or the mm lock.
    /// The fault body checks its answer and counts a wrong one; an address with
    /// no mapping (between a munmap and its mmap) is answered "no mapping" under
    /// `mmap_lock`, as SIGSEGV, and counted in `segv`, never as a fault served.
    // Always: see `VmaLookup::fault` for `Space`.
    #[inline(always)]
    pub fn fault<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        addr: u64,
        c: &Counters,
    ) {
        let m = &self.mms[mm];
        // The oracle's record of the address (skipped where the oracle is off).
        let truth = |m: &Mm| match self.layout.slot_of(addr) {
            Some(k) if !cfg!(vma_bench_bare) => m.truth(k),
            _ => std::ptr::null_mut(),
        };
        if S::PER_VMA_LOCK {
            if let Ok(vma) = self.lock_in(h, m, addr, c) {
                c.lock_success.inc();
                if !cfg!(vma_bench_loom) {
                    vma.anon_prepare(&mut h.hook);
                }
                self.work(h);
                if !vma.fault_check(m.id(), addr, truth(m)) {
                    c.wrong.inc();
                }
                c.faults.inc();
                return;
            }
        }
        c.fallbacks.inc();
        let _read = m.read_lock();
        let found = m.tree.find_locked(addr);
        // SAFETY: we hold mmap_lock for read: no writer can remove (let alone free)
        // the VMA the index holds.
        let Some(vma) = (unsafe { found.as_ref() }) else {
            c.segv.inc();
            if !truth(m).is_null() && !cfg!(vma_bench_bare) {
                c.wrong.inc();
            }
            return;
        };
        if !cfg!(vma_bench_loom) {
            vma.anon_prepare(&mut h.hook);
        }
        self.work(h);
        if !vma.fault_check(m.id(), addr, truth(m)) {
            c.wrong.inc();
        }
        c.faults.inc();
    }

    /// A new VMA from the cache (counting one reused before a grace period).
    fn alloc_vma<H2>(&self, h: &mut Handle<'_, S, H2>, c: &Counters) -> NonNull<Vma> {
        let a = self.vmas.alloc(&mut h.vmas);
        if a.reused_before_gp {
            c.reused.inc();
        }
        a.obj
    }

    /// A detached VMA for `slot` of `m`, filled fresh or copied from the slot's
    /// current one. The caller holds `m`'s mmap_lock for write.
    fn new_vma<H2>(
        &self,
        h: &mut Handle<'_, S, H2>,
        m: &Mm,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    ) -> NonNull<Vma> {
        let new = self.alloc_vma(h, c);
        // SAFETY: a detached object only we own (stale readers may read it; every
        // field is atomic).
        let v = unsafe { new.as_ref() };
        let gen = h.next_gen();
        let orig = m.truth(slot);
        if kind == MapKind::Copy && !orig.is_null() {
            // SAFETY: the caller holds mmap_lock for write: the current VMA stays
            // mapped, hence alive, until it is replaced.
            v.dup_from(unsafe { &*orig }, S::MISTAKE);
            v.rewrite(gen);
        } else {
            let (start, end) = self.layout.range(slot);
            v.init(m.id(), start, end, gen);
        }
        new
    }

    /// A node for the index.
    fn alloc_node<H2>(&self, h: &mut Handle<'_, S, H2>) -> NonNull<Node> {
        self.nodes.alloc(&mut h.nodes).obj
    }

    /// Every [`PROBE_EVERY`] deferred frees of a thread, queue a grace-period
    /// probe through the same scheme (not counted as a free).
    #[inline]
    fn maybe_probe<'a, H2>(&'a self, h: &mut Handle<'a, S, H2>) {
        h.deferred = h.deferred.wrapping_add(1);
        if h.deferred % PROBE_EVERY == 0 {
            let p = self.gp.probe();
            // SAFETY: a new probe, reachable by no reader, queued once.
            unsafe { self.scheme.defer(&mut h.local, p) };
        }
    }

    /// What the grace-period probes measured so far (those queued since the
    /// measured interval opened, when a driver ran this space).
    pub fn gp_latency(&self) -> GpLatency {
        self.gp.read()
    }

    /// The driver's measured interval opens: only probes queued from now on
    /// count.
    pub fn measure_from_now(&self) {
        self.gp.reset();
    }

    /// Hand a removed, detached VMA to the scheme's free path, counting the
    /// call where it is made.
    ///
    /// # Safety
    /// `vma` is out of the index and detached, its readers drained; freed once.
    unsafe fn free_vma<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        vma: NonNull<Vma>,
        c: &Counters,
    ) {
        // SAFETY: the caller's promise: removed and drained, not yet freed.
        c.changes_removed
            .add(u64::from(unsafe { vma.as_ref() }.changes()));
        // SAFETY: the caller's promise.
        unsafe { self.release_vma(h, vma, c) };
    }

    /// The scheme's free path for a VMA, counting the call where it is made.
    ///
    /// # Safety
    /// As for [`Self::free_vma`]; or a copy no reader could ever reach.
    unsafe fn release_vma<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        vma: NonNull<Vma>,
        c: &Counters,
    ) {
        match S::VMA_FREE {
            Free::Now => {
                c.vma_freed_now.inc();
                let (scheme, local) = (&self.scheme, &mut h.local);
                // SAFETY: the caller's promise; a typesafe cache hands an emptied
                // slab to `release`, which queues it once through the scheme.
                unsafe {
                    self.vmas.free(&mut h.vmas, vma, &mut |slab| {
                        c.slab_call_rcu.inc();
                        scheme.defer(local, slab.as_ptr());
                    })
                };
            }
            Free::Deferred => {
                c.vma_call_rcu.inc();
                // SAFETY: the caller's promise.
                unsafe { self.scheme.defer(&mut h.local, vma) };
                self.maybe_probe(h);
            }
            // SAFETY: the caller's promise; the scheme keeps it until it drops.
            Free::Never => unsafe { self.scheme.defer(&mut h.local, vma) },
        }
    }

    /// Hand a replaced (dead) index node to the scheme's free path.
    ///
    /// # Safety
    /// `node` is out of the tree; freed once.
    unsafe fn free_node<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        node: NonNull<Node>,
        c: &Counters,
    ) {
        c.nodes_replaced.inc();
        if S::MISTAKE == Mistake::StaleRetry {
            // SAFETY: the caller's promise: out of the tree, not yet freed.
            unsafe { node.as_ref() }.mark_queued();
        }
        // SAFETY: the caller's promise.
        unsafe { self.release_node(h, node, c) };
    }

    /// The scheme's free path for an index node, counting the call.
    ///
    /// # Safety
    /// As for [`Self::free_node`]; or a node of a tree no reader could reach.
    unsafe fn release_node<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        node: NonNull<Node>,
        c: &Counters,
    ) {
        match S::NODE_FREE {
            Free::Now => {
                c.node_freed_now.inc();
                // SAFETY: the caller's promise; Scheme promise 4: no reader walks
                // without mmap_lock, which the writer holds. A node cache is never
                // typesafe, so `release` is never called.
                unsafe { self.nodes.free(&mut h.nodes, node, &mut |_| {}) };
            }
            Free::Deferred => {
                c.node_call_rcu.inc();
                // SAFETY: the caller's promise.
                unsafe { self.scheme.defer(&mut h.local, node) };
                self.maybe_probe(h);
            }
            // SAFETY: the caller's promise; the scheme keeps it until it drops.
            Free::Never => unsafe { self.scheme.defer(&mut h.local, node) },
        }
    }

    /// Store `vma` (null: unmap) over slot `slot`'s range in `m`'s index, and
    /// free the leaf a rebuild replaced. The caller holds `mmap_lock` for write.
    fn store<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        m: &Mm,
        slot: usize,
        vma: *mut Vma,
        c: &Counters,
    ) {
        let (start, end) = self.layout.range(slot);
        let mut fresh = None;
        let stored = m.tree.store_with(start, end - 1, vma, S::MISTAKE, || {
            let n = self.alloc_node(h);
            fresh = Some(n);
            n
        });
        if let Stored::Rebuilt(old) = stored {
            // SAFETY: `store` replaced it in the tree and marked it dead; only
            // stale readers can still reach it. Freed once, here.
            unsafe { self.free_node(h, old, c) };
        }
    }

    /// First half of `mmap(MAP_FIXED)` over `slot` in `mm`: take `mmap_lock` for
    /// write, allocate the new VMA and fill it (fresh, or copied from the current
    /// one). Nothing is visible in the index yet.
    pub fn prepare<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    ) -> Pending<'a> {
        self.prepare_in(h, mm, slot, kind, c, &mut Untimed)
    }

    /// [`Self::prepare`], passing `sw` the lock's request and its taking.
    fn prepare_in<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> Pending<'a> {
        let m = &self.mms[mm];
        sw.requested();
        let guard = m.write_lock();
        sw.locked();
        let new = self.new_vma(h, m, slot, kind, c);
        Pending {
            mm: m,
            guard,
            slot,
            new,
        }
    }

    /// Second half: write-lock the old VMA and the new one, attach the new one and
    /// store it in the index (an exact fit: in place), detach the old one (waiting
    /// for its readers) and hand it to the scheme's free path; then `mmap_lock` is
    /// released, which unlocks both. Over an unmapped slot it only maps.
    pub fn commit<'a, H2: Hook>(&'a self, h: &mut Handle<'a, S, H2>, p: Pending<'a>, c: &Counters) {
        self.commit_in(h, p, c, &mut Untimed);
    }

    /// [`Self::commit`], passing `sw` the lock's release.
    fn commit_in<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        p: Pending<'a>,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) {
        let seq = p.guard.seq();
        let m = p.mm;
        let old = NonNull::new(m.truth(p.slot));
        if let Some(old) = old {
            // SAFETY: under mmap_lock for write the slot's VMA is alive until replaced.
            if !unsafe { old.as_ref() }.start_write_with(seq, S::MISTAKE) {
                c.errors.inc();
            }
        }
        let new = p.vma();
        // New VMAs stay write-locked until mmap_lock is released, as in __mmap_region.
        if !new.start_write_with(seq, S::MISTAKE) {
            c.errors.inc();
        }
        m.set_truth(p.slot, p.new.as_ptr());
        new.mark_attached_with(S::MISTAKE);
        self.store(h, m, p.slot, p.new.as_ptr(), c);
        c.maps.inc();
        if let Some(old) = old {
            h.hook.at(Point::Detaching);
            // SAFETY: out of the index; alive until freed just below.
            if !unsafe { old.as_ref() }.mark_detached_with(S::MISTAKE) {
                c.errors.inc();
            }
            c.unmaps.inc();
            // SAFETY: out of the index and detached (readers drained); freed once.
            unsafe { self.free_vma(h, old, c) };
        }
        drop(p.guard);
        sw.unlocked();
    }

    /// `mmap(MAP_FIXED)` over `slot` of `mm`: the old VMA is replaced in place.
    pub fn replace<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    ) {
        self.replace_in(h, mm, slot, kind, c, &mut Untimed);
    }

    /// [`Self::replace`], passing `sw` the points of its `mmap_lock` cycle.
    pub fn replace_in<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) {
        let p = self.prepare_in(h, mm, slot, kind, c, sw);
        self.commit_in(h, p, c, sw);
    }

    /// `munmap` of `slot` in `mm`: write-lock its VMA, store a gap over it (the
    /// index absorbs the neighbouring gaps, so its leaf is rebuilt), detach it
    /// (waiting for readers) and free it. Returns false if it was not mapped (a
    /// munmap of nothing).
    pub fn unmap<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> bool {
        self.unmap_in(h, mm, slot, c, &mut Untimed)
    }

    /// [`Self::unmap`], passing `sw` the points of its `mmap_lock` cycle.
    pub fn unmap_in<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        let m = &self.mms[mm];
        let guard = WriteCycle::new(m, sw);
        let Some(old) = NonNull::new(m.truth(slot)) else {
            return false;
        };
        // SAFETY: under mmap_lock for write the slot's VMA is alive until removed.
        let v = unsafe { old.as_ref() };
        if !v.start_write_with(guard.seq(), S::MISTAKE) {
            c.errors.inc();
        }
        m.set_truth(slot, std::ptr::null_mut());
        self.store(h, m, slot, std::ptr::null_mut(), c);
        h.hook.at(Point::Detaching);
        if !v.mark_detached_with(S::MISTAKE) {
            c.errors.inc();
        }
        c.unmaps.inc();
        // SAFETY: out of the index and detached (readers drained); freed once.
        unsafe { self.free_vma(h, old, c) };
        drop(guard);
        true
    }

    /// `mmap` of a new, fresh VMA at `slot` of `mm` (`MAP_FIXED_NOREPLACE`):
    /// the store splits the gap, so its leaf is rebuilt. Returns false if the
    /// slot is mapped already.
    pub fn map<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> bool {
        self.map_in(h, mm, slot, c, &mut Untimed)
    }

    /// [`Self::map`], passing `sw` the points of its `mmap_lock` cycle.
    pub fn map_in<'a, H2>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        let m = &self.mms[mm];
        let guard = WriteCycle::new(m, sw);
        if !m.truth(slot).is_null() {
            return false;
        }
        let new = self.new_vma(h, m, slot, MapKind::Fresh, c);
        // SAFETY: ours until published.
        let v = unsafe { new.as_ref() };
        if !v.start_write_with(guard.seq(), S::MISTAKE) {
            c.errors.inc();
        }
        m.set_truth(slot, new.as_ptr());
        v.mark_attached_with(S::MISTAKE);
        self.store(h, m, slot, new.as_ptr(), c);
        c.maps.inc();
        drop(guard);
        true
    }

    /// An in-place change of the VMA mapping `slot` of `mm` (mprotect, madvise):
    /// take `mmap_lock` for write, write-lock the VMA (`vma_start_write`: wait
    /// for its readers), give its fields a new version while it stays in the
    /// index, release `mmap_lock` (which unlocks it). Returns false if the slot
    /// is not mapped (a change of nothing). The `ChangeUnlocked` twin (N14)
    /// skips the write-lock.
    pub fn change<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> bool {
        self.change_in(h, mm, slot, c, &mut Untimed)
    }

    /// [`Self::change`], passing `sw` the points of its `mmap_lock` cycle.
    pub fn change_in<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        let m = &self.mms[mm];
        let guard = WriteCycle::new(m, sw);
        let Some(vma) = NonNull::new(m.truth(slot)) else {
            return false;
        };
        // SAFETY: under mmap_lock for write the slot's VMA is alive until replaced.
        let v = unsafe { vma.as_ref() };
        if S::MISTAKE != Mistake::ChangeUnlocked && !v.start_write_with(guard.seq(), S::MISTAKE) {
            c.errors.inc();
        }
        let gen = h.next_gen();
        v.change(gen, &mut h.hook);
        c.changes.inc();
        drop(guard);
        true
    }

    /// `fork` of the process owning `mm` (`dup_mmap`): take `mmap_lock` for
    /// write; for each mapped VMA, write-lock it (`vma_start_write`, waiting for
    /// its readers; it is not detached and stays in the index) and copy it
    /// (`vm_area_dup`); build the child's index over the copies. Faults on the
    /// parent go on meanwhile: on VMAs not yet locked under their read lock, on
    /// locked ones they abort and wait for `mmap_lock`. The oracle: every copy
    /// must be one consistent version (a copy made while a fault changed the
    /// VMA is torn), and the child's index must map each slot to its copy; a
    /// failure counts `wrong`. The child then exits at once: its copies and
    /// nodes go through the scheme's free path (`fork_copies`, `fork_nodes`),
    /// so memory stays bounded. The `ForkUnlocked` twin (N15) skips the
    /// write-locks, as Linux 6.4 did.
    pub fn fork<'a, H2: Hook>(&'a self, h: &mut Handle<'a, S, H2>, mm: usize, c: &Counters) {
        self.fork_in(h, mm, c, &mut Untimed);
    }

    /// [`Self::fork`], passing `sw` the points of its `mmap_lock` cycle.
    pub fn fork_in<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) {
        let m = &self.mms[mm];
        let guard = WriteCycle::new(m, sw);
        let seq = guard.seq();
        let mut copies = vec![std::ptr::null_mut::<Vma>(); self.layout.slots];
        for (k, copy) in copies.iter_mut().enumerate() {
            let Some(orig) = NonNull::new(m.truth(k)) else {
                continue;
            };
            // SAFETY: under mmap_lock for write the slot's VMA is alive until replaced.
            let o = unsafe { orig.as_ref() };
            if S::MISTAKE != Mistake::ForkUnlocked && !o.start_write_with(seq, S::MISTAKE) {
                c.errors.inc();
            }
            let new = self.alloc_vma(h, c);
            // SAFETY: a detached object only we own.
            let v = unsafe { new.as_ref() };
            v.dup_from(o, S::MISTAKE);
            if !v.copy_consistent() {
                c.wrong.inc();
            }
            c.fork_copies.inc();
            *copy = new.as_ptr();
        }
        let child = Tree::build(self.layout.shape(), |k| copies[k], &mut || {
            self.alloc_node(h)
        });
        for (k, &copy) in copies.iter().enumerate() {
            if child.find_locked(self.layout.addr(k, 0)) != copy {
                c.wrong.inc();
            }
        }
        c.forks.inc();
        // The child exits: nothing ever walked its index or locked a copy.
        for n in child.nodes() {
            c.fork_nodes.inc();
            // SAFETY: the child's tree was never shared; each node freed once.
            unsafe { self.release_node(h, n, c) };
        }
        for copy in copies.into_iter().filter_map(NonNull::new) {
            // SAFETY: a detached copy no reader could reach; freed once.
            unsafe { self.release_vma(h, copy, c) };
        }
        drop(guard);
    }

    /// In-place changes the mapped VMAs carry now, summed over every mm: with
    /// `changes_removed`, the tally set against the writers' `changes`. Needs
    /// `&mut self`: no handle, hence no writer, exists.
    pub fn live_changes(&mut self) -> u64 {
        let mut n = 0;
        for m in self.mms.iter() {
            for k in 0..self.layout.slots {
                // SAFETY: exclusive access: a mapped VMA is alive.
                if let Some(v) = unsafe { m.truth(k).as_ref() } {
                    n += u64::from(v.changes());
                }
            }
        }
        n
    }

    /// The process owning `mm` exits and a new one is created in its place, under
    /// one `mmap_lock` write cycle: every mapped VMA is write-locked and replaced
    /// in the index (in place) by a new, not yet attached one (readers miss on it
    /// until the end); the old VMAs are detached (waiting for readers) and freed,
    /// then the mm itself is freed once no one pins it, a new mm is created in
    /// its entry and its VMAs are attached. Unmapped slots stay unmapped.
    pub fn exit<'a, H2: Hook>(&'a self, h: &mut Handle<'a, S, H2>, mm: usize, c: &Counters) {
        self.exit_in(h, mm, c, &mut Untimed);
    }

    /// [`Self::exit`], passing `sw` the points of its `mmap_lock` cycle.
    pub fn exit_in<'a, H2: Hook>(
        &'a self,
        h: &mut Handle<'a, S, H2>,
        mm: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) {
        let m = &self.mms[mm];
        let guard = WriteCycle::new(m, sw);
        let seq = guard.seq();
        let mut olds = Vec::with_capacity(self.layout.slots);
        let mut news = Vec::with_capacity(self.layout.slots);
        for k in 0..self.layout.slots {
            let Some(old) = NonNull::new(m.truth(k)) else {
                continue;
            };
            // SAFETY: under mmap_lock for write the slot's VMA is alive until replaced.
            if !unsafe { old.as_ref() }.start_write_with(seq, S::MISTAKE) {
                c.errors.inc();
            }
            let new = self.new_vma(h, m, k, MapKind::Fresh, c);
            // SAFETY: a detached object only we own.
            if !unsafe { new.as_ref() }.start_write_with(seq, S::MISTAKE) {
                c.errors.inc();
            }
            m.set_truth(k, new.as_ptr());
            self.store(h, m, k, new.as_ptr(), c);
            olds.push(old);
            news.push(new);
        }
        h.hook.at(Point::Detaching);
        for old in olds {
            // SAFETY: out of the index; alive until freed just below.
            if !unsafe { old.as_ref() }.mark_detached_with(S::MISTAKE) {
                c.errors.inc();
            }
            c.unmaps.inc();
            // SAFETY: out of the index and detached (readers drained); freed once.
            unsafe { self.free_vma(h, old, c) };
        }
        m.free_mm();
        h.hook.at(Point::MmFreed);
        m.recreate();
        for new in news {
            // SAFETY: in the index, alive until a later writer replaces it under
            // the mm lock we hold.
            unsafe { new.as_ref() }.mark_attached_with(S::MISTAKE);
            c.maps.inc();
        }
        drop(guard);
    }
}

/// What the caches and the page allocator counted once a space was torn down:
/// every object given back, every callback run, every page returned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Teardown {
    /// The VMA cache's statistics, after the scheme ran every pending callback.
    pub vmas: CacheStats,
    /// The node cache's statistics, likewise.
    pub nodes: CacheStats,
    /// The page allocator's, after both caches were dropped.
    pub pages: PageStats,
    /// The grace-period probes, after every callback ran.
    pub gp: GpLatency,
}

impl<S: Scheme, H> Space<S, H> {
    /// Give every object still in an index back to its cache; a typesafe cache's
    /// emptied slabs are queued through the scheme.
    fn give_back(&self) {
        let mut local = self.scheme.local();
        let mut vs = self.vmas.sheaves();
        let mut ns = self.nodes.sheaves();
        let scheme: &S = &self.scheme;
        for m in self.mms.iter() {
            for k in 0..self.layout.slots {
                if let Some(v) = NonNull::new(m.truth(k)) {
                    // SAFETY: the caller owns the space exclusively: no handle (they
                    // borrow the space) and no reader remains; each VMA is freed once.
                    unsafe {
                        self.vmas.free(&mut vs, v, &mut |slab| {
                            scheme.defer(&mut local, slab.as_ptr())
                        })
                    };
                }
            }
            for n in m.tree.nodes() {
                // SAFETY: as above; a node cache is never typesafe.
                unsafe { self.nodes.free(&mut ns, n, &mut |_| {}) };
            }
        }
        vs.flush(&mut |slab| {
            // SAFETY: an emptied typesafe slab, queued once.
            unsafe { scheme.defer(&mut local, slab.as_ptr()) }
        });
        ns.flush(&mut |_| {});
    }

    /// Tear the space down and count: every object goes back to its cache, the
    /// scheme is dropped (running every pending callback), then the caches.
    pub fn teardown(mut self) -> Teardown {
        self.give_back();
        // SAFETY: dropped once: `torn` keeps `Drop` from dropping it again, and
        // nothing uses the scheme after this (no handle can exist: we own `self`).
        unsafe { ManuallyDrop::drop(&mut self.scheme) };
        self.torn = true;
        let (vmas, nodes, gp) = (self.vmas.stats(), self.nodes.stats(), self.gp.read());
        let pages = self.vmas.page_allocator().clone();
        drop(self);
        Teardown {
            vmas,
            nodes,
            pages: pages.stats(),
            gp,
        }
    }
}

impl<S: Scheme, H> Drop for Space<S, H> {
    fn drop(&mut self) {
        if self.torn {
            return;
        }
        self.give_back();
        // SAFETY: dropped once (`torn` is false, and the space is going away), and
        // before the caches its callbacks free into.
        unsafe { ManuallyDrop::drop(&mut self.scheme) };
    }
}
