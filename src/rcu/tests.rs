//! One generic test per property, instantiated for every flavour built.
//!
//! Test objects count their own reclaims and a shared tally, and are never
//! freed by their callback: their memory outlives the flavour, so a callback
//! that runs too early is caught by a flag instead of being a use-after-free.

use std::mem::offset_of;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// A test object: counts its reclaims, and adds each to a shared tally.
struct Obj {
    head: RcuHead,
    reclaims: AtomicU32,
    tally: Arc<AtomicUsize>,
}

impl Obj {
    fn new(tally: &Arc<AtomicUsize>) -> Self {
        Obj {
            head: RcuHead::new(),
            reclaims: AtomicU32::new(0),
            tally: Arc::clone(tally),
        }
    }

    fn reclaims(&self) -> u32 {
        // Relaxed: read after the flavour's drop or a join (which order it), or
        // polled, where only this counter's own value matters.
        self.reclaims.load(Ordering::Relaxed)
    }
}

// SAFETY: `head` is a field; `from_head` subtracts its offset; the fields are
// atomics and an `Arc`, fine to use from any thread.
unsafe impl Deferrable for Obj {
    fn head(&self) -> &RcuHead {
        &self.head
    }

    unsafe fn from_head(head: *mut RcuHead) -> NonNull<Self> {
        // SAFETY: `head` is the `head` field of a live `Obj` (the caller's
        // promise), so the object starts that many bytes before it.
        unsafe { NonNull::new_unchecked(head.byte_sub(offset_of!(Obj, head)).cast()) }
    }

    unsafe fn reclaim(this: NonNull<Self>) {
        // SAFETY: test objects outlive the flavour, so `this` is live.
        let this = unsafe { this.as_ref() };
        // Relaxed (both): counters read after the flavour's drop or a join, or
        // polled for their own value.
        this.reclaims.fetch_add(1, Ordering::Relaxed);
        this.tally.fetch_add(1, Ordering::Relaxed);
    }
}

/// Threads and objects per thread of the accounting test.
const THREADS: usize = 4;
const PER_THREAD: usize = 2000;

/// Several threads queue objects; after the flavour is dropped, the callbacks'
/// tally equals the call sites' count, and each object was reclaimed once.
fn accounting<R: Rcu>() {
    let tally = Arc::new(AtomicUsize::new(0));
    let objs: Vec<Vec<Obj>> = (0..THREADS)
        .map(|_| (0..PER_THREAD).map(|_| Obj::new(&tally)).collect())
        .collect();
    let calls = AtomicUsize::new(0);
    let rcu = R::new(&RcuSettings::default());
    thread::scope(|s| {
        for mine in &objs {
            let (rcu, calls) = (&rcu, &calls);
            s.spawn(move || {
                let mut t = rcu.register();
                let mut made = 0;
                for obj in mine {
                    let r = rcu.read_lock(&mut t);
                    rcu.read_unlock(&mut t, r);
                    // SAFETY: never published, queued once, and outlives the flavour.
                    unsafe { rcu.call_rcu(&mut t, NonNull::from(obj)) };
                    made += 1;
                    rcu.quiescent(&mut t);
                }
                // Relaxed: read after the scope joins this thread.
                calls.fetch_add(made, Ordering::Relaxed);
            });
        }
    });
    drop(rcu);
    // Relaxed (both): the joins and the flavour's drop order every increment
    // before these loads.
    let calls = calls.load(Ordering::Relaxed);
    assert_eq!(calls, THREADS * PER_THREAD);
    assert_eq!(tally.load(Ordering::Relaxed), calls, "callbacks run");
    for (i, obj) in objs.iter().flatten().enumerate() {
        assert_eq!(obj.reclaims(), 1, "object {i} reclaimed once");
    }
}

/// Writer steps in the grace-period test while the reader holds its section,
/// and the least time they take.
const WORK_STEPS: usize = 2000;
const WORK_TIME: Duration = Duration::from_millis(20);
/// How long anything in a test may wait before it counts as a failure.
const PATIENCE: Duration = Duration::from_secs(10);

