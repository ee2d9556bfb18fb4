//! Loom models of the per-VMA lock: every interleaving, and every weak-memory
//! outcome loom models (C++11 release/acquire/relaxed; a load may read any of the
//! last 7 stores coherence allows), for the orderings that stress tests on x86
//! cannot check (the hardware forgives a missing Release or Acquire).
//!
//! Built only with `RUSTFLAGS="--cfg vma_bench_loom"` (`make loom`); otherwise this
//! file compiles to nothing. Under that cfg `vma_bench::sync` hands the crate
//! loom's atomics, so the code checked here is the crate's own [`Vma`] (its lock,
//! attach, detach and validation) and its own type-stable [`Pool`]. Each model
//! prints the interleavings it explored and what its reader did; add
//! `-- --nocapture` to the cargo command to see them.
//!
//! The models:
//! 1. [`reuse_in_another_mm`]: a reader looks up a VMA while a writer detaches it,
//!    returns it to the pool, gets it back and attaches it at another address in
//!    another mm. The reader rejects it or sees one mapping's start/end/mm, never
//!    a mix (the review's case 3); a VMA it accepts is the mapping it asked for.
//! 2. [`write_lock_excludes_readers`]: a writer write-locks the VMA (sequence and
//!    refcount offset), changes it, and unlocks the mm. The reader never holds the
//!    read lock while the writer believes it has exclusive access.
//! 3. [`detach_waits_for_readers`]: no reader holds the VMA after detach returned.
//!
//! Each has broken twins, the same model with one bug from the review compiled in
//! ([`Mistake`]): N5 (attach Relaxed) for 1, N4 (CAS without Acquire; checks before
//! the CAS) for 2, N3 (detach without waiting) for 3. A twin passes only if loom
//! finds the failure, so every run checks both directions.
//!
//! How a model sees a failure: the VMA's plain (non-atomic) fields are a loom
//! [`UnsafeCell`]; writers write them only while they own the object, readers read
//! them only under a validated read lock, and loom panics with "Causality
//! violation" on any pair of such accesses not ordered by happens-before. Value
//! checks (`assert!`) cover what the cell cannot see (a torn start/end/mm, a
//! reference left behind).
//!
//! The index and `mm_lock_seq` are modelled here, not taken from `mm.rs`: the
//! space's index slots are std atomics (invisible to loom) and its writer cannot
//! take a mistake. [`lock_vma_under_rcu`] and the writers follow `Space`'s
//! `lock_vma_under_rcu`, `commit` and `Mm::write_lock` step for step.

#![cfg(vma_bench_loom)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize as StdCount;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use vma_bench::model::hook::{Hook, Point};
use vma_bench::model::vma::{AbortReason, Mistake, StartRead, Vma};

/// A VMA pointer that may cross threads (`Vma` is `Sync`: every field atomic).
#[derive(Copy, Clone)]
struct SendPtr(NonNull<Vma>);

// SAFETY: the pointee is `Sync`; what it may be used for is the models' own
// contract (the pool keeps it a `Vma` until the world drops).
unsafe impl Send for SendPtr {}

/// A type-stable pool, the models' SLAB_TYPESAFE_BY_RCU cache: a freed object is
/// handed out again at once and stays a `Vma` until the pool drops. (A model
/// runs its threads one at a time and never switches inside these short
/// critical sections, so a std mutex is enough.)
#[derive(Default)]
struct Pool {
    free: std::sync::Mutex<Vec<SendPtr>>,
    all: std::sync::Mutex<Vec<SendPtr>>,
}

/// A thread's handle on the pool (the crate's caches have per-CPU sheaves; a
/// model needs none).
struct Cache;

impl Pool {
    fn cache(&self) -> Cache {
        Cache
    }

    fn alloc(&self, _: &mut Cache) -> NonNull<Vma> {
        if let Some(p) = self.free.lock().unwrap().pop() {
            return p.0;
        }
        let v = NonNull::from(Box::leak(Box::new(Vma::new())));
        self.all.lock().unwrap().push(SendPtr(v));
        v
    }

