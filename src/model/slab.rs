//! SLUB's `kmem_cache` with per-CPU sheaves (mm/slub.c of Linux 6.18): the cache
//! every scheme allocates its VMAs and index nodes from.
//!
//! ## The model
//!
//! * **Objects** are [`SlabObject`]s, constructed once each when their slab is
//!   created (a cache with a constructor: `setup_object()` runs `s->ctor`), never
//!   at allocation. A slab is one 4 KiB page from the [`PageAllocator`] (order 0)
//!   holding `PAGE_SIZE / size_of::<T>()` objects (21 for a 192-byte VMA).
//! * **Per-CPU sheaves** ([`Sheaves`]): a main and a spare array of up to
//!   `sheaf_capacity` object pointers, owned by one thread (the harness's workers
//!   stand for CPUs), used without lock or atomic. [`KmemCache::alloc`] pops main
//!   (`alloc_from_pcs()`); [`KmemCache::free`] pushes to main (`free_to_pcs()`).
//! * **The barn** (`struct node_barn`): full and empty sheaves shared by all CPUs.
//!   An empty main is exchanged for a full sheaf (`barn_replace_empty_sheaf()`);
//!   a full main for an empty one (`barn_replace_full_sheaf()`), unless the barn
//!   already holds `max_full_sheaves`: then the full spare is flushed to its slabs
//!   and becomes the empty main (`-E2BIG` in `__pcs_replace_full_main()`).
//! * **Slabs and the partial list** (`struct kmem_cache_node`): a sheaf is refilled
//!   from partial slabs first, then from new slabs (`refill_objects()`); objects
//!   flushed from a sheaf go back to their slab (`__slab_free()`). A slab that
//!   becomes empty while the partial list already holds `min_partial` slabs is
//!   discarded (`discard_slab()`): a normal cache gives its page back at once; a
//!   SLAB_TYPESAFE_BY_RCU cache hands it to the caller's `release`, which queues
//!   it with `call_rcu()` (`free_slab()` -> `rcu_free_slab()`), and the page goes
//!   back only in the slab's [`Deferrable::reclaim`], after a grace period.
//! * **Frees after a grace period** ([`free_after_gp`]): an RCU callback or a
//!   hazard-pointer reclaimer frees with only the object pointer, on any thread.
//!   The object goes into a cache-level, locked "remote" sheaf that moves to the
//!   barn when full, or is flushed to slabs when the barn is full, as SLUB does
//!   with a full `rcu_free` sheaf (`rcu_free_sheaf()`).
//! * **Reuse before a grace period**: each sheaf entry carries a low tag bit, set
//!   when the object was freed immediately ([`KmemCache::free`]); a slab keeps a
//!   bitmap of its free objects that came back that way. [`Allocated`] reports
//!   whether the object handed out was last freed without a grace period.
//!
//! ## Deviations from SLUB
//!
//! * One lock per cache guards the barn, the partial and full lists and the slab
//!   metadata (SLUB: `barn->lock`, `n->list_lock`, and a lockless cmpxchg on the
//!   slab's freelist). One node, no NUMA, no pfmemalloc, debug, KASAN or memcg.
//! * A slab's freelist is a bitmap (objects are taken lowest index first), so a
//!   slab holds at most 64 objects.
//! * A flushed sheaf is grouped by slab completely before the objects go back
//!   (SLUB's `build_detached_freelist()` looks ahead 3 entries), so a slab whose
//!   every object comes back in one flush empties in one `__slab_free()`.
//! * Objects freed after a grace period go to the cache's remote sheaf; SLUB's
//!   callback would free to the sheaves of the CPU it runs on, which a library's
//!   callback thread here does not have.
//! * Dropping a [`Sheaves`] puts its sheaves into the barn (limits ignored, as
//!   `barn_put_full_sheaf()` does), so no slab is discarded without a `release`;
//!   [`Sheaves::flush`] is SLUB's `pcs_flush_all()`: straight to the slabs.
//! * A [`KmemCache`] is dropped only with every object back; it gives its pages
//!   back at once. The kernel's `kmem_cache_destroy()` waits for pending slab
//!   frees with `rcu_barrier()`; here a slab still waiting for its grace period
//!   keeps the cache's shared state alive and gives its page back when its
//!   callback runs, whenever that is. The owner promises no reader holds an
//!   object of a dropped cache.
//!
//! `unsafe` in this module is the raw-pointer core: sheaf entries, slab metadata
//! found from object addresses, and the intrusive slab lists.

use std::fmt;
use std::marker::PhantomData;
use std::mem::{self, align_of, needs_drop, offset_of, size_of};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use super::page::{page_of, slab_of, state, PageAllocator, SlabMeta, PAGE_SIZE};
use crate::rcu::{Deferrable, RcuHead};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// The tag bit of a sheaf entry: the object's last free was immediate.
const IMMEDIATE: usize = 1;

/// A type whose objects live in a [`KmemCache`].
///
/// # Safety
///
/// Implementors promise:
/// 1. Every field is an atomic, except fields that only the object's owner or
///    `call_rcu` touch (its [`RcuHead`]). A reader of a SLAB_TYPESAFE_BY_RCU
///    cache may read an object after it was freed and while it is reused by a new
///    owner: that is defined behaviour only for atomics. (Objects are handed out
///    as `NonNull<T>`, never as references with a lifetime.)
/// 2. `Self` has no drop glue (checked when a cache is made): objects are never
///    dropped; their memory is reused or given back with their page.
/// 3. Whatever state an owner leaves an object in is a valid `Self` for the next
///    owner: the cache constructs objects once per slab, not per allocation.
pub unsafe trait SlabObject: Deferrable + Send + Sync {
    /// The cache's constructor (`s->ctor`): run once per object when its slab is
    /// created.
    fn construct() -> Self;
}

