//! Tests of the slab cache: single-thread sequences against known answers and a
//! reference model, min_partial and SLAB_TYPESAFE_BY_RCU releases, and threads
//! that claim every object they get.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::mem::offset_of;
use std::ptr::NonNull;
use std::sync::{mpsc, Arc, Mutex as StdMutex};
use std::thread;

use super::*;
use crate::model::page::{slab_of, PageAllocator, PAGE_SIZE};
use crate::rcu::{Deferrable, RcuHead};
use crate::rng::Rng;
use crate::sync::atomic::{AtomicU64, Ordering};

/// A 192-byte object like a VMA: an `rcu_head`, an owner, and a body.
#[repr(C)]
struct Obj {
    head: RcuHead,
    /// 0 while free; the thread id of the owner while allocated.
    owner: AtomicU64,
    body: [AtomicU64; 21],
}

// SAFETY: `head` returns the `head` field and `from_head` is its container_of.
unsafe impl Deferrable for Obj {
    fn head(&self) -> &RcuHead {
        &self.head
    }

    unsafe fn from_head(head: *mut RcuHead) -> NonNull<Self> {
        NonNull::new(head.wrapping_byte_sub(offset_of!(Obj, head)).cast()).unwrap()
    }

    unsafe fn reclaim(this: NonNull<Self>) {
        // SAFETY: a grace period passed since `this` left every reader (the
        // caller's promise); the tests only call_rcu objects of normal caches.
        unsafe { free_after_gp(this) };
    }
}