/// One writer step: a read section, a new object queued, an operation's end.
// Boxed: a queued object must not move when `queued` grows.
#[allow(clippy::vec_box)]
fn step<'a, R: Rcu>(
    rcu: &'a R,
    t: &mut R::Thread<'a>,
    tally: &Arc<AtomicUsize>,
    queued: &mut Vec<Box<Obj>>,
) {
    let r = rcu.read_lock(t);
    rcu.read_unlock(t, r);
    let obj = Box::new(Obj::new(tally));
    // SAFETY: never published, queued once; the box outlives the flavour.
    unsafe { rcu.call_rcu(t, NonNull::from(&*obj)) };
    queued.push(obj);
    rcu.quiescent(t);
}

/// Spin (politely) until `flag` is set or `PATIENCE` runs out.
fn wait_for(flag: &AtomicBool) {
    let deadline = Instant::now() + PATIENCE;
    // Acquire: pairs with the Release store that sets the flag.
    while !flag.load(Ordering::Acquire) && Instant::now() < deadline {
        thread::yield_now();
    }
}

/// A reader holds a section in which it loaded an object; a writer unpublishes
/// it, queues it, and keeps the flavour busy. The object must not be reclaimed
/// before the reader leaves (the reader checks last thing inside), and must be
/// soon after (the reader also unregisters; the writer keeps driving).
///
/// `nested`: the reader registers twice and drops the inner registration before
/// its section, which must still protect it (it is still registered).
fn grace_period<R: Rcu>(nested: bool) {
    let tally = Arc::new(AtomicUsize::new(0));
    let target = Obj::new(&tally);
    let slot = AtomicPtr::new(NonNull::from(&target).as_ptr());
    let entered = AtomicBool::new(false);
    let worked = AtomicBool::new(false);
    let registered = Barrier::new(2);
    let rcu = R::new(&RcuSettings::default());
    let (seen_inside, (queued, in_time)) = thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut t = rcu.register();
            if nested {
                let mut inner = rcu.register();
                let r = rcu.read_lock(&mut inner);
                rcu.read_unlock(&mut inner, r);
                drop(inner);
            }
            registered.wait();
            let r = rcu.read_lock(&mut t);
            // Relaxed: the slot was filled before this thread was spawned,
            // which orders it; the writer empties it only after `entered`.
            let p = slot.load(Ordering::Relaxed);
            // Release: pairs with the writer's Acquire in `wait_for`, so the
            // writer unpublishes only after this load.
            entered.store(true, Ordering::Release);
            wait_for(&worked);
            // SAFETY: loaded inside this section; the object outlives the flavour.
            let seen = unsafe { &*p }.reclaims();
            rcu.read_unlock(&mut t, r);
            drop(t);
            seen
        });
        let writer = s.spawn(|| {
            let mut t = rcu.register();
            registered.wait();
            wait_for(&entered);
            // Relaxed: the object is not freed, only queued; the reader's load
            // is ordered before this by `entered`.
            let old = slot.swap(std::ptr::null_mut(), Ordering::Relaxed);
            // SAFETY: unpublished above, queued once, outlives the flavour.
            unsafe { rcu.call_rcu(&mut t, NonNull::new(old).expect("published")) };
            let mut queued = Vec::new();
            let start = Instant::now();
            let mut steps = 0;
            while steps < WORK_STEPS || start.elapsed() < WORK_TIME {
                step(&rcu, &mut t, &tally, &mut queued);
                steps += 1;
                if steps % 64 == 0 {
                    thread::yield_now();
                }
            }
            // Release: pairs with the reader's Acquire in `wait_for`.
            worked.store(true, Ordering::Release);
            let deadline = Instant::now() + PATIENCE;
            while target.reclaims() == 0 && Instant::now() < deadline {
                step(&rcu, &mut t, &tally, &mut queued);
                thread::sleep(Duration::from_micros(50));
            }
            let in_time = target.reclaims() == 1;
            drop(t);
            (queued, in_time)
        });
        (reader.join().unwrap(), writer.join().unwrap())
    });
    drop(rcu);
    assert_eq!(
        seen_inside, 0,
        "reclaimed inside a section that could see it"
    );
    assert!(
        in_time,
        "not reclaimed within {PATIENCE:?} of the reader leaving"
    );
    assert_eq!(target.reclaims(), 1);
    // Relaxed: the joins and the flavour's drop order every increment.
    assert_eq!(tally.load(Ordering::Relaxed), 1 + queued.len());
    assert!(queued.iter().all(|o| o.reclaims() == 1));
}