/// A cache's settings, as `/sys/kernel/slab/<cache>/` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Object pointers per sheaf (`sheaf_capacity`; 32 for `vm_area_struct` and
    /// `maple_node` on Linux 6.18). At least 1.
    pub sheaf_capacity: usize,
    /// Slabs the partial list keeps before an emptied slab is discarded
    /// (`min_partial`; 5).
    pub min_partial: usize,
    /// Full sheaves the barn accepts from a CPU (`MAX_FULL_SHEAVES`; 10).
    pub max_full_sheaves: usize,
    /// Empty sheaves the barn keeps when a CPU gives one back (`MAX_EMPTY_SHEAVES`; 10).
    pub max_empty_sheaves: usize,
    /// SLAB_TYPESAFE_BY_RCU (`destroy_by_rcu`): an emptied slab's page is given
    /// back only after a grace period; objects are reused at once.
    pub typesafe: bool,
}

impl CacheConfig {
    /// SLUB's defaults for a cache with sheaves, as Linux 6.18 sets up
    /// `vm_area_struct` and `maple_node`: sheaves of 32, `min_partial` 5, barn
    /// limits 10 and 10; not typesafe (see [`typesafe`](Self::typesafe)).
    /// Under loom (`--cfg vma_bench_loom`) sheaves of 4: a loom model builds
    /// its space anew for every execution, and a refill of 32 would construct
    /// several slabs of objects, every atomic of which loom creates and tracks
    /// (see `page::PAGE_SIZE`), where a model uses a few objects.
    pub const SLUB: CacheConfig = CacheConfig {
        sheaf_capacity: if cfg!(vma_bench_loom) { 4 } else { 32 },
        min_partial: 5,
        max_full_sheaves: 10,
        max_empty_sheaves: 10,
        typesafe: false,
    };

    /// The same settings with SLAB_TYPESAFE_BY_RCU on or off (`vm_area_struct`
    /// has it on since Linux 6.15).
    pub const fn typesafe(self, typesafe: bool) -> CacheConfig {
        CacheConfig { typesafe, ..self }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig::SLUB
    }
}

/// An object handed out by [`KmemCache::alloc`].
#[derive(Debug)]
pub struct Allocated<T> {
    /// The object. Its fields hold what its constructor or last owner left.
    pub obj: NonNull<T>,
    /// The object was last freed by an immediate free ([`KmemCache::free`]), so it
    /// is reused without a grace period since its last owner let go. False for an
    /// object of a new slab and for one freed by [`free_after_gp`].
    pub reused_before_gp: bool,
}

impl<T> Clone for Allocated<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Allocated<T> {}

/// Statistics of a cache, each counted where it happens. The per-thread counts
/// (`allocated`, `reused_before_gp`, `freed_immediate`) are published by each
/// [`Sheaves`] on its slow paths and when dropped: exact once every `Sheaves` is
/// dropped, otherwise behind by less than a few sheaves per thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Objects handed out by [`KmemCache::alloc`].
    pub allocated: u64,
    /// Of those, objects reused before a grace period.
    pub reused_before_gp: u64,
    /// Immediate frees ([`KmemCache::free`]).
    pub freed_immediate: u64,
    /// Frees after a grace period ([`free_after_gp`]), counted under the lock.
    pub freed_after_gp: u64,
    /// Slabs created (pages taken from the page allocator).
    pub slabs_created: u64,
    /// Slabs discarded with their page given back at once (normal cache).
    pub slabs_discarded: u64,
    /// Slabs handed to `release` (typesafe cache): one `call_rcu` each.
    pub slabs_released: u64,
    /// Released slabs whose page was given back by their reclaim (`rcu_free_slab()`).
    pub slabs_rcu_freed: u64,
}

/// What a cache holds, counted by walking its lists and sheaves under its lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabCensus {
    /// Slabs on the partial list (at least one free object).
    pub partial: u64,
    /// Of those, slabs with no object in use.
    pub empty: u64,
    /// Slabs on the full list (no free object).
    pub full: u64,
    /// Objects in the slabs' freelists.
    pub free_objects: u64,
    /// Full (or partly full) sheaves in the barn.
    pub barn_full: u64,
    /// Empty sheaves in the barn.
    pub barn_empty: u64,
    /// Objects in the barn's sheaves and in the remote sheaf.
    pub objects_in_barn: u64,
}

impl SlabCensus {
    /// Slabs the cache holds on its lists (not counting slabs waiting for a grace
    /// period).
    pub fn slabs(&self) -> u64 {
        self.partial + self.full
    }
}

/// A sheaf (`struct slab_sheaf`): object pointers, each with the [`IMMEDIATE`]
/// tag bit or not.
struct Sheaf<T> {
    objects: Vec<*mut T>,
}

// SAFETY: a sheaf is a list of free objects of a cache of `T` (which is `Send +
// Sync`); it is owned by one thread (a `Sheaves`) or by the cache's lock.
unsafe impl<T: Send + Sync> Send for Sheaf<T> {}

impl<T> Sheaf<T> {
    fn with_capacity(capacity: usize) -> Self {
        Sheaf {
            objects: Vec::with_capacity(capacity),
        }
    }