    fn free(&self, _: &mut Cache, v: NonNull<Vma>) {
        self.free.lock().unwrap().push(SendPtr(v));
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for p in self.all.get_mut().unwrap().drain(..) {
            // SAFETY: leaked by `alloc`, freed once, after every model thread joined.
            drop(unsafe { Box::from_raw(p.0.as_ptr()) });
        }
    }
}

/// The preemption bound every model runs with: `None` explores every schedule.
const PREEMPTION_BOUND: Option<usize> = None;

const MM_A: usize = 1;
const MM_B: usize = 2;
/// Where the VMA is mapped in mm A, then (after reuse) in mm B.
const RANGE_A: (u64, u64) = (0x1000, 0x3000);
const RANGE_B: (u64, u64) = (0x5000, 0x7000);
/// The reader's fault address: in `RANGE_A`, not in `RANGE_B`.
const ADDR: u64 = 0x2000;
/// Generations: the mapping in mm A, the one in mm B; freed memory.
const GEN_A: u64 = 1;
const GEN_B: u64 = 2;
const GEN_FREED: u64 = 0xdead;
/// What a write-locked VMA's plain fields hold while its writer changes them.
const GEN_CHANGING: u64 = 0xc4a9;
/// `lock_vma_under_rcu` looks a detached VMA up again; loom may show the reader a
/// stale index forever, so the model's reader gives up after this many misses.
/// What it did until then is a prefix of the real reader's run, so every failure
/// it meets is one the unbounded reader meets too. One is enough: a model detaches
/// its VMA once, so the one retry already meets every later state of it
/// (reattached elsewhere, or still detached); 2 explores up to 4x as many
/// interleavings for nothing new.
const MAX_MISSES: usize = 1;

/// An mm reduced to what the models need: one index slot and `mm_lock_seq`.
/// `mmap_lock` itself is not modelled: each model has a single writer.
struct Mm {
    id: usize,
    slot: AtomicPtr<Vma>,
    seq: AtomicU32,
}

impl Mm {
    fn new(id: usize) -> Self {
        Mm {
            id,
            slot: AtomicPtr::new(std::ptr::null_mut()),
            seq: AtomicU32::new(0),
        }
    }

    /// `mmap_write_lock` as `Mm::write_lock` does it: the sequence becomes odd.
    fn write_lock(&self) -> u32 {
        // Relaxed (both), as in `Mm::write_lock`: only the lock holder changes the
        // sequence; readers compare it only after an Acquire CAS on a VMA whose
        // write-lock (made after this store) was published by a Release.
        let seq = self.seq.load(Ordering::Relaxed).wrapping_add(1);
        self.seq.store(seq, Ordering::Relaxed);
        seq
    }

    /// `mmap_write_unlock`: every VMA locked in cycle `seq` is unlocked at once.
    fn write_unlock(&self, seq: u32) {
        // Release: pairs with the reader's Acquire load of mm_lock_seq in
        // `Vma::start_read`, as `MmapWriteGuard::drop` does.
        self.seq.store(seq.wrapping_add(1), Ordering::Release);
    }

    /// Store `vma` (or nothing) in the index, as `boxed::std_publish` does.
    fn publish(&self, vma: *mut Vma) {
        // AcqRel, as `std_publish`: Release pairs with the Acquire in `find`,
        // publishing the new VMA's fields; the Acquire half pairs with nothing
        // here (nothing is read through the old pointer), it mirrors the crate.
        self.slot.swap(vma, Ordering::AcqRel);
    }

    /// The reader's walk of the index.
    fn find(&self) -> Option<NonNull<Vma>> {
        // Acquire: pairs with the Release in `publish`.
        NonNull::new(self.slot.load(Ordering::Acquire))
    }
}

/// The shared state of one execution.
struct World {
    pool: Pool,
    a: Mm,
    b: Mm,
    /// The VMA's plain fields (`vm_flags`, `vm_file`, `anon_vma`... in the kernel)
    /// as one value, the generation of the mapping. Only one object is ever used,
    /// so one cell stands for its plain part.
    plain: UnsafeCell<u64>,
}

// SAFETY: the pool and the atomics are `Sync` already; `plain` is not, and is
// shared on purpose: it is the witness loom checks. Every access goes through
// `UnsafeCell::with{,_mut}`, which panics on an access not ordered against a
// conflicting one before handing out the pointer, and a loom model runs all its
// threads on one OS thread, so no two accesses ever really overlap.
unsafe impl Sync for World {}
// SAFETY: as above; nothing in `World` is tied to the thread that made it.
unsafe impl Send for World {}