macro_rules! flavour_tests {
    ($module:ident, $flavour:ty) => {
        mod $module {
            #[test]
            fn accounting_is_exact() {
                super::accounting::<$flavour>();
            }

            #[test]
            fn grace_period_is_honoured() {
                super::grace_period::<$flavour>(false);
            }

            #[test]
            fn nested_registration_keeps_the_thread_registered() {
                super::grace_period::<$flavour>(true);
            }
        }
    };
}

flavour_tests!(epoch, crate::rcu::Epoch);
flavour_tests!(seize, crate::rcu::Seize);
#[cfg(vma_bench_urcu)]
flavour_tests!(urcu_memb, crate::rcu::UrcuMemb);
#[cfg(vma_bench_urcu)]
flavour_tests!(urcu_qsbr, crate::rcu::UrcuQsbr);

/// Registrations nest: liburcu sees one registration (it aborts on a second),
/// released by the last handle, and a thread can register again after.
#[cfg(vma_bench_urcu)]
fn registration_counts<R: Rcu>() {
    use super::urcu::registrations;
    let rcu = R::new(&RcuSettings::default());
    // A fresh thread: other tests share the test threads.
    thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(registrations(R::NAME), 0);
            let outer = rcu.register();
            let inner = rcu.register();
            assert_eq!(registrations(R::NAME), 2);
            drop(inner);
            assert_eq!(registrations(R::NAME), 1);
            drop(outer);
            assert_eq!(registrations(R::NAME), 0);
            let again = rcu.register();
            assert_eq!(registrations(R::NAME), 1);
            drop(again);
        });
    });
}

#[cfg(vma_bench_urcu)]
#[test]
fn urcu_memb_registration_counts() {
    registration_counts::<UrcuMemb>();
}

#[cfg(vma_bench_urcu)]
#[test]
fn urcu_qsbr_registration_counts() {
    registration_counts::<UrcuQsbr>();
}

/// The process maps liburcu's shared libraries exactly when `build.rs` says it
/// linked them, both flavours' then: never a static and a shared copy together
/// (two registries of readers). (`liburcu-common` is left out: the linker drops
/// it as a shared library when nothing calls into it.)
#[cfg(vma_bench_urcu)]
#[test]
fn urcu_linkage_matches_the_mapped_libraries() {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let mapped = |lib: &str| {
        let name = format!("/lib{lib}.so");
        maps.lines().any(|line| line.contains(&name))
    };
    let shared = [mapped("urcu-memb"), mapped("urcu-qsbr")];
    match urcu_linkage() {
        Some("static") => assert_eq!(shared, [false; 2], "static build maps liburcu"),
        Some("shared") => assert_eq!(shared, [true; 2], "shared build misses liburcu"),
        other => panic!("urcu built, linkage {other:?}"),
    }
}

/// Runs `f` on a fresh thread, and returns its panic message (`None` if it
/// returned).
#[cfg(vma_bench_urcu)]
fn panic_message(f: impl FnOnce() + Send) -> Option<String> {
    thread::scope(|s| s.spawn(f).join()).err().map(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|m| m.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    })
}

/// The last registration of a thread dropped inside one of its read sections
/// panics (callers' promise 3), where the flavour can tell: memb always, QSBR
/// in debug builds. The section is then closed and the thread unregistered at
/// its exit.
#[cfg(vma_bench_urcu)]
fn unregister_inside_a_section_panics<R: Rcu>() {
    let rcu = R::new(&RcuSettings::default());
    let message = panic_message(|| {
        let mut t = rcu.register();
        let r = rcu.read_lock(&mut t);
        drop(t);
        drop(r);
    });
    assert_eq!(
        message.as_deref(),
        Some("the last urcu registration of a thread dropped inside a read section")
    );
}

#[cfg(vma_bench_urcu)]
#[test]
fn urcu_memb_unregister_inside_a_section_panics() {
    unregister_inside_a_section_panics::<UrcuMemb>();
}