    /// A placeholder that never holds objects (no allocation).
    fn none() -> Self {
        Sheaf {
            objects: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.objects.len()
    }

    fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// An intrusive doubly linked list of slabs (`n->partial`, and the full list SLUB
/// keeps for debug caches), linked through [`SlabMeta`]'s `prev` and `next`.
/// Only touched under the cache's lock; Relaxed accesses to the links suffice.
struct SlabList {
    head: *mut SlabMeta,
    tail: *mut SlabMeta,
    len: usize,
}

// SAFETY: the list points at slab metadata in arenas that outlive the cache, and
// is only used under the cache's lock.
unsafe impl Send for SlabList {}

impl SlabList {
    const fn new() -> Self {
        SlabList {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
        }
    }

    fn first(&self) -> Option<NonNull<SlabMeta>> {
        NonNull::new(self.head)
    }

    /// `list_add()`.
    ///
    /// # Safety
    /// `slab` is a live slab of the list's cache and on no list.
    unsafe fn push_head(&mut self, slab: NonNull<SlabMeta>) {
        // SAFETY: the caller's promise.
        let m = unsafe { slab.as_ref() };
        // Relaxed (every link access here): the cache's lock orders them.
        m.prev.store(ptr::null_mut(), Ordering::Relaxed);
        m.next.store(self.head, Ordering::Relaxed);
        match NonNull::new(self.head) {
            // SAFETY: a member of this list: a live slab of the cache.
            Some(h) => unsafe { h.as_ref() }
                .prev
                .store(slab.as_ptr(), Ordering::Relaxed),
            None => self.tail = slab.as_ptr(),
        }
        self.head = slab.as_ptr();
        self.len += 1;
    }

    /// `list_add_tail()`.
    ///
    /// # Safety
    /// As for [`push_head`](Self::push_head).
    unsafe fn push_tail(&mut self, slab: NonNull<SlabMeta>) {
        // SAFETY: the caller's promise.
        let m = unsafe { slab.as_ref() };
        // Relaxed (every link access here): the cache's lock orders them.
        m.next.store(ptr::null_mut(), Ordering::Relaxed);
        m.prev.store(self.tail, Ordering::Relaxed);
        match NonNull::new(self.tail) {
            // SAFETY: a member of this list: a live slab of the cache.
            Some(t) => unsafe { t.as_ref() }
                .next
                .store(slab.as_ptr(), Ordering::Relaxed),
            None => self.head = slab.as_ptr(),
        }
        self.tail = slab.as_ptr();
        self.len += 1;
    }

    /// `list_del()`.
    ///
    /// # Safety
    /// `slab` is on this list.
    unsafe fn remove(&mut self, slab: NonNull<SlabMeta>) {
        // SAFETY: the caller's promise: a member, so a live slab of the cache.
        let m = unsafe { slab.as_ref() };
        // Relaxed (every link access here): the cache's lock orders them.
        let prev = m.prev.load(Ordering::Relaxed);
        let next = m.next.load(Ordering::Relaxed);
        match NonNull::new(prev) {
            // SAFETY: a member's neighbour is a member.
            Some(p) => unsafe { p.as_ref() }.next.store(next, Ordering::Relaxed),
            None => {
                debug_assert_eq!(self.head, slab.as_ptr(), "not on this list");
                self.head = next;
            }
        }
        match NonNull::new(next) {
            // SAFETY: as above.
            Some(n) => unsafe { n.as_ref() }.prev.store(prev, Ordering::Relaxed),
            None => self.tail = prev,
        }
        m.prev.store(ptr::null_mut(), Ordering::Relaxed);
        m.next.store(ptr::null_mut(), Ordering::Relaxed);
        self.len -= 1;
    }

    /// The members, by walking the links.
    ///
    /// # Safety
    /// The list is consistent (it only changes through the methods above).
    unsafe fn walk(&self) -> Vec<NonNull<SlabMeta>> {
        let mut out = Vec::with_capacity(self.len);
        let mut cur = self.head;
        while let Some(slab) = NonNull::new(cur) {
            out.push(slab);
            // SAFETY: a member: a live slab of the cache.
            // Relaxed: the caller holds the cache's lock, which orders the links.
            cur = unsafe { slab.as_ref() }.next.load(Ordering::Relaxed);
        }
        out
    }
}

/// What the cache's lock guards: the node's lists, the barn and the remote sheaf.
struct Node<T> {
    partial: SlabList,
    full: SlabList,
    barn_full: Vec<Sheaf<T>>,
    barn_empty: Vec<Sheaf<T>>,
    /// Objects freed after a grace period, on their way to the barn.
    remote: Sheaf<T>,
}

/// Shared statistics (Relaxed everywhere: counts, nothing is ordered by them).
struct Counts {
    allocated: AtomicU64,
    reused: AtomicU64,
    freed_immediate: AtomicU64,
    freed_after_gp: AtomicU64,
    slabs_created: AtomicU64,
    slabs_discarded: AtomicU64,
    slabs_released: AtomicU64,
    slabs_rcu_freed: AtomicU64,
}

impl Counts {
    fn new() -> Self {
        Counts {
            allocated: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            freed_immediate: AtomicU64::new(0),
            freed_after_gp: AtomicU64::new(0),
            slabs_created: AtomicU64::new(0),
            slabs_discarded: AtomicU64::new(0),
            slabs_released: AtomicU64::new(0),
            slabs_rcu_freed: AtomicU64::new(0),
        }
    }
}

/// Add to a statistic.
#[inline]
fn bump(c: &AtomicU64, n: u64) {
    if n != 0 {
        // Relaxed: a statistic; nothing is ordered by it.
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Counts a `Sheaves` has not published yet.
#[derive(Debug, Default)]
struct Pending {
    allocated: u64,
    reused: u64,
    freed: u64,
}

/// The cache proper (`struct kmem_cache` and its node), shared by the
/// [`KmemCache`] handle, slabs waiting for a grace period, and found from any
/// object through its slab's metadata.
struct Shared<T: SlabObject> {
    config: CacheConfig,
    objs_per_slab: usize,
    pages: Arc<PageAllocator>,
    node: Mutex<Node<T>>,
    stats: Counts,
}

/// A slab cache of `T` (`struct kmem_cache`) with per-CPU [`Sheaves`].
///
/// Objects are `size_of::<T>()` bytes at multiples of that size in order-0 slabs
/// from a shared [`PageAllocator`]. Dropping the cache requires every object back
/// (panics otherwise, leaking its pages) and gives its pages back.
pub struct KmemCache<T: SlabObject> {
    shared: Arc<Shared<T>>,
}

/// One thread's sheaves of a cache (`struct slub_percpu_sheaves`: main and spare).
/// Owned by one thread, which stands for a CPU; dropping it returns its objects to
/// the cache's barn.
pub struct Sheaves<'c, T: SlabObject> {
    cache: &'c KmemCache<T>,
    capacity: usize,
    /// Never absent; may be empty.
    main: Sheaf<T>,
    /// Empty or full, or absent.
    spare: Option<Sheaf<T>>,
    pending: Pending,
}

/// A slab's metadata seen as the object `call_rcu` queues: SLUB's `struct slab`
/// with its `rcu_head`, whose callback (`rcu_free_slab()`) gives the page back.
#[repr(transparent)]
pub struct Slab<T> {
    meta: SlabMeta,
    _cache: PhantomData<fn() -> T>,
}

/// An emptied slab of a SLAB_TYPESAFE_BY_RCU cache, handed to the `release` of
/// [`KmemCache::free`] (or of [`Sheaves::flush`], [`KmemCache::shrink`]). Queue
/// [`as_ptr`](Self::as_ptr) with `call_rcu` exactly once (and count the call); its
/// [`Deferrable::reclaim`] gives the page back after the grace period. A slab
/// that is never reclaimed leaks its page.
#[must_use = "a released slab's page is given back only by its reclaim"]
pub struct SlabRef<T: SlabObject>(NonNull<Slab<T>>);

// SAFETY: a `Slab` is `Sync` (atomics and an `RcuHead`); the reference only
// carries the duty to queue it once.
unsafe impl<T: SlabObject> Send for SlabRef<T> {}

impl<T: SlabObject> SlabRef<T> {
    /// The slab, for `call_rcu`.
    pub fn as_ptr(&self) -> NonNull<Slab<T>> {
        self.0
    }
}

impl<T: SlabObject> fmt::Debug for SlabRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SlabRef").field(&self.0).finish()
    }
}

/// The metadata behind a slab pointer.
///
/// # Safety
/// `slab` is an entry of a live arena: it came from `alloc_page` or from
/// `slab_of` of an object of a live cache (which keeps its page allocator alive).
#[inline]
unsafe fn meta<'a>(slab: NonNull<SlabMeta>) -> &'a SlabMeta {
    // SAFETY: the caller's promise; entries are initialised when their arena is
    // made and live as long as it.
    unsafe { slab.as_ref() }
}

impl<T: SlabObject> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Node<T>> {
        self.node.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Object `i` of the slab whose page is `page`.
    #[inline]
    fn object(page: NonNull<u8>, i: usize) -> *mut T {
        page.as_ptr().wrapping_add(i * size_of::<T>()).cast()
    }