impl World {
    fn new() -> Self {
        World {
            pool: Pool::default(),
            a: Mm::new(MM_A),
            b: Mm::new(MM_B),
            plain: UnsafeCell::new(0),
        }
    }

    /// Read the plain fields (a reader under a validated read lock).
    #[track_caller]
    fn read_plain(&self) -> u64 {
        // SAFETY: loom checks this read against every write (see `impl Sync`).
        self.plain.with(|p| unsafe { *p })
    }

    /// Write the plain fields (a writer that owns the object).
    #[track_caller]
    fn write_plain(&self, gen: u64) {
        // SAFETY: loom checks this write against every access (see `impl Sync`).
        self.plain.with_mut(|p| unsafe { *p = gen });
    }
}

/// How a lookup ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// Read-locked and validated.
    Locked,
    /// Abandoned (the caller would fall back to `mmap_lock`).
    Abort(AbortReason),
    /// Found detached `MAX_MISSES + 1` times (the model's bound, see there).
    GaveUp,
}

/// `lock_vma_under_rcu(mm, addr)`, step for step as `Space::lock_vma_under_rcu`:
/// find, `start_read` against the caller's mm, look up again if detached, check
/// the address. Returns the outcome, the VMA if locked, and the misses.
fn lock_vma_under_rcu<'w, H: Hook>(
    mm: &'w Mm,
    addr: u64,
    mistake: Mistake,
    hook: &mut H,
) -> (Outcome, Option<&'w Vma>, usize) {
    let mut misses = 0;
    while misses <= MAX_MISSES {
        let Some(ptr) = mm.find() else {
            return (Outcome::Abort(AbortReason::NotFound), None, misses);
        };
        // SAFETY: every VMA in a model comes from the world's type-stable pool,
        // which keeps its memory (a `Vma`, all atomics) until the world drops,
        // after every thread has joined.
        let vma: &'w Vma = unsafe { ptr.as_ref() };
        hook.at(Point::Found);
        match vma.start_read(mm.id, &mm.seq, mistake, hook) {
            StartRead::Detached => {
                misses += 1;
                continue;
            }
            StartRead::Abort(why) => return (Outcome::Abort(why), None, misses),
            StartRead::Locked => {}
        }
        if !vma.covers(addr) {
            // One reference taken, one dropped: never an underflow here.
            let _ = vma.end_read();
            return (Outcome::Abort(AbortReason::Address), None, misses);
        }
        return (Outcome::Locked, Some(vma), misses);
    }
    (Outcome::GaveUp, None, misses)
}

/// What the reader did, summed over a model's executions: the proof that each
/// model reaches the cases it is about. Std atomics outside the model (loom does
/// not see them); all Relaxed: counters, read after the model has finished.
#[derive(Default, Debug)]
struct Tally {
    executions: StdCount,
    /// Returned the VMA read-locked.
    locked: StdCount,
    /// Took a reference, then found the VMA write-locked and dropped it.
    ref_then_write_locked: StdCount,
    /// Took a reference, then found it in another mm (reused) and dropped it.
    ref_then_other_mm: StdCount,
    /// Took a reference, then found it at another address and dropped it.
    ref_then_address: StdCount,
    /// Rejected it without a reference (early bail, writer present, not in the
    /// index, gave up after `MAX_MISSES`).
    no_ref: StdCount,
    /// Found it detached at least once.
    missed: StdCount,
}