// SAFETY: every field but the head is an atomic; the head is only used by
// call_rcu; no drop glue.
unsafe impl SlabObject for Obj {
    fn construct() -> Self {
        Obj {
            head: RcuHead::new(),
            owner: AtomicU64::new(0),
            body: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn owner<'a>(o: NonNull<Obj>) -> &'a AtomicU64 {
    // SAFETY: objects of the tests' caches stay valid `Obj`s until their cache is
    // dropped, after every use; the field is an atomic.
    unsafe { &(*o.as_ptr()).owner }
}

/// The tests' `call_rcu` for slabs: released slabs queue here, and the test runs
/// their callbacks when it decides a grace period has passed.
#[derive(Default)]
struct Deferred(Vec<SlabRef<Obj>>);

impl Deferred {
    fn release(&mut self) -> impl FnMut(SlabRef<Obj>) + '_ {
        |slab| self.0.push(slab)
    }

    /// The grace period ends: run every queued callback; how many ran.
    fn run(&mut self) -> usize {
        let n = self.0.len();
        for slab in self.0.drain(..) {
            // SAFETY: queued once; no reader of the test holds an object of it.
            unsafe { Slab::reclaim(slab.as_ptr()) };
        }
        n
    }
}

/// The `release` of a normal cache, which never releases a slab.
fn never(_: SlabRef<Obj>) {
    panic!("a normal cache released a slab to call_rcu");
}

fn new_cache(config: CacheConfig) -> (Arc<PageAllocator>, KmemCache<Obj>) {
    let pages = Arc::new(PageAllocator::new());
    let cache = KmemCache::new(Arc::clone(&pages), config);
    (pages, cache)
}

/// Free `obj` at once into `s`.
fn free_now(
    cache: &KmemCache<Obj>,
    s: &mut Sheaves<'_, Obj>,
    obj: NonNull<Obj>,
    release: &mut impl FnMut(SlabRef<Obj>),
) {
    // SAFETY: the tests free each object they allocated once, and no reader uses
    // it afterwards.
    unsafe { cache.free(s, obj, release) };
}

/// A pointer that may cross to a "callback thread".
struct SendObj(NonNull<Obj>);
// SAFETY: `Obj` is `Sync`; ownership moves with the message.
unsafe impl Send for SendObj {}

/// Compiled, not run: what may cross threads.
#[allow(dead_code)]
fn thread_safety() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<KmemCache<Obj>>();
    send_sync::<PageAllocator>();
    send::<Sheaves<'static, Obj>>();
    send::<SlabRef<Obj>>();
}

#[test]
fn the_test_object_is_a_vma_sized_object() {
    assert_eq!(size_of::<Obj>(), 192);
    let (_, cache) = new_cache(CacheConfig::SLUB);
    assert_eq!(
        cache.objs_per_slab(),
        21,
        "as /sys/kernel/slab/vm_area_struct"
    );
}

#[test]
fn new_slabs_follow_refills_of_whole_sheaves() {
    for n in [1usize, 21, 32, 33, 64, 100, 672, 1000] {
        let (pages, cache) = new_cache(CacheConfig::SLUB);
        let mut s = cache.sheaves();
        let got: Vec<_> = (0..n).map(|_| cache.alloc(&mut s)).collect();
        // Each refill takes a whole sheaf of 32 from slabs of 21, partial slabs
        // first, so slabs are packed: ceil(32 * refills / 21).
        let expected = (32 * n.div_ceil(32)).div_ceil(21) as u64;
        assert_eq!(pages.stats().live, expected, "pages live, n = {n}");
        assert_eq!(cache.stats().slabs_created, expected, "created, n = {n}");
        assert_eq!(cache.census().slabs(), expected, "on the lists, n = {n}");
        assert!(
            got.iter().all(|a| !a.reused_before_gp),
            "new objects are fresh"
        );
        for a in got {
            free_now(&cache, &mut s, a.obj, &mut never);
        }
    }
}

#[test]
fn objects_are_aligned_distinct_and_whole_inside_their_slab() {
    let (_, cache) = new_cache(CacheConfig::SLUB);
    let mut s = cache.sheaves();
    let got: Vec<_> = (0..500).map(|_| cache.alloc(&mut s).obj).collect();
    let distinct: HashSet<_> = got.iter().collect();
    assert_eq!(distinct.len(), got.len(), "an object handed out twice");
    for &o in &got {
        let addr = o.as_ptr() as usize;
        let offset = addr % PAGE_SIZE;
        assert_eq!(addr % align_of::<Obj>(), 0);
        assert_eq!(
            offset % size_of::<Obj>(),
            0,
            "objects sit at multiples of their size"
        );
        assert!(
            offset + size_of::<Obj>() <= PAGE_SIZE,
            "an object crosses its page"
        );
        assert_eq!(
            page_of(slab_of(o.as_ptr().cast())).as_ptr() as usize,
            addr - offset,
            "virt_to_slab finds the object's own page"
        );
    }
    for o in got {
        free_now(&cache, &mut s, o, &mut never);
    }
}

#[test]
fn a_freed_object_comes_back_first_and_is_marked_reused() {
    let (_, cache) = new_cache(CacheConfig::SLUB.typesafe(true));
    let mut d = Deferred::default();
    let mut s = cache.sheaves();
    let a = cache.alloc(&mut s).obj;
    let b = cache.alloc(&mut s).obj;
    free_now(&cache, &mut s, b, &mut d.release());
    free_now(&cache, &mut s, a, &mut d.release());
    let x = cache.alloc(&mut s);
    let y = cache.alloc(&mut s);
    let z = cache.alloc(&mut s);
    assert_eq!((x.obj, x.reused_before_gp), (a, true), "last in, first out");
    assert_eq!((y.obj, y.reused_before_gp), (b, true));
    assert!(!z.reused_before_gp, "never freed: fresh from its slab");
    assert_eq!(cache.stats().slabs_created, 2, "32 objects of 21 per slab");
    for o in [x.obj, y.obj, z.obj] {
        free_now(&cache, &mut s, o, &mut d.release());
    }
    drop(s);
    assert_eq!(cache.stats().reused_before_gp, 2);
}

#[test]
fn objects_freed_after_a_grace_period_come_back_unmarked() {
    let (pages, cache) = new_cache(CacheConfig::SLUB);
    let mut s = cache.sheaves();
    let got: Vec<_> = (0..64).map(|_| SendObj(cache.alloc(&mut s).obj)).collect();
    let freed: HashSet<_> = got.iter().map(|o| o.0).collect();
    let slabs = pages.stats().live;
    // The callbacks run on another thread, which has no sheaves.
    thread::scope(|sc| {
        sc.spawn(move || {
            for o in got {
                // SAFETY: allocated above, freed once, no reader.
                unsafe { free_after_gp(o.0) };
            }
        });
    });
    let census = cache.census();
    assert_eq!(
        census.barn_full, 2,
        "two full remote sheaves went to the barn"
    );
    assert_eq!(census.objects_in_barn, 64);
    // Main and spare are empty: the next allocations take the barn's sheaves.
    let again: Vec<_> = (0..64).map(|_| cache.alloc(&mut s)).collect();
    assert!(
        again.iter().all(|a| !a.reused_before_gp),
        "each waited for a grace period"
    );
    let back: HashSet<_> = again.iter().map(|a| a.obj).collect();
    assert_eq!(back, freed, "the barn served exactly the freed objects");
    assert_eq!(pages.stats().live, slabs, "no new slab");
    assert_eq!(cache.stats().freed_after_gp, 64);
    for a in again {
        free_now(&cache, &mut s, a.obj, &mut never);
    }
}

/// How an object was last freed, in the reference model.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LastFree {
    Immediate,
    AfterGp,
}