    /// The index of an (untagged or tagged) object address in its slab.
    #[inline]
    fn index(entry: *mut T) -> usize {
        (entry as usize & (PAGE_SIZE - 1)) / size_of::<T>()
    }

    /// Move free objects of `slab` into `sheaf` until it holds `sheaf_capacity`;
    /// true if the slab has no free object left.
    ///
    /// # Safety
    /// `slab` is a live slab of this cache; the caller holds the cache's lock.
    unsafe fn take_objects(&self, slab: NonNull<SlabMeta>, sheaf: &mut Sheaf<T>) -> bool {
        // SAFETY: the caller's promise.
        let m = unsafe { meta(slab) };
        let page = page_of(slab);
        // Relaxed (every metadata access under the lock): the lock orders them.
        let mut free = m.free.load(Ordering::Relaxed);
        let immediate = m.immediate.load(Ordering::Relaxed);
        let mut taken = 0;
        while free != 0 && sheaf.len() < self.config.sheaf_capacity {
            let i = free.trailing_zeros() as usize;
            free &= free - 1;
            let tag = (immediate >> i) as usize & IMMEDIATE;
            sheaf
                .objects
                .push(Self::object(page, i).wrapping_byte_add(tag));
            taken += 1;
        }
        m.free.store(free, Ordering::Relaxed);
        m.immediate.store(immediate & free, Ordering::Relaxed);
        let inuse = m.inuse.load(Ordering::Relaxed) + taken;
        m.inuse.store(inuse, Ordering::Relaxed);
        debug_assert_eq!(
            inuse as usize + free.count_ones() as usize,
            self.objs_per_slab
        );
        free == 0
    }

    /// Return every object of `sheaf` to its slab (`__kmem_cache_free_bulk()`),
    /// grouped by slab; emptied slabs beyond `min_partial` go to `discards` when
    /// `may_discard`. Leaves the sheaf empty.
    fn flush(
        &self,
        node: &mut Node<T>,
        sheaf: &mut Sheaf<T>,
        discards: &mut Vec<NonNull<SlabMeta>>,
        may_discard: bool,
    ) {
        let objects = &mut sheaf.objects;
        objects.sort_unstable_by_key(|&e| e as usize);
        let mut rest = &objects[..];
        while let Some(&first) = rest.first() {
            let page = first as usize & !(PAGE_SIZE - 1);
            let n = rest
                .iter()
                .position(|&e| e as usize & !(PAGE_SIZE - 1) != page)
                .unwrap_or(rest.len());
            // SAFETY: sheaf entries are (tagged) objects of this cache, so their
            // slab is a live slab of this cache; we hold the lock (`node`).
            unsafe { self.slab_free(node, &rest[..n], discards, may_discard) };
            rest = &rest[n..];
        }
        objects.clear();
    }

    /// `__slab_free()` of a detached freelist: `group` (tagged entries, all of one
    /// slab) goes back to its slab, which moves between the lists or is discarded.
    ///
    /// # Safety
    /// The entries are distinct objects of one live slab of this cache, not in its
    /// freelist; the caller holds the lock (`node`).
    unsafe fn slab_free(
        &self,
        node: &mut Node<T>,
        group: &[*mut T],
        discards: &mut Vec<NonNull<SlabMeta>>,
        may_discard: bool,
    ) {
        let slab = slab_of(group[0].cast_const().cast());
        // SAFETY: the caller's promise.
        let m = unsafe { meta(slab) };
        // Relaxed: set when the slab was made, under this lock.
        debug_assert_eq!(
            m.cache.load(Ordering::Relaxed).cast_const(),
            ptr::from_ref(self).cast(),
            "an object of another cache"
        );
        let (mut bits, mut immediate) = (0u64, 0u64);
        for &e in group {
            let bit = 1u64 << Self::index(e);
            bits |= bit;
            if e as usize & IMMEDIATE != 0 {
                immediate |= bit;
            }
        }
        debug_assert_eq!(bits.count_ones() as usize, group.len(), "a double free");
        // Relaxed (every metadata access under the lock): the lock orders them.
        let free = m.free.load(Ordering::Relaxed);
        debug_assert_eq!(free & bits, 0, "a double free");
        let was_full = free == 0;
        m.free.store(free | bits, Ordering::Relaxed);
        let old = m.immediate.load(Ordering::Relaxed);
        m.immediate
            .store((old & !bits) | immediate, Ordering::Relaxed);
        let inuse = m.inuse.load(Ordering::Relaxed) - group.len() as u32;
        m.inuse.store(inuse, Ordering::Relaxed);

        if inuse == 0 && may_discard && node.partial.len >= self.config.min_partial {
            // slab_empty: off its list and out of the cache.
            // SAFETY: a full slab is on the full list, any other on the partial list.
            unsafe {
                if was_full {
                    node.full.remove(slab);
                } else {
                    node.partial.remove(slab);
                }
            }
            m.state.store(state::DISCARDING, Ordering::Relaxed);
            discards.push(slab);
        } else if was_full {
            // SAFETY: as above; then on no list.
            unsafe {
                node.full.remove(slab);
                node.partial.push_tail(slab);
            }
            m.state.store(state::PARTIAL, Ordering::Relaxed);
        }
    }