impl Tally {
    fn bump(c: &StdCount) {
        // Relaxed: a counter (see the type).
        c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn get(c: &StdCount) -> usize {
        // Relaxed: read after the model has finished (see the type).
        c.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn line(&self) -> String {
        format!(
            "locked {}, ref then write-locked {}, ref then other mm {}, ref then address {}, \
             rejected without ref {}, missed {}",
            Tally::get(&self.locked),
            Tally::get(&self.ref_then_write_locked),
            Tally::get(&self.ref_then_other_mm),
            Tally::get(&self.ref_then_address),
            Tally::get(&self.no_ref),
            Tally::get(&self.missed),
        )
    }
}

/// A VMA from the world's pool, mapped at `RANGE_A` in mm A (generation `GEN_A`),
/// as `Space::populate` and `commit` make one.
fn map_first(w: &World, cache: &mut Cache) -> NonNull<Vma> {
    let v = w.pool.alloc(cache);
    // SAFETY: pool memory, alive until the world drops; just allocated for us.
    let vma = unsafe { v.as_ref() };
    vma.init(MM_A, RANGE_A.0, RANGE_A.1, GEN_A);
    w.write_plain(GEN_A);
    vma.mark_attached();
    w.a.publish(v.as_ptr());
    v
}

/// Whether the reader reads the plain fields under its read lock.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Witness {
    /// Yes: loom checks those reads against the writers' writes.
    Plain,
    /// No: only the value checks can see a failure (so that a twin shows them).
    ValuesOnly,
}

/// The reader of every model: one fault at `ADDR` in mm A. Under the read lock it
/// checks start/end/mm are the mapping it asked for and reads the plain fields
/// (loom checks that no writer owns the object then). At the moment its
/// reference is taken it also reads start/end/mm, which must be one mapping's,
/// never a mix.
fn reader(w: &World, obj: NonNull<Vma>, mistake: Mistake, witness: Witness, tally: &Tally) {
    // SAFETY: pool memory, alive until the world drops (after this thread joins).
    let obj = unsafe { obj.as_ref() };
    let mut took_ref = false;
    let mut hook = |p: Point| {
        if p == Point::Locked {
            took_ref = true;
            one_mapping(obj, "with its reference just taken");
        }
    };
    let (outcome, vma, misses) = lock_vma_under_rcu(&w.a, ADDR, mistake, &mut hook);
    if misses > 0 {
        Tally::bump(&tally.missed);
    }
    match (outcome, took_ref) {
        (Outcome::Locked, _) => {
            let vma = vma.expect("a locked outcome carries the VMA");
            Tally::bump(&tally.locked);
            assert_eq!(
                one_mapping(vma, "under its read lock"),
                (MM_A, RANGE_A),
                "accepted a VMA that is not mm A's mapping of the address"
            );
            if witness == Witness::Plain {
                assert_eq!(
                    w.read_plain(),
                    GEN_A,
                    "accepted a VMA whose contents belong to another mapping"
                );
            }
            // One reference taken, one dropped: never an underflow here.
            let _ = vma.end_read();
        }
        (Outcome::Abort(AbortReason::WriteLocked), true) => {
            Tally::bump(&tally.ref_then_write_locked)
        }
        (Outcome::Abort(AbortReason::OtherMm), true) => Tally::bump(&tally.ref_then_other_mm),
        (Outcome::Abort(AbortReason::Address), true) => Tally::bump(&tally.ref_then_address),
        _ => Tally::bump(&tally.no_ref),
    }
}

/// Read start/end/mm as the reader sees them now: they must be one mapping's.
fn one_mapping(vma: &Vma, when: &str) -> (usize, (u64, u64)) {
    let seen = (vma.mm(), vma.range());
    assert!(
        seen == (MM_A, RANGE_A) || seen == (MM_B, RANGE_B),
        "torn VMA: {when} the reader saw mm {} and range {:x?}, a mix of two mappings",
        seen.0,
        seen.1,
    );
    seen
}

/// Spawn the reader on the world's only VMA.
fn spawn_reader(
    w: &Arc<World>,
    v: NonNull<Vma>,
    mistake: Mistake,
    witness: Witness,
    tally: &Arc<Tally>,
) -> loom::thread::JoinHandle<()> {
    let (w, p, tally) = (Arc::clone(w), SendPtr(v), Arc::clone(tally));
    loom::thread::spawn(move || {
        // Move the whole `SendPtr` in (a closure would capture only its field).
        let p = p;
        reader(&w, p.0, mistake, witness, &tally);
    })
}

/// Model 1, one execution: reuse in another mm under a reader.
fn reuse_in_another_mm(mistake: Mistake, tally: &Arc<Tally>) {
    reuse_in_another_mm_with(mistake, Witness::Plain, tally);
}

/// Model 1 with a reader that does not read the plain fields (see `Witness`).
fn reuse_in_another_mm_values_only(mistake: Mistake, tally: &Arc<Tally>) {
    reuse_in_another_mm_with(mistake, Witness::ValuesOnly, tally);
}

fn reuse_in_another_mm_with(mistake: Mistake, witness: Witness, tally: &Arc<Tally>) {
    let w = Arc::new(World::new());
    let mut cache = w.pool.cache();
    let v = map_first(&w, &mut cache);
    let reader = spawn_reader(&w, v, mistake, witness, tally);
    // SAFETY: pool memory, alive until the world drops.
    let vma = unsafe { v.as_ref() };

    // munmap in mm A (`commit`'s order: write-lock, unpublish, detach, free).
    let seq = w.a.write_lock();
    vma.start_write(seq);
    w.a.publish(std::ptr::null_mut());
    let _ = vma.mark_detached_with(mistake);
    // Out of the index and detached (its readers drained): back to the pool.
    w.pool.free(&mut cache, v);
    w.a.write_unlock(seq);

    // mmap in mm B: the pool hands the same object back at once (typesafe reuse).
    let seq = w.b.write_lock();
    let again = w.pool.alloc(&mut cache);
    assert_eq!(again, v, "the pool reuses the warm object");
    vma.init(MM_B, RANGE_B.0, RANGE_B.1, GEN_B);
    w.write_plain(GEN_B);
    vma.start_write(seq);
    vma.mark_attached_with(mistake);
    w.b.publish(again.as_ptr());
    w.b.write_unlock(seq);

    reader.join().expect("the reader finished");
    assert_eq!(vma.refcnt(), 1, "attached in mm B, no reader left");
}

/// Model 2, one execution: a write-lock cycle under a reader.
fn write_lock_excludes_readers(mistake: Mistake, tally: &Arc<Tally>) {
    let w = Arc::new(World::new());
    let mut cache = w.pool.cache();
    let v = map_first(&w, &mut cache);
    let reader = spawn_reader(&w, v, mistake, Witness::Plain, tally);
    // SAFETY: pool memory, alive until the world drops.
    let vma = unsafe { v.as_ref() };

    let seq = w.a.write_lock();
    vma.start_write(seq);
    // The writer believes it has the VMA to itself: it rewrites the plain fields
    // (as mprotect changes vm_flags) and puts them back before unlocking.
    w.write_plain(GEN_CHANGING);
    w.write_plain(GEN_A);
    w.a.write_unlock(seq);

    reader.join().expect("the reader finished");
    assert_eq!(vma.refcnt(), 1, "attached, no reader left");
}

/// Model 3, one execution: munmap under a reader.
fn detach_waits_for_readers(mistake: Mistake, tally: &Arc<Tally>) {
    let w = Arc::new(World::new());
    let mut cache = w.pool.cache();
    let v = map_first(&w, &mut cache);
    let reader = spawn_reader(&w, v, mistake, Witness::Plain, tally);
    // SAFETY: pool memory, alive until the world drops.
    let vma = unsafe { v.as_ref() };

    let seq = w.a.write_lock();
    vma.start_write(seq);
    w.a.publish(std::ptr::null_mut());
    let _ = vma.mark_detached_with(mistake);
    // Relaxed (inside `refcnt`) is enough: detach's read-modify-writes are this
    // thread's latest on `refcnt`, so the load sees what detach left or a later
    // store; a correct detach leaves 0, which no reader can raise.
    assert_eq!(
        vma.refcnt(),
        0,
        "a reader still holds the VMA after detach returned"
    );
    // Freed: the pool may hand the memory out at once, and its next user writes it.
    w.pool.free(&mut cache, v);
    w.write_plain(GEN_FREED);
    w.a.write_unlock(seq);

    reader.join().expect("the reader finished");
    assert_eq!(vma.refcnt(), 0, "detached, no reader left");
}

/// One execution of a model.
type Body = fn(Mistake, &Arc<Tally>);

/// Run `body` under loom with `mistake` compiled in; print what it explored.
/// Returns the executions explored and the time taken (panics if loom fails).
/// `locate`: record source locations, so that a causality violation names the
/// two accesses (costly; the broken twins stop early).
fn explore(
    name: &str,
    body: Body,
    mistake: Mistake,
    locate: bool,
    tally: &Arc<Tally>,
) -> (usize, Duration) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = PREEMPTION_BOUND;
    builder.location = locate;
    let t = Arc::clone(tally);
    let start = Instant::now();
    builder.check(move || {
        Tally::bump(&t.executions);
        body(mistake, &t);
    });
    let took = start.elapsed();
    let n = Tally::get(&tally.executions);
    println!(
        "loom {name}: {n} interleavings in {took:.2?} (preemption bound {:?}); {}",
        PREEMPTION_BOUND,
        tally.line()
    );
    (n, took)
}