#[test]
fn random_sequences_match_a_reference_model() {
    // No slab is ever discarded, so an address always names the same object; small
    // sheaves and a barn of one full sheaf, so that objects often go back to their
    // slabs and come out again.
    let config = CacheConfig {
        sheaf_capacity: 8,
        min_partial: usize::MAX,
        max_full_sheaves: 1,
        max_empty_sheaves: 1,
        typesafe: false,
    };
    let (pages, cache) = new_cache(config);
    let objs = cache.objs_per_slab() as u64;
    let cap = config.sheaf_capacity as u64;
    let mut rng = Rng::new(42, 0);
    let mut s = cache.sheaves();
    let mut live: Vec<NonNull<Obj>> = Vec::new();
    let mut live_set: HashSet<NonNull<Obj>> = HashSet::new();
    let mut last_free: HashMap<NonNull<Obj>, LastFree> = HashMap::new();
    let (mut allocs, mut immediate, mut after_gp, mut reused) = (0u64, 0u64, 0u64, 0u64);
    for step in 0..20_000 {
        // Phases of 1000 steps that mostly allocate or mostly free.
        let alloc_percent = if step / 1000 % 2 == 0 { 70 } else { 30 };
        let r = rng.below(100);
        if live.is_empty() || r < alloc_percent {
            let before = pages.stats().live;
            let a = cache.alloc(&mut s);
            allocs += 1;
            assert!(live_set.insert(a.obj), "step {step}: handed out twice");
            let expected = last_free.get(&a.obj) == Some(&LastFree::Immediate);
            assert_eq!(a.reused_before_gp, expected, "step {step}: reuse mark");
            reused += u64::from(expected);
            live.push(a.obj);
            if pages.stats().live > before {
                // A new slab only when main, spare and barn were empty: the free
                // objects were in the remote sheaf (< 32) and partial slabs (< 32).
                let free_before = before * objs - (live.len() as u64 - 1);
                assert!(
                    free_before < 2 * cap,
                    "step {step}: {free_before} free objects"
                );
            }
        } else {
            let o = live.swap_remove(rng.below(live.len() as u64) as usize);
            live_set.remove(&o);
            if r % 4 != 0 {
                free_now(&cache, &mut s, o, &mut never);
                last_free.insert(o, LastFree::Immediate);
                immediate += 1;
            } else {
                // SAFETY: allocated, freed once, no reader.
                unsafe { free_after_gp(o) };
                last_free.insert(o, LastFree::AfterGp);
                after_gp += 1;
            }
        }
    }
    for o in live.drain(..) {
        free_now(&cache, &mut s, o, &mut never);
        immediate += 1;
    }
    drop(s);
    let st = cache.stats();
    assert_eq!(
        (
            st.allocated,
            st.freed_immediate,
            st.freed_after_gp,
            st.reused_before_gp
        ),
        (allocs, immediate, after_gp, reused)
    );
    assert_eq!(st.slabs_discarded, 0);
    // Every object is back: in a slab's freelist or in the barn.
    let c = cache.census();
    assert_eq!(c.slabs(), pages.stats().live);
    assert_eq!(c.free_objects + c.objects_in_barn, c.slabs() * objs);
}