    /// `__free_slab()` of a normal cache's discarded slab: the page goes back now.
    ///
    /// # Safety
    /// `slab` was taken off this cache's lists for discarding, by `slab_free` or
    /// `shrink`, and the cache is not SLAB_TYPESAFE_BY_RCU.
    unsafe fn discard_now(&self, slab: NonNull<SlabMeta>) {
        debug_assert!(!self.config.typesafe);
        // SAFETY: every object is back in the slab and the slab is on no list, so
        // nothing reaches it; a normal cache's readers never outlive a free.
        unsafe { self.pages.free_page(slab) };
        bump(&self.stats.slabs_discarded, 1);
    }

    /// An object freed after a grace period: into the remote sheaf, which moves to
    /// the barn when full (or is flushed if the barn is full): `rcu_free_sheaf()`.
    #[cold]
    fn free_remote(&self, obj: NonNull<T>) {
        debug_assert!(
            !self.config.typesafe,
            "a SLAB_TYPESAFE_BY_RCU cache frees objects at once, never after a grace period"
        );
        let mut discards = Vec::new();
        {
            let mut guard = self.lock();
            let node = &mut *guard;
            node.remote.objects.push(obj.as_ptr());
            bump(&self.stats.freed_after_gp, 1);
            if node.remote.len() >= self.config.sheaf_capacity {
                if node.barn_full.len() < self.config.max_full_sheaves {
                    let empty = node
                        .barn_empty
                        .pop()
                        .unwrap_or_else(|| Sheaf::with_capacity(self.config.sheaf_capacity));
                    let full = mem::replace(&mut node.remote, empty);
                    node.barn_full.push(full);
                } else {
                    let mut remote = mem::replace(&mut node.remote, Sheaf::none());
                    // Never discard a typesafe cache's slab without a grace period,
                    // even if it wrongly receives these frees.
                    self.flush(node, &mut remote, &mut discards, !self.config.typesafe);
                    node.remote = remote;
                }
            }
        }
        for slab in discards {
            // SAFETY: taken off the lists by `flush`, not typesafe (else no discards).
            unsafe { self.discard_now(slab) };
        }
    }
}

impl<T: SlabObject> KmemCache<T> {
    /// A cache of `T` taking its slabs from `pages` (`kmem_cache_create()` with a
    /// constructor).
    ///
    /// # Panics
    /// If `T` has drop glue, is zero-sized, larger than a page, aligned to less
    /// than 2 bytes (the tag bit) or more than a page, or so small that a slab
    /// would hold more than 64 objects; or if `sheaf_capacity` is 0.
    pub fn new(pages: Arc<PageAllocator>, config: CacheConfig) -> Self {
        assert!(!needs_drop::<T>(), "slab objects have no drop glue");
        assert!(size_of::<T>() > 0 && size_of::<T>() <= PAGE_SIZE);
        assert!((2..=PAGE_SIZE).contains(&align_of::<T>()));
        let objs_per_slab = PAGE_SIZE / size_of::<T>();
        assert!(objs_per_slab <= 64, "a slab's freelist is a 64-bit bitmap");
        assert!(config.sheaf_capacity > 0);
        KmemCache {
            shared: Arc::new(Shared {
                config,
                objs_per_slab,
                pages,
                node: Mutex::new(Node {
                    partial: SlabList::new(),
                    full: SlabList::new(),
                    barn_full: Vec::new(),
                    barn_empty: Vec::new(),
                    remote: Sheaf::with_capacity(config.sheaf_capacity),
                }),
                stats: Counts::new(),
            }),
        }
    }

    /// The cache's settings.
    pub fn config(&self) -> CacheConfig {
        self.shared.config
    }

    /// Objects per slab (`objs_per_slab`): `PAGE_SIZE / size_of::<T>()`.
    pub fn objs_per_slab(&self) -> usize {
        self.shared.objs_per_slab
    }

    /// The page allocator the cache's slabs come from.
    pub fn page_allocator(&self) -> &Arc<PageAllocator> {
        &self.shared.pages
    }

    /// Sheaves for the calling thread (a CPU's `slub_percpu_sheaves`), starting
    /// with an empty main sheaf.
    pub fn sheaves(&self) -> Sheaves<'_, T> {
        let capacity = self.shared.config.sheaf_capacity;
        Sheaves {
            cache: self,
            capacity,
            main: Sheaf::with_capacity(capacity),
            spare: None,
            pending: Pending::default(),
        }
    }

    /// `kmem_cache_alloc()`: an object from the main sheaf; else the spare if it
    /// has objects; else a full sheaf from the barn; else a sheaf refilled from
    /// partial slabs, then new slabs from the page allocator.
    ///
    /// # Panics
    /// If `s` belongs to another cache.
    #[inline]
    pub fn alloc(&self, s: &mut Sheaves<'_, T>) -> Allocated<T> {
        assert!(ptr::eq(self, s.cache), "sheaves of another cache");
        let entry = match s.main.objects.pop() {
            Some(e) => e,
            None => self.alloc_slow(s),
        };
        let tag = entry as usize & IMMEDIATE;
        s.pending.allocated += 1;
        s.pending.reused += tag as u64;
        // SAFETY: a sheaf entry is the address of an object in a data page of an
        // arena with at most the tag bit added; without it, it is that address,
        // which is not null.
        let obj = unsafe { NonNull::new_unchecked(entry.wrapping_byte_sub(tag)) };
        Allocated {
            obj,
            reused_before_gp: tag != 0,
        }
    }