/// A correct model: loom must explore it completely without a failure.
fn correct(name: &str, body: Body) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    explore(name, body, Mistake::None, false, &tally);
    tally
}

/// A broken twin: loom must fail it, with a message containing `expected`.
fn broken(name: &str, body: Body, mistake: Mistake, expected: &str) {
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        explore(name, body, mistake, true, &tally)
    }));
    let took = start.elapsed();
    let payload = match result {
        Ok((n, _)) => panic!("{name}: loom explored {n} interleavings and found no failure"),
        Err(p) => p,
    };
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<a panic without a message>");
    assert!(
        msg.contains(expected),
        "{name}: loom failed, but not as expected ({expected:?}): {msg}"
    );
    println!(
        "loom {name}: failure found at interleaving {} after {took:.2?} \
         (preemption bound {:?}): {msg}",
        Tally::get(&tally.executions),
        PREEMPTION_BOUND,
    );
}

fn at_least_once(name: &str, what: &str, c: &StdCount) {
    assert!(Tally::get(c) > 0, "{name} never reached: {what}");
}

#[test]
fn model1_reuse_in_another_mm() {
    let name = "model1_reuse_in_another_mm";
    let t = correct(name, reuse_in_another_mm);
    at_least_once(name, "a reader locking the old mapping", &t.locked);
    at_least_once(
        name,
        "case 3: a reader referencing the reused VMA, rejecting it by mm",
        &t.ref_then_other_mm,
    );
    at_least_once(name, "a reader finding the VMA detached", &t.missed);
}