/// Debug builds only: a release build keeps QSBR's read side empty and does
/// not check (see `urcu`'s module doc).
#[cfg(all(vma_bench_urcu, debug_assertions))]
#[test]
fn urcu_qsbr_unregister_inside_a_section_panics() {
    unregister_inside_a_section_panics::<UrcuQsbr>();
}

/// Debug builds only, as above: a quiescent state reported inside a QSBR
/// read section panics before liburcu hears of it, and a report outside one
/// (before and after) does not.
#[cfg(all(vma_bench_urcu, debug_assertions))]
#[test]
fn urcu_qsbr_quiescent_inside_a_section_panics() {
    let rcu = UrcuQsbr::new(&RcuSettings {
        qsbr_every: 1,
        ..RcuSettings::default()
    });
    let reached = AtomicU32::new(0);
    let message = panic_message(|| {
        let mut t = rcu.register();
        rcu.quiescent(&mut t);
        let r = rcu.read_lock(&mut t);
        // Relaxed (both): read after the join.
        reached.store(1, Ordering::Relaxed);
        rcu.quiescent(&mut t);
        reached.store(2, Ordering::Relaxed);
        rcu.read_unlock(&mut t, r);
    });
    assert_eq!(
        message.as_deref(),
        Some("UrcuQsbr::quiescent called inside a read section")
    );
    // Relaxed: the join orders the thread's stores.
    assert_eq!(reached.load(Ordering::Relaxed), 1, "panicked at the report");
}

#[cfg(not(vma_bench_urcu))]
#[test]
fn urcu_missing_names_the_package() {
    let note = urcu_missing().expect("built without liburcu");
    assert!(note.contains("apt-get install liburcu-dev"), "{note}");
}

/// Not a test: ns per read_lock + read_unlock and per call_rcu (+ quiescent)
/// on one thread, for each flavour. `cargo test --release --lib -- --ignored
/// --nocapture rcu_costs`.
#[test]
#[ignore = "a measurement; run it on a quiet machine"]
fn rcu_costs() {
    fn measure<R: Rcu>() {
        const READS: u32 = 10_000_000;
        const CALLS: usize = 1_000_000;
        let tally = Arc::new(AtomicUsize::new(0));
        let objs: Vec<Obj> = (0..CALLS).map(|_| Obj::new(&tally)).collect();
        let rcu = R::new(&RcuSettings::default());
        let (read_ns, call_ns) = thread::scope(|s| {
            s.spawn(|| {
                let mut t = rcu.register();
                let start = Instant::now();
                for _ in 0..READS {
                    let r = rcu.read_lock(&mut t);
                    std::hint::black_box(&r);
                    rcu.read_unlock(&mut t, r);
                }
                let read_ns = start.elapsed().as_nanos() as f64 / f64::from(READS);
                let start = Instant::now();
                for obj in &objs {
                    let obj = std::hint::black_box(NonNull::from(obj));
                    // SAFETY: never published, queued once, outlives the flavour.
                    unsafe { rcu.call_rcu(&mut t, obj) };
                    rcu.quiescent(&mut t);
                }
                let call_ns = start.elapsed().as_nanos() as f64 / CALLS as f64;
                (read_ns, call_ns)
            })
            .join()
            .unwrap()
        });
        let start = Instant::now();
        drop(rcu);
        let drain = start.elapsed();
        println!(
            "{:10} read_lock+read_unlock {read_ns:5.2} ns   call_rcu+quiescent {call_ns:6.1} ns   drop {drain:?}",
            R::NAME
        );
        // Relaxed: after the drop, which orders every callback.
        assert_eq!(tally.load(Ordering::Relaxed), CALLS);
    }
    let start = Instant::now();
    for i in 0..10_000_000u32 {
        std::hint::black_box(i);
    }
    let empty = start.elapsed().as_nanos() as f64 / 1e7;
    println!("empty loop {empty:5.2} ns per iteration");
    measure::<Epoch>();
    measure::<Seize>();
    #[cfg(vma_bench_urcu)]
    measure::<UrcuMemb>();
    #[cfg(vma_bench_urcu)]
    measure::<UrcuQsbr>();
}