    /// `kmem_cache_free()`: an immediate free, the object may be handed out again
    /// at once. Pushes to the main sheaf; if it is full: swap with a spare that is
    /// not full, else put main into the barn for an empty sheaf, else (the barn
    /// holds `max_full_sheaves`) flush the spare to its slabs and use it. A slab
    /// emptied by that flush beyond `min_partial` is discarded: a normal cache
    /// gives its page back now; a typesafe cache calls `release` with it (after
    /// dropping its lock), and the caller queues it with `call_rcu`.
    ///
    /// # Safety
    /// `obj` was allocated from this cache and is not freed twice; the caller gives
    /// it up (in a normal cache no reader may still use it: it may be handed out,
    /// or its page given back, at once).
    ///
    /// # Panics
    /// If `s` belongs to another cache.
    #[inline]
    pub unsafe fn free(
        &self,
        s: &mut Sheaves<'_, T>,
        obj: NonNull<T>,
        release: &mut impl FnMut(SlabRef<T>),
    ) {
        assert!(ptr::eq(self, s.cache), "sheaves of another cache");
        if s.main.len() >= s.capacity {
            self.free_slow(s, release);
        }
        s.main
            .objects
            .push(obj.as_ptr().wrapping_byte_add(IMMEDIATE));
        s.pending.freed += 1;
    }