#[test]
fn model1_twin_n5_attach_relaxed() {
    broken(
        "model1_twin_n5_attach_relaxed",
        reuse_in_another_mm,
        Mistake::AttachRelaxed,
        "Causality violation",
    );
}

/// The same twin with the plain-field witness off: loom must then find the
/// reader's view of start/end/mm torn between the two mappings.
#[test]
fn model1_twin_n5_attach_relaxed_torn() {
    broken(
        "model1_twin_n5_attach_relaxed_torn",
        reuse_in_another_mm_values_only,
        Mistake::AttachRelaxed,
        "torn VMA",
    );
}

#[test]
fn model2_write_lock_excludes_readers() {
    let name = "model2_write_lock_excludes_readers";
    let t = correct(name, write_lock_excludes_readers);
    at_least_once(name, "a reader locking the VMA", &t.locked);
    at_least_once(
        name,
        "a reader referencing the write-locked VMA and backing out",
        &t.ref_then_write_locked,
    );
}

#[test]
fn model2_twin_n4_read_cas_relaxed() {
    broken(
        "model2_twin_n4_read_cas_relaxed",
        write_lock_excludes_readers,
        Mistake::ReadCasRelaxed,
        "Causality violation",
    );
}

#[test]
fn model2_twin_n4_checks_before_cas() {
    broken(
        "model2_twin_n4_checks_before_cas",
        write_lock_excludes_readers,
        Mistake::ChecksBeforeCas,
        "Causality violation",
    );
}

#[test]
fn model3_detach_waits_for_readers() {
    let name = "model3_detach_waits_for_readers";
    let t = correct(name, detach_waits_for_readers);
    at_least_once(name, "a reader locking the VMA", &t.locked);
    at_least_once(
        name,
        "a reader referencing the VMA during detach and backing out",
        &t.ref_then_write_locked,
    );
    at_least_once(name, "a reader finding the VMA detached", &t.missed);
}

#[test]
fn model3_twin_n3_detach_no_wait() {
    broken(
        "model3_twin_n3_detach_no_wait",
        detach_waits_for_readers,
        Mistake::DetachNoWait,
        "a reader still holds the VMA after detach returned",
    );
}