/// Allocate `slabs` whole slabs with sheaves of one slab each, then free them slab
/// by slab, so that each flush empties exactly one full slab; flush the sheaves.
/// The barn takes no full sheaf, so every overflow flushes.
fn fill_and_empty_slabs(
    cache: &KmemCache<Obj>,
    slabs: usize,
    release: &mut impl FnMut(SlabRef<Obj>),
) {
    let mut s = cache.sheaves();
    let n = slabs * cache.objs_per_slab();
    let mut by_slab: BTreeMap<usize, Vec<NonNull<Obj>>> = BTreeMap::new();
    for _ in 0..n {
        let o = cache.alloc(&mut s).obj;
        by_slab
            .entry(o.as_ptr() as usize & !(PAGE_SIZE - 1))
            .or_default()
            .push(o);
    }
    assert_eq!(by_slab.len(), slabs);
    for group in by_slab.into_values() {
        for o in group {
            free_now(cache, &mut s, o, release);
        }
    }
    s.flush(release);
}

fn one_slab_sheaves(typesafe: bool) -> CacheConfig {
    CacheConfig {
        sheaf_capacity: 21,
        max_full_sheaves: 0,
        ..CacheConfig::SLUB.typesafe(typesafe)
    }
}

#[test]
fn empty_slabs_beyond_min_partial_are_discarded_at_once() {
    let (pages, cache) = new_cache(one_slab_sheaves(false));
    fill_and_empty_slabs(&cache, 12, &mut never);
    // The first five emptied slabs stay on the partial list; the other seven go.
    let st = cache.stats();
    let c = cache.census();
    let p = pages.stats();
    assert_eq!(st.slabs_created, 12);
    assert_eq!((st.slabs_discarded, st.slabs_released), (7, 0));
    assert_eq!((c.partial, c.empty, c.full), (5, 5, 0));
    assert_eq!((p.live, p.given_back), (5, 7));
}

#[test]
fn typesafe_slabs_wait_for_their_grace_period() {
    let (pages, cache) = new_cache(one_slab_sheaves(true));
    let mut d = Deferred::default();
    fill_and_empty_slabs(&cache, 12, &mut d.release());
    let st = cache.stats();
    assert_eq!(d.0.len(), 7, "seven call_rcu of slabs");
    assert_eq!((st.slabs_released, st.slabs_discarded), (7, 0));
    assert_eq!(cache.census().slabs(), 5);
    assert_eq!(
        pages.stats().live,
        12,
        "released pages wait for their grace period"
    );
    assert_eq!(pages.stats().given_back, 0);
    // The grace period ends.
    assert_eq!(d.run(), 7);
    assert_eq!(pages.stats().live, 5);
    assert_eq!(pages.stats().given_back, 7);
    assert_eq!(cache.stats().slabs_rcu_freed, 7);
}

#[test]
fn a_released_slab_outlives_its_cache_until_its_grace_period() {
    let (pages, cache) = new_cache(one_slab_sheaves(true));
    let mut d = Deferred::default();
    fill_and_empty_slabs(&cache, 8, &mut d.release());
    assert_eq!(d.0.len(), 3);
    drop(cache);
    assert_eq!(
        pages.stats().live,
        3,
        "the cache gave back its own five pages"
    );
    d.run();
    let p = pages.stats();
    assert_eq!((p.live, p.handed_out, p.given_back), (0, 8, 8));
}

#[test]
fn shrink_discards_every_empty_slab() {
    let (pages, cache) = new_cache(CacheConfig::SLUB.typesafe(true));
    let mut d = Deferred::default();
    let mut s = cache.sheaves();
    let got: Vec<_> = (0..640).map(|_| cache.alloc(&mut s).obj).collect();
    for o in got {
        free_now(&cache, &mut s, o, &mut d.release());
    }
    drop(s);
    let released_before = d.0.len() as u64;
    cache.shrink(&mut d.release());
    let c = cache.census();
    assert_eq!(
        (c.slabs(), c.objects_in_barn),
        (0, 0),
        "everything went back"
    );
    let st = cache.stats();
    assert_eq!(st.slabs_released, d.0.len() as u64);
    assert_eq!(
        st.slabs_released, st.slabs_created,
        "every slab was released"
    );
    assert!(released_before < st.slabs_released);
    assert_eq!(
        pages.stats().live,
        st.slabs_created,
        "none given back before its grace period"
    );
    d.run();
    assert_eq!(pages.stats().live, 0);
}