    /// `__pcs_replace_empty_main()`: main is empty.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, s: &mut Sheaves<'_, T>) -> *mut T {
        if let Some(spare) = s.spare.as_mut().filter(|sp| !sp.is_empty()) {
            mem::swap(&mut s.main, spare);
        } else {
            self.publish(&mut s.pending);
            let mut guard = self.shared.lock();
            let node = &mut *guard;
            if let Some(full) = node.barn_full.pop() {
                // barn_replace_empty_sheaf(): the number of sheaves is unchanged,
                // so the empty-sheaf limit is not checked.
                let empty = mem::replace(&mut s.main, full);
                node.barn_empty.push(empty);
            } else {
                let mut sheaf = s
                    .spare
                    .take()
                    .or_else(|| node.barn_empty.pop())
                    .unwrap_or_else(|| Sheaf::with_capacity(s.capacity));
                self.refill(node, &mut sheaf);
                drop(guard);
                s.spare = Some(mem::replace(&mut s.main, sheaf));
            }
        }
        s.main
            .objects
            .pop()
            .expect("a replaced main sheaf is not empty")
    }

    /// `__pcs_replace_full_main()`: main is full.
    #[cold]
    #[inline(never)]
    fn free_slow(&self, s: &mut Sheaves<'_, T>, release: &mut dyn FnMut(SlabRef<T>)) {
        if let Some(spare) = s.spare.as_mut().filter(|sp| sp.len() < s.capacity) {
            mem::swap(&mut s.main, spare);
            return;
        }
        self.publish(&mut s.pending);
        let cfg = self.shared.config;
        let mut discards = Vec::new();
        {
            let mut guard = self.shared.lock();
            let node = &mut *guard;
            match s.spare.take() {
                None => {
                    // barn_get_empty_sheaf(), else alloc_empty_sheaf().
                    let empty = node
                        .barn_empty
                        .pop()
                        .unwrap_or_else(|| Sheaf::with_capacity(s.capacity));
                    s.spare = Some(mem::replace(&mut s.main, empty));
                }
                Some(mut spare) if node.barn_full.len() >= cfg.max_full_sheaves => {
                    // -E2BIG: flush the full spare to its slabs; it becomes the
                    // empty main and main the spare (__pcs_install_empty_sheaf()).
                    self.shared.flush(node, &mut spare, &mut discards, true);
                    s.spare = Some(mem::replace(&mut s.main, spare));
                }
                Some(spare) => {
                    // barn_replace_full_sheaf(), or with no empty sheaf in the barn
                    // a new one (the -ENOMEM path then puts main into the barn).
                    let empty = node
                        .barn_empty
                        .pop()
                        .unwrap_or_else(|| Sheaf::with_capacity(s.capacity));
                    node.barn_full.push(mem::replace(&mut s.main, empty));
                    s.spare = Some(spare);
                }
            }
        }
        self.finish_discards(discards, release);
    }

    /// `refill_objects()`: fill `sheaf` from partial slabs (head first), then from
    /// new slabs; a new slab with objects left goes to the head of the partial list.
    fn refill(&self, node: &mut Node<T>, sheaf: &mut Sheaf<T>) {
        let sh = &*self.shared;
        while sheaf.len() < sh.config.sheaf_capacity {
            let Some(slab) = node.partial.first() else {
                break;
            };
            // SAFETY: on this cache's partial list: a live slab of the cache; we
            // hold the lock (`node`).
            if unsafe { sh.take_objects(slab, sheaf) } {
                // SAFETY: on the partial list; then on none.
                // Relaxed (the state): under the lock.
                unsafe {
                    node.partial.remove(slab);
                    node.full.push_head(slab);
                    meta(slab).state.store(state::FULL, Ordering::Relaxed);
                }
            }
        }
        while sheaf.len() < sh.config.sheaf_capacity {
            let slab = self.new_slab();
            // SAFETY: just made for this cache; on no list yet; we hold the lock.
            // Relaxed (the states): under the lock.
            unsafe {
                let m = meta(slab);
                if sh.take_objects(slab, sheaf) {
                    node.full.push_head(slab);
                    m.state.store(state::FULL, Ordering::Relaxed);
                } else {
                    node.partial.push_head(slab);
                    m.state.store(state::PARTIAL, Ordering::Relaxed);
                }
            }
        }
    }

    /// `allocate_slab()`: a page from the page allocator, every object constructed.
    /// Called under the cache's lock; the slab is on no list yet.
    fn new_slab(&self) -> NonNull<SlabMeta> {
        let sh = &*self.shared;
        let slab = sh.pages.alloc_page();
        let page = page_of(slab);
        for i in 0..sh.objs_per_slab {
            // SAFETY: object `i` lies inside the page (objs_per_slab objects of
            // size_of::<T>() fit in PAGE_SIZE), is aligned (the page is aligned to
            // PAGE_SIZE >= align_of::<T>() and size_of is a multiple of align_of),
            // and the page was free: nothing refers to its memory.
            unsafe { Shared::<T>::object(page, i).write(T::construct()) };
        }
        // SAFETY: handed out by the page allocator just now.
        let m = unsafe { meta(slab) };
        // Relaxed (these stores): the lock orders them for this cache's other
        // users; `free_after_gp` reads `cache` only for objects handed out after
        // this, through the caller's own synchronisation.
        m.cache.store(
            Arc::as_ptr(&self.shared).cast_mut().cast(),
            Ordering::Relaxed,
        );
        let all = if sh.objs_per_slab == 64 {
            u64::MAX
        } else {
            (1u64 << sh.objs_per_slab) - 1
        };
        m.free.store(all, Ordering::Relaxed);
        m.immediate.store(0, Ordering::Relaxed);
        m.inuse.store(0, Ordering::Relaxed);
        bump(&sh.stats.slabs_created, 1);
        slab
    }

    /// `free_slab()` of the slabs `flush` took off the lists: a normal cache's page
    /// goes back now; a typesafe cache's slab goes to `release` (`call_rcu`).
    fn finish_discards(
        &self,
        discards: Vec<NonNull<SlabMeta>>,
        release: &mut dyn FnMut(SlabRef<T>),
    ) {
        let sh = &*self.shared;
        for slab in discards {
            if sh.config.typesafe {
                // SAFETY: taken off this cache's lists by `flush`: a live slab.
                let m = unsafe { meta(slab) };
                // Relaxed: the slab is ours alone now; `call_rcu` hands it on with
                // its own ordering.
                m.state.store(state::RCU_PENDING, Ordering::Relaxed);
                // One strong reference per pending slab, given up by its reclaim,
                // so the cache's state outlives the grace period.
                let cache = Arc::into_raw(Arc::clone(&self.shared));
                debug_assert_eq!(
                    cache.cast::<()>(),
                    m.cache.load(Ordering::Relaxed).cast_const()
                );
                bump(&sh.stats.slabs_released, 1);
                release(SlabRef(slab.cast()));
            } else {
                // SAFETY: taken off the lists by `flush`; not typesafe.
                unsafe { sh.discard_now(slab) };
            }
        }
    }

    /// Publish a thread's counts.
    fn publish(&self, p: &mut Pending) {
        let c = &self.shared.stats;
        bump(&c.allocated, p.allocated);
        bump(&c.reused, p.reused);
        bump(&c.freed_immediate, p.freed);
        *p = Pending::default();
    }

    /// `kmem_cache_shrink()`: flush the barn's full sheaves and the remote sheaf to
    /// the slabs, free the barn's empty sheaves, and discard every empty slab
    /// (`min_partial` does not apply): a typesafe cache's go to `release`.
    /// Threads' own sheaves are left alone.
    pub fn shrink(&self, release: &mut impl FnMut(SlabRef<T>)) {
        let sh = &*self.shared;
        let mut discards = Vec::new();
        {
            let mut guard = sh.lock();
            let node = &mut *guard;
            let mut sheaves = mem::take(&mut node.barn_full);
            sheaves.push(mem::replace(
                &mut node.remote,
                Sheaf::with_capacity(sh.config.sheaf_capacity),
            ));
            for mut sheaf in sheaves {
                sh.flush(node, &mut sheaf, &mut discards, true);
            }
            node.barn_empty.clear();
            // SAFETY: the list only changes through its methods.
            for slab in unsafe { node.partial.walk() } {
                // SAFETY: a member of the partial list: a live slab of the cache.
                let m = unsafe { meta(slab) };
                // Relaxed: under the lock.
                if m.inuse.load(Ordering::Relaxed) == 0 {
                    // SAFETY: on the partial list.
                    unsafe { node.partial.remove(slab) };
                    m.state.store(state::DISCARDING, Ordering::Relaxed);
                    discards.push(slab);
                }
            }
        }
        self.finish_discards(discards, release);
    }

    /// The cache's statistics (see [`CacheStats`]).
    pub fn stats(&self) -> CacheStats {
        let c = &self.shared.stats;
        // Relaxed: statistics.
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStats {
            allocated: get(&c.allocated),
            reused_before_gp: get(&c.reused),
            freed_immediate: get(&c.freed_immediate),
            freed_after_gp: get(&c.freed_after_gp),
            slabs_created: get(&c.slabs_created),
            slabs_discarded: get(&c.slabs_discarded),
            slabs_released: get(&c.slabs_released),
            slabs_rcu_freed: get(&c.slabs_rcu_freed),
        }
    }

    /// Walk the cache's lists and barn under its lock.
    pub fn census(&self) -> SlabCensus {
        let guard = self.shared.lock();
        let mut c = SlabCensus::default();
        // SAFETY: the lists only change through their methods; we hold the lock.
        let (partial, full) = unsafe { (guard.partial.walk(), guard.full.walk()) };
        for slab in &partial {
            // SAFETY: a member of the partial list: a live slab of the cache.
            let m = unsafe { meta(*slab) };
            // Relaxed: under the lock.
            let free = m.free.load(Ordering::Relaxed);
            c.free_objects += u64::from(free.count_ones());
            if m.inuse.load(Ordering::Relaxed) == 0 {
                c.empty += 1;
            }
        }
        c.partial = partial.len() as u64;
        c.full = full.len() as u64;
        c.barn_full = guard.barn_full.len() as u64;
        c.barn_empty = guard.barn_empty.len() as u64;
        c.objects_in_barn = guard
            .barn_full
            .iter()
            .chain([&guard.remote])
            .map(|s| s.len() as u64)
            .sum();
        c
    }
}

/// Free an object after a grace period: the callback of its `call_rcu`, or a
/// hazard-pointer reclaimer. Finds the cache from the object's slab and frees into
/// the cache's remote sheaf (see the module documentation). The object is not
/// reused before a grace period.
///
/// # Safety
/// `obj` was allocated from a [`KmemCache<T>`] that is still alive, that is not
/// SLAB_TYPESAFE_BY_RCU, and it is not freed twice; no reader can reach it any
/// more.
pub unsafe fn free_after_gp<T: SlabObject>(obj: NonNull<T>) {
    let slab = slab_of(obj.as_ptr().cast_const().cast());
    // SAFETY: the caller's promise: the object is in a slab of a live cache, in a
    // live arena.
    let m = unsafe { meta(slab) };
    // Relaxed: the pointer was stored when the slab was made, before the object was
    // first handed out; the object reached this thread through the caller's own
    // synchronisation (the flavour's callback queue), which orders that store
    // before this load.
    let cache = m.cache.load(Ordering::Relaxed);
    // SAFETY: a slab's cache pointer is its cache's shared state (`Arc::as_ptr`),
    // alive while the cache is (the caller's promise).
    let shared = unsafe { &*cache.cast_const().cast::<Shared<T>>() };
    shared.free_remote(obj);
}

// SAFETY: `head` returns the slab's own `rcu_head` field, and `from_head` maps that
// field's address back to the slab (`container_of`).
unsafe impl<T: SlabObject> Deferrable for Slab<T> {
    fn head(&self) -> &RcuHead {
        &self.meta.rcu_head
    }

    unsafe fn from_head(head: *mut RcuHead) -> NonNull<Self> {
        // `Slab` is a transparent wrapper of `SlabMeta`.
        let slab = head
            .wrapping_byte_sub(offset_of!(SlabMeta, rcu_head))
            .cast::<Self>();
        NonNull::new(slab).expect("a live head is not at address zero")
    }

    /// `rcu_free_slab()`: give the page back and the pending slab's reference to
    /// its cache.
    unsafe fn reclaim(this: NonNull<Self>) {
        let slab = this.cast::<SlabMeta>();
        // SAFETY: `this` was queued by one `call_rcu` (the caller's promise) from a
        // `SlabRef` a typesafe cache released: a slab in a live arena, since the
        // cache state it references keeps its page allocator alive.
        let m = unsafe { meta(slab) };
        // Relaxed (both loads): written by the releasing thread before `call_rcu`,
        // whose queue orders them before this callback.
        debug_assert_eq!(m.state.load(Ordering::Relaxed), state::RCU_PENDING);
        let cache = m
            .cache
            .load(Ordering::Relaxed)
            .cast_const()
            .cast::<Shared<T>>();
        // SAFETY: `finish_discards` turned one strong reference into this pointer
        // (`Arc::into_raw`) when it released the slab; this callback runs once.
        let shared = unsafe { Arc::from_raw(cache) };
        // SAFETY: the slab left its cache's lists before it was released, with
        // every object free, and a grace period has passed since (the caller's
        // promise): no reader can still hold one of its objects.
        unsafe { shared.pages.free_page(slab) };
        bump(&shared.stats.slabs_rcu_freed, 1);
    }
}

impl<'c, T: SlabObject> Sheaves<'c, T> {
    /// The cache these sheaves belong to.
    pub fn cache(&self) -> &'c KmemCache<T> {
        self.cache
    }

    /// Objects held in the main and spare sheaves.
    pub fn len(&self) -> usize {
        self.main.len() + self.spare.as_ref().map_or(0, Sheaf::len)
    }

    /// No object held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `pcs_flush_all()`: return every object to its slab (not to the barn),
    /// discarding emptied slabs beyond `min_partial` (a typesafe cache's through
    /// `release`), then drop the sheaves.
    pub fn flush(mut self, release: &mut impl FnMut(SlabRef<T>)) {
        let cache = self.cache;
        let sh = &*cache.shared;
        let mut discards = Vec::new();
        {
            let mut guard = sh.lock();
            let node = &mut *guard;
            if let Some(spare) = self.spare.as_mut() {
                sh.flush(node, spare, &mut discards, true);
            }
            sh.flush(node, &mut self.main, &mut discards, true);
        }
        cache.finish_discards(discards, release);
        // `drop` publishes the counts and gives the empty sheaves to the barn.
    }
}

impl<T: SlabObject> Drop for Sheaves<'_, T> {
    fn drop(&mut self) {
        let cache = self.cache;
        cache.publish(&mut self.pending);
        let sh = &*cache.shared;
        let main = mem::replace(&mut self.main, Sheaf::none());
        let spare = self.spare.take();
        let mut guard = sh.lock();
        for sheaf in [Some(main), spare].into_iter().flatten() {
            if !sheaf.is_empty() {
                guard.barn_full.push(sheaf);
            } else if guard.barn_empty.len() < sh.config.max_empty_sheaves {
                guard.barn_empty.push(sheaf);
            }
        }
    }
}

impl<T: SlabObject> Drop for KmemCache<T> {
    fn drop(&mut self) {
        let sh = &*self.shared;
        let mut guard = sh.lock();
        let node = &mut *guard;
        // Every sheaf left is in the barn or the remote sheaf (no `Sheaves` can
        // outlive the cache): back to the slabs, without discarding.
        let mut none = Vec::new();
        let mut sheaves = mem::take(&mut node.barn_full);
        sheaves.push(mem::replace(&mut node.remote, Sheaf::none()));
        for mut sheaf in sheaves {
            sh.flush(node, &mut sheaf, &mut none, false);
        }
        debug_assert!(none.is_empty());
        // SAFETY: the lists only change through their methods; we hold the lock.
        let partial = unsafe { node.partial.walk() };
        let busy = node.full.len
            + partial
                .iter()
                // SAFETY: members of the partial list: live slabs of the cache.
                // Relaxed: under the lock.
                .filter(|&&s| unsafe { meta(s) }.inuse.load(Ordering::Relaxed) != 0)
                .count();
        if busy != 0 {
            // Objects are still out: leak the pages rather than free memory that
            // someone may use.
            if !std::thread::panicking() {
                panic!("kmem_cache dropped with objects still allocated in {busy} slabs");
            }
            return;
        }
        for slab in partial {
            // SAFETY: on the partial list; every object is free and no `Sheaves`
            // exists; the owner promises no reader holds an object of a dropped
            // cache (see the module documentation).
            unsafe {
                node.partial.remove(slab);
                sh.pages.free_page(slab);
            }
        }
    }
}

impl<T: SlabObject> fmt::Debug for KmemCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmemCache")
            .field("object_size", &size_of::<T>())
            .field("objs_per_slab", &self.shared.objs_per_slab)
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<T: SlabObject> fmt::Debug for Sheaves<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sheaves")
            .field("main", &self.main.len())
            .field("spare", &self.spare.as_ref().map(Sheaf::len))
            .finish()
    }
}

#[cfg(all(test, not(vma_bench_loom)))]
mod tests;