#[test]
fn sheaves_dropped_by_one_thread_serve_another_without_new_slabs() {
    let (pages, cache) = new_cache(CacheConfig::SLUB);
    let mut s1 = cache.sheaves();
    // Four refills of 32: 100 objects handed out, 28 left in the main sheaf.
    let got: Vec<_> = (0..100).map(|_| cache.alloc(&mut s1).obj).collect();
    for &o in &got {
        free_now(&cache, &mut s1, o, &mut never);
    }
    assert_eq!(s1.len() as u64 + cache.census().objects_in_barn, 128);
    drop(s1);
    let slabs = pages.stats().live;
    let mut s2 = cache.sheaves();
    let again: Vec<_> = (0..128).map(|_| cache.alloc(&mut s2)).collect();
    assert_eq!(pages.stats().live, slabs, "the barn served them all");
    let reused: HashSet<_> = again
        .iter()
        .filter(|a| a.reused_before_gp)
        .map(|a| a.obj)
        .collect();
    assert_eq!(
        reused,
        got.into_iter().collect(),
        "exactly the freed ones are marked"
    );
    for x in again {
        free_now(&cache, &mut s2, x.obj, &mut never);
    }
}

#[test]
#[should_panic(expected = "objects still allocated")]
fn dropping_a_cache_with_an_object_out_panics() {
    let (_, cache) = new_cache(CacheConfig::SLUB);
    let mut s = cache.sheaves();
    let _kept = cache.alloc(&mut s);
    drop(s);
    drop(cache);
}

/// One stress worker's own tallies.
#[derive(Default)]
struct Tally {
    allocated: u64,
    immediate: u64,
    remote: u64,
    held: Vec<SendObj>,
}

/// A worker (a CPU): bursts of allocations, each object claimed with a CAS on its
/// owner, then frees down to a few, some immediately and some (normal caches
/// only) through a callback thread.
fn worker(
    cache: &KmemCache<Obj>,
    tid: u64,
    remote: Option<mpsc::Sender<SendObj>>,
    release: &mut impl FnMut(SlabRef<Obj>),
) -> Tally {
    let mut s = cache.sheaves();
    let mut rng = Rng::new(9, tid);
    let mut t = Tally::default();
    let mut held: Vec<NonNull<Obj>> = Vec::new();
    let mut last_freed = None;
    for _ in 0..30 {
        for _ in 0..200 + rng.below(500) {
            let a = cache.alloc(&mut s);
            // Acquire: pairs with the previous owner's Release below, so its
            // writes happen before ours. A failure means a double hand-out.
            let claim = owner(a.obj).compare_exchange(0, tid, Ordering::Acquire, Ordering::Relaxed);
            assert_eq!(claim, Ok(0), "thread {tid} got an object owned by another");
            held.push(a.obj);
            t.allocated += 1;
        }
        let keep = rng.below(8) as usize;
        while held.len() > keep {
            let o = held.swap_remove(rng.below(held.len() as u64) as usize);
            // Release: pairs with the next owner's Acquire claim.
            let put = owner(o).compare_exchange(tid, 0, Ordering::Release, Ordering::Relaxed);
            assert_eq!(put, Ok(tid), "thread {tid}'s object was taken while held");
            match &remote {
                Some(tx) if rng.below(4) == 0 => {
                    tx.send(SendObj(o)).unwrap();
                    t.remote += 1;
                }
                _ => {
                    free_now(cache, &mut s, o, release);
                    t.immediate += 1;
                    last_freed = Some(o);
                }
            }
        }
        if let (Some(o), true) = (last_freed, cache.config().typesafe) {
            // A stale reader: the object may be reused already, but in a typesafe
            // cache it stays an `Obj` until a grace period after its slab left.
            // Relaxed: only the value's range is checked.
            let v = owner(o).load(Ordering::Relaxed);
            assert!(v <= 4, "a typesafe object read {v}");
        }
    }
    t.held = held.into_iter().map(SendObj).collect();
    t
}

/// Run `threads` workers (and a callback thread for normal caches); the summed
/// tallies and the number of frees the callback thread made.
fn stress(
    cache: &KmemCache<Obj>,
    threads: u64,
    pending: &StdMutex<Vec<SlabRef<Obj>>>,
) -> (Tally, u64) {
    let typesafe = cache.config().typesafe;
    thread::scope(|sc| {
        let (tx, rx) = mpsc::channel::<SendObj>();
        let callbacks = sc.spawn(move || {
            let mut n = 0;
            for o in rx {
                // SAFETY: the worker gave the object up; freed once.
                unsafe { free_after_gp(o.0) };
                n += 1;
            }
            n
        });
        let workers: Vec<_> = (1..=threads)
            .map(|tid| {
                let tx = (!typesafe).then(|| tx.clone());
                sc.spawn(move || {
                    let mut release = |slab| pending.lock().unwrap().push(slab);
                    worker(cache, tid, tx, &mut release)
                })
            })
            .collect();
        drop(tx);
        let mut sum = Tally::default();
        for w in workers {
            let t = w.join().unwrap();
            sum.allocated += t.allocated;
            sum.immediate += t.immediate;
            sum.remote += t.remote;
            sum.held.extend(t.held);
        }
        (sum, callbacks.join().unwrap())
    })
}

#[test]
fn threads_never_share_an_object_and_the_counts_balance() {
    let (pages, cache) = new_cache(CacheConfig::SLUB);
    let pending = StdMutex::new(Vec::new());
    let (t, callbacks) = stress(&cache, 3, &pending);
    let st = cache.stats();
    assert_eq!(st.allocated, t.allocated);
    assert_eq!(st.freed_immediate, t.immediate);
    assert_eq!((st.freed_after_gp, callbacks), (t.remote, t.remote));
    assert_eq!(
        st.allocated,
        st.freed_immediate + st.freed_after_gp + t.held.len() as u64,
        "allocated = freed at once + freed after a grace period + held"
    );
    assert!(pending.lock().unwrap().is_empty());
    assert_eq!(pages.stats().live, cache.census().slabs());
    assert_eq!(
        pages.stats().live,
        st.slabs_created - st.slabs_discarded,
        "pages per the page allocator, slabs per the cache"
    );
    let mut s = cache.sheaves();
    for o in t.held {
        free_now(&cache, &mut s, o.0, &mut never);
    }
    drop(s);
    drop(cache);
    assert_eq!(pages.stats().live, 0);
}

#[test]
fn typesafe_threads_release_slabs_only_through_call_rcu() {
    let (pages, cache) = new_cache(CacheConfig::SLUB.typesafe(true));
    let pending = StdMutex::new(Vec::new());
    let (t, callbacks) = stress(&cache, 3, &pending);
    // However the threads interleaved, end with one burst that surely flushes
    // whole slabs past the barn and min_partial: 3000 objects, then all freed.
    let mut burst = Tally::default();
    {
        let mut s = cache.sheaves();
        let objs: Vec<_> = (0..3000).map(|_| cache.alloc(&mut s).obj).collect();
        burst.allocated = objs.len() as u64;
        let mut release = |slab| pending.lock().unwrap().push(slab);
        for o in objs {
            free_now(&cache, &mut s, o, &mut release);
        }
    }
    let mut d = Deferred(pending.into_inner().unwrap());
    let st = cache.stats();
    assert_eq!((t.remote, callbacks), (0, 0));
    assert_eq!(st.allocated, t.allocated + burst.allocated);
    assert_eq!(st.allocated, st.freed_immediate + t.held.len() as u64);
    assert_eq!(
        st.slabs_discarded, 0,
        "never a page back without a grace period"
    );
    assert!(
        st.slabs_released > 0,
        "the bursts emptied slabs beyond the barn and min_partial"
    );
    assert_eq!(st.slabs_released, d.0.len() as u64);
    assert_eq!(
        pages.stats().live,
        cache.census().slabs() + st.slabs_released,
        "released pages stay live until their grace period"
    );
    // Every worker has stopped: the grace period ends.
    d.run();
    assert_eq!(cache.stats().slabs_rcu_freed, st.slabs_released);
    assert_eq!(pages.stats().live, cache.census().slabs());
    let mut s = cache.sheaves();
    for o in t.held {
        free_now(&cache, &mut s, o.0, &mut d.release());
    }
    drop(s);
    drop(cache);
    d.run();
    assert_eq!(pages.stats().live, 0);
}
