//! Loom models of the per-VMA lock, the index and the writers: every
//! interleaving loom's DPOR explores, and every weak-memory outcome loom models
//! (C++11 release/acquire/relaxed; a load may read any of the last 7 stores
//! coherence allows), for the orderings that stress tests on x86 cannot check
//! (the hardware forgives a missing Release or Acquire).
//!
//! Built only with `RUSTFLAGS="--cfg vma_bench_loom"` (`make loom`); otherwise this
//! file compiles to nothing. Under that cfg `vma_bench::sync` hands the crate
//! loom's atomics and locks, so what runs here is the crate's own code: a
//! [`Space`] (its mms with their `mmap_lock` and index [`Tree`]s, its slab
//! caches and page allocator), its reader [`Space::lock_vma_under_rcu`] (the
//! walk, `vma_start_read`, the retry after a miss, the address check) and its
//! writers [`Space::replace`] (an exact-fit store in place), [`Space::unmap`]
//! and [`Space::map`] (a leaf rebuilt and published in its parent or the root,
//! the old one marked dead). Only the scheme is the models' own, [`Model`]:
//! `typesafe`'s free paths (a VMA back to its SLAB_TYPESAFE_BY_RCU cache at
//! once, nodes and emptied slabs through `defer`) with a grace period as long
//! as the execution (`defer` keeps every object to the end, as `leak` does),
//! and a read section whose walk loads through the crate's [`RcuWalk`]
//! (Acquire, as every RCU flavour's section does) and records what it loaded.
//! Each model prints the interleavings it explored and what its reader did;
//! add `-- --nocapture` to the cargo command to see them.
//!
//! Every model is one reader (`lock_vma_under_rcu` in mm 0 at slot 0) and one
//! writer, on a space of 2 mms with 2 slots each (each index one leaf, the
//! root) unless it says otherwise:
//! 1. [`reuse_in_another_mm`]: the writer replaces the reader's VMA and the cache
//!    hands it back at once for a new mapping at another address in mm 1 (the
//!    review's case 3). A VMA the reader accepts is mm 0's mapping of the
//!    address.
//! 2. [`write_lock_excludes_readers`]: the writer write-locks the VMA, changes
//!    it (its plain fields, as mprotect does) and unlocks `mmap_lock`. The
//!    reader never holds the read lock while the writer believes it has the VMA
//!    to itself, and sees the changes once it is unlocked. No crate writer
//!    changes a VMA in place, so this writer is the crate's `Mm::write_lock`,
//!    `Vma::start_write_with` and the guard's drop.
//! 3. [`detach_waits_for_readers`]: no reader holds the VMA after its writer's
//!    `replace` returned (and the cache may hand it out).
//! 4. [`walk_during_leaf_rebuild`]: on an index of two leaves under a root, the
//!    writer unmaps the VMA, next to a gap, so the index rebuilds its leaf and
//!    publishes the new one in the root's slot. The reader's walk goes through
//!    the old leaf, to the VMA, or through the new one, fully initialised, to
//!    the gap.
//! 5. [`walk_during_exact_fit`]: the writer replaces the VMA by a copy of it
//!    (`vm_area_dup`, as mprotect does), an exact fit stored in place. The
//!    reader finds the old VMA or the new one, and locks either only as the
//!    mapping it asked for, fully initialised.
//! 6. [`walk_during_map`]: the reader's slot starts unmapped and the writer
//!    maps it, so the index splits the gap in a new leaf published in the root.
//!    The reader finds the gap in the old leaf, or the new VMA in the new one.
//!
//! Models 1 to 4 and 6 have broken twins, the same model with one mistake
//! compiled in ([`Mistake`], the scheme's constant, as the twins of `typesafe`
//! carry theirs): N5 (attach Relaxed) for 1, N4 (CAS without Acquire; checks
//! before the CAS) and N16 (`mm_lock_seq` loaded Relaxed in the lock check) for
//! 2, N3 (detach without waiting) for 3, and a Relaxed
//! publish of the rebuilt leaf (`PublishRelaxed`) for 4 and 6. A twin passes
//! only if loom finds the failure, so every run checks both directions.
//!
//! How a model sees a failure: a VMA's plain (non-atomic) fields, which the
//! crate's `Vma` does not have (every field of it is atomic, so that a stale
//! reader's reads are defined), are stood for by a loom [`UnsafeCell`] per model
//! ([`World::plain`], the plain part of the one VMA its writer removes);
//! writers write it only while they own the object, readers read it only under
//! a validated read lock, and loom panics with "Causality violation" on any
//! pair of such accesses not ordered by happens-before. Value checks cover what
//! the cell cannot see: the crate's own oracle ([`Vma::fault_check`]: this
//! VMA is the caller's mm's mapping of the address, one mapping's fields,
//! not a mix), the path of every walk (the nodes and entry before the writer's
//! store, or after it), and a leaf taken for an internal node (what a walk
//! does with a leaf whose metadata it reads from before the fill).
//!
//! Loom's DPOR is not exhaustive in every program (it tracks the last access
//! to each object only; loom issues 166 and 392), so the models are arranged
//! as its exploration needs (see [`race`]), and some of the crate's constants
//! are smaller under loom, so that building a space for every execution stays
//! cheap: sheaves of 4, pages of 1 KiB, arenas of 16 KiB (`model::slab`,
//! `model::page`); under loom a reader also gives up after one miss (see
//! `model::space`).

#![cfg(vma_bench_loom)]

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize as StdCount;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use vma_bench::model::counters::Counters;
use vma_bench::model::hook::{NoHook, Point};
use vma_bench::model::index::{Node, Protect, RcuWalk, Tree};
use vma_bench::model::scheme::{Free, Scheme};
use vma_bench::model::vma::{AbortReason, Mistake, Vma};
use vma_bench::rcu::{Deferrable, RcuSettings};
use vma_bench::schemes::rcu::{Correct, Variant};
use vma_bench::schemes::twins::DetachNoWait;
use vma_bench::sync::atomic::AtomicPtr;
use vma_bench::{Layout, MapKind, Space};

/// The preemption bound every model runs with: `None`, no bound.
const PREEMPTION_BOUND: Option<usize> = None;

/// 2 mms of 2 slots: a VMA can be reused at another address in another mm, and
/// each index is one leaf (8 regions per leaf), the root.
const LAYOUT: Layout = Layout { mms: 2, slots: 2 };
/// One mm of 9 slots: an index of two leaves under a root, so a rebuilt leaf is
/// published in the root's slot.
const TWO_LEVELS: Layout = Layout { mms: 1, slots: 9 };
/// The reader's mm and slot.
const MM: usize = 0;
const SLOT: usize = 0;
/// Where the writer of model 1 maps the reused VMA: another mm, another address
/// (replacing the VMA there).
const REUSE: (usize, usize) = (1, 1);

/// What the plain fields hold: the mapping the model starts with; the writer
/// changing them under the write lock; memory the cache may hand out.
const MAPPED: u64 = 1;
const CHANGING: u64 = 0xc4a9;
const FREED: u64 = 0xdead;

// ---------------------------------------------------------------------------
// The scheme

/// The mistake a model compiles in, as a twin of `typesafe` does ([`Variant`]).
macro_rules! twins {
    ($($ty:ident: $mistake:path),* $(,)?) => {$(
        #[doc = concat!("A loom twin: `", stringify!($mistake), "` compiled in.")]
        struct $ty;
        impl Variant for $ty {
            const NAME: &'static str = stringify!($ty);
            const MISTAKE: Mistake = $mistake;
        }
    )*};
}

twins! {
    AttachRelaxed: Mistake::AttachRelaxed,
    ReadCasRelaxed: Mistake::ReadCasRelaxed,
    ChecksBeforeCas: Mistake::ChecksBeforeCas,
    PublishRelaxed: Mistake::PublishRelaxed,
    MmSeqRelaxed: Mistake::MmSeqRelaxed,
}

/// An object kept until the end, with the callback that frees it then.
struct Kept(NonNull<u8>, unsafe fn(NonNull<u8>));

// SAFETY: a kept object is touched again only by the scheme's drop, after every
// thread that could reach it has been joined; `Deferrable` objects may be
// reclaimed on any thread by design.
unsafe impl Send for Kept {}

/// Run `T`'s callback on a type-erased pointer.
///
/// # Safety
/// `p` is a `NonNull<T>` kept by `defer`, reclaimed once.
unsafe fn reclaim_erased<T: Deferrable>(p: NonNull<u8>) {
    // SAFETY: the caller's promise.
    unsafe { T::reclaim(p.cast()) }
}

/// `typesafe` with the mistake of `V`, over an RCU whose grace period lasts
/// the whole execution: VMAs go back to their SLAB_TYPESAFE_BY_RCU cache at
/// once (and are reused at once), nodes and emptied slabs go through `defer`,
/// which keeps them until the scheme drops. Loom sees no RCU library (whose
/// grace periods it could not model); what it checks is that the protocol is
/// right for readers that may still hold anything removed during their section.
///
/// The std mutexes below are invisible to loom and need not be seen: a model
/// runs one thread at a time and switches only at loom's own operations, none
/// of which happens while they are held.
struct Model<V> {
    /// Objects handed to `defer`, reclaimed when the scheme drops.
    kept: Mutex<Vec<Kept>>,
    /// What each walk loaded, in order (a reader walks again, in a new section, after a miss).
    walks: Mutex<Vec<Vec<Load>>>,
    /// Levels of the index: a walk never loads a node below them.
    depth: usize,
    _variant: PhantomData<V>,
}

impl<V> Model<V> {
    fn new(layout: Layout) -> Self {
        Model {
            kept: Mutex::new(Vec::new()),
            walks: Mutex::new(Vec::new()),
            depth: layout.shape().depth(),
            _variant: PhantomData,
        }
    }

    /// What the walks loaded, walk by walk.
    fn walks(&self) -> Vec<Vec<Load>> {
        self.walks.lock().unwrap().clone()
    }
}

impl<V> Drop for Model<V> {
    fn drop(&mut self) {
        for Kept(p, reclaim) in std::mem::take(self.kept.get_mut().unwrap()) {
            // SAFETY: every handle is gone (they borrow the space that owns the
            // scheme), so no reader can reach these removed objects; each was
            // kept once.
            unsafe { reclaim(p) };
        }
    }
}

/// One pointer a walk loaded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Load {
    /// A node (the root at depth 0).
    Node(usize),
    /// A leaf's entry: a VMA, or 0 for a gap.
    Entry(usize),
}

/// A read section of [`Model`]: the walk loads through the crate's [`RcuWalk`]
/// (Acquire, as every flavour's section does), and this records each load, walk
/// by walk, and stops a walk that would take a leaf for an internal node.
struct Walk {
    depth: usize,
    log: Vec<Vec<Load>>,
}

impl Protect for Walk {
    fn node(
        &mut self,
        src: &AtomicPtr<u8>,
        holder: Option<&Node>,
        depth: usize,
    ) -> Option<*mut u8> {
        // The only nodes below the root's level are leaves, whose metadata has
        // the leaf bit from their fill on: a walk that asks for a child of one
        // read its metadata from before the fill (a publish that did not order
        // the fill before it). Stopped here, before it would follow a slot that
        // holds no node.
        assert!(
            depth < self.depth,
            "a walk took a leaf for an internal node: it read the leaf's metadata \
             from before its fill"
        );
        let p = RcuWalk.node(src, holder, depth)?;
        if depth == 0 {
            self.log.push(Vec::new());
        }
        self.log
            .last_mut()
            .expect("a walk starts at the root")
            .push(Load::Node(p as usize));
        Some(p)
    }

    fn entry(&mut self, src: &AtomicPtr<u8>, holder: &Node) -> Option<*mut u8> {
        let e = RcuWalk.entry(src, holder)?;
        self.log
            .last_mut()
            .expect("a walk starts at the root")
            .push(Load::Entry(e as usize));
        Some(e)
    }
}

// SAFETY: nothing a walk can reach is freed while the scheme lives: nodes and
// emptied slabs are kept by `defer` until the scheme drops, after every
// section (1, 2); a removed VMA goes back to its SLAB_TYPESAFE_BY_RCU cache at
// once, where it stays a `Vma` while its slab is kept (3); nodes are deferred
// (4).
unsafe impl<V: Variant> Scheme for Model<V> {
    const NAME: &'static str = V::NAME;
    const RCU: &'static str = "none";
    const MISTAKE: Mistake = V::MISTAKE;
    const TYPESAFE: bool = true;
    const VMA_FREE: Free = Free::Now;
    const NODE_FREE: Free = Free::Deferred;
    type Local<'a> = ();
    type Section<'a> = Walk;

    fn new(_settings: &RcuSettings) -> Self {
        Model::new(LAYOUT)
    }
    fn local(&self) {}
    fn enter<'a>(&'a self, _local: &mut ()) -> Walk {
        Walk {
            depth: self.depth,
            log: Vec::new(),
        }
    }
    fn leave<'a>(&'a self, _local: &mut (), section: Walk) {
        self.walks.lock().unwrap().extend(section.log);
    }
    unsafe fn defer<'a, T: Deferrable>(&'a self, _local: &mut (), obj: NonNull<T>) {
        self.kept
            .lock()
            .unwrap()
            .push(Kept(obj.cast(), reclaim_erased::<T>));
    }
}

// ---------------------------------------------------------------------------
// One execution's world

/// The shared state of one execution: the space, the VMA the reader's slot
/// holds when the model starts, and the plain part of that VMA.
struct World<V: Variant> {
    space: Space<Model<V>>,
    layout: Layout,
    /// Mapped at (`MM`, `SLOT`) when the space is made.
    x: NonNull<Vma>,
    /// The plain (non-atomic) fields of `x` (`vm_flags`, `vm_file`,
    /// `anon_vma`... in the kernel) as one value: the witness loom checks.
    plain: UnsafeCell<u64>,
}

// SAFETY: the space is `Sync`, and `x` is a pointer into its VMA cache, which
// keeps the memory a `Vma` (all atomics) until the space drops. `plain` is not
// `Sync`, and is shared on purpose: it is the witness loom checks. Every access
// goes through `UnsafeCell::with{,_mut}`, which panics on an access not ordered
// against a conflicting one before handing out the pointer, and a model runs
// one thread at a time, so no two accesses ever overlap.
unsafe impl<V: Variant> Sync for World<V> {}
// SAFETY: as above.
unsafe impl<V: Variant> Send for World<V> {}

impl<V: Variant> World<V> {
    /// A world of [`LAYOUT`].
    fn new() -> Arc<Self> {
        Self::with_layout(LAYOUT)
    }

    fn with_layout(layout: Layout) -> Arc<Self> {
        let space = Space::new(Model::new(layout), layout);
        let x = NonNull::new(space.current(MM, SLOT).cast_mut()).expect("mapped at the start");
        Arc::new(World {
            space,
            layout,
            x,
            plain: UnsafeCell::new(MAPPED),
        })
    }

    fn x(&self) -> &Vma {
        // SAFETY: a VMA of the space's typesafe cache (see `impl Sync`), which
        // lives as long as `self`.
        unsafe { self.x.as_ref() }
    }

    /// The reader's fault address.
    fn addr(&self) -> u64 {
        self.layout.addr(SLOT, 0)
    }

    /// Read the plain fields of `x` (a reader under a validated read lock).
    #[track_caller]
    fn read_plain(&self) -> u64 {
        // SAFETY: loom checks this read against every write (see `impl Sync`).
        self.plain.with(|p| unsafe { *p })
    }

    /// Write the plain fields of `x` (a writer that owns the object).
    #[track_caller]
    fn write_plain(&self, value: u64) {
        // SAFETY: loom checks this write against every access (see `impl Sync`).
        self.plain.with_mut(|p| unsafe { *p = value });
    }

    /// What a walk to the reader's address loads now: the path the reader's
    /// walks must follow before or after the writer's store. The caller owns
    /// the space (before the threads start, or after they joined).
    fn path(&self) -> Vec<Load> {
        let tree: &Tree = self.space.mm(MM).tree();
        let mut walk = Walk {
            depth: self.layout.shape().depth(),
            log: Vec::new(),
        };
        let _ = tree.walk(self.addr(), &mut walk).expect("no retry");
        walk.log.pop().expect("one walk")
    }

    /// The node at `depth` of `path`.
    fn node(path: &[Load], depth: usize) -> &Node {
        let Load::Node(p) = path[depth] else {
            panic!("no node at depth {depth} of {path:?}");
        };
        // SAFETY: nodes are kept until the space drops (see `Model`), and `self`
        // borrows it.
        unsafe { &*(p as *const Node) }
    }

    /// Every walk the reader made went the way the index was before the
    /// writer's store (`before`) or after it (`after`): its own nodes, fully
    /// initialised, to the entry they held then.
    fn check_walks(&self, before: &[Load], after: &[Load], tally: &Tally) {
        let walks = self.space.scheme().walks();
        assert!(!walks.is_empty(), "the reader walked");
        for walk in &walks {
            if walk == before {
                Tally::bump(&tally.walked_before);
            } else if walk == after {
                Tally::bump(&tally.walked_after);
            } else {
                panic!("a walk went neither the way before the store ({before:?}) nor the way after it ({after:?}): {walk:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The reader

/// What the reader did, summed over a model's executions: the proof that each
/// model reaches the cases it is about. Std atomics outside the model (loom does
/// not see them); all Relaxed: counters, read after the model has finished.
#[derive(Default, Debug)]
struct Tally {
    executions: StdCount,
    /// Returned the VMA mapped before the writer's store read-locked.
    locked_old: StdCount,
    /// Returned the VMA the writer mapped read-locked.
    locked_new: StdCount,
    /// Took a reference, then found the VMA write-locked and dropped it.
    ref_then_write_locked: StdCount,
    /// Took a reference, then found it in another mm (reused) and dropped it.
    ref_then_other_mm: StdCount,
    /// Took a reference, then found it at another address and dropped it.
    ref_then_address: StdCount,
    /// Found a gap.
    not_found: StdCount,
    /// Found the VMA write-locked before taking a reference (the early bail).
    write_locked_no_ref: StdCount,
    /// Rejected the VMA otherwise without a reference (a writer present, gave
    /// up after a miss).
    no_ref: StdCount,
    /// Found it detached at least once.
    missed: StdCount,
    /// Walks the way the index was before the writer's store.
    walked_before: StdCount,
    /// Walks the way the index was after it.
    walked_after: StdCount,
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
        let g = Tally::get;
        format!(
            "locked old {}, locked new {}, ref then write-locked {}, ref then other mm {}, \
             ref then address {}, not found {}, write-locked without ref {}, rejected \
             otherwise without ref {}, missed {}, walks before the store {}, after it {}",
            g(&self.locked_old),
            g(&self.locked_new),
            g(&self.ref_then_write_locked),
            g(&self.ref_then_other_mm),
            g(&self.ref_then_address),
            g(&self.not_found),
            g(&self.write_locked_no_ref),
            g(&self.no_ref),
            g(&self.missed),
            g(&self.walked_before),
            g(&self.walked_after),
        )
    }

    /// Count what the reader locked: `old`, `new`, or nothing.
    fn locked(&self, locked: Option<usize>, old: usize, new: usize) {
        match locked {
            Some(v) if v == old => Tally::bump(&self.locked_old),
            Some(v) if v == new => Tally::bump(&self.locked_new),
            Some(v) => panic!("locked {v:#x}, neither the old VMA nor the new one"),
            None => {}
        }
    }
}

/// Whether the reader reads the plain fields under its read lock.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Witness {
    /// Yes: loom checks those reads against the writers' writes.
    Plain,
    /// No: only the value checks can see a failure (so that a twin shows them).
    ValuesOnly,
}

/// One execution's race: the reader (`reader`) on a thread of its own while
/// `writer` runs on the model's thread. Returns the VMA the reader locked, if
/// any.
///
/// The writer runs on the model's thread so that loom's first execution runs
/// it before the reader: loom tracks only the last access to each object, so
/// a race between one thread's load and another's later load-then-store of the
/// same location (a writer's `locate` before its publish) is explored only if
/// the storing thread ran first (loom issues 166 and 392). The reader drops its
/// handle only once the writer is done (`done`): dropping a handle gives its
/// (empty) sheaves to the caches' barns under their locks, which the writer
/// takes too, and loom would otherwise explore every order of those lock
/// operations (hundreds of times as many executions), none of which the
/// protocol depends on.
fn race<V: Variant>(
    w: &Arc<World<V>>,
    witness: Witness,
    tally: &Arc<Tally>,
    writer: impl FnOnce(&World<V>),
) -> Option<usize> {
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (w, tally, done) = (Arc::clone(w), Arc::clone(tally), Arc::clone(&done));
        loom::thread::spawn(move || reader(&w, witness, &tally, &done))
    };
    writer(w);
    // Release: pairs with the reader's Acquire load, ordering the writer's
    // (and its handle's) accesses before the reader's handle drop.
    done.store(true, Ordering::Release);
    reader.join().expect("the reader finished")
}

/// The reader of every model: the crate's `lock_vma_under_rcu` in mm 0 at slot
/// 0. A VMA it returns must pass the crate's oracle against the mm's record of
/// the slot (the mapping it asked for, one mapping's fields); if it is `x`, the
/// reader also reads its plain fields (loom checks no writer owns it then).
/// Returns the VMA it locked, if any.
fn reader<V: Variant>(
    w: &World<V>,
    witness: Witness,
    tally: &Tally,
    done: &AtomicBool,
) -> Option<usize> {
    let sp = &w.space;
    let addr = w.addr();
    let took_ref = Cell::new(false);
    let c = Counters::default();
    let mut h = sp.handle_with(0, |p: Point| {
        if p == Point::Locked {
            took_ref.set(true);
        }
    });
    let locked = match sp.lock_vma_under_rcu(&mut h, MM, addr, &c) {
        Ok(vma) => {
            assert!(
                vma.fault_check(MM, addr, sp.current(MM, SLOT)),
                "accepted a VMA that is not mm {MM}'s mapping of the address, or one whose \
                 fields are not one mapping's"
            );
            if witness == Witness::Plain && std::ptr::eq(&*vma, w.x()) {
                assert_eq!(
                    w.read_plain(),
                    MAPPED,
                    "accepted a VMA whose contents belong to another mapping"
                );
            }
            Some(&*vma as *const Vma as usize)
        }
        Err(why) => {
            match (why, took_ref.get()) {
                (AbortReason::WriteLocked, true) => Tally::bump(&tally.ref_then_write_locked),
                (AbortReason::OtherMm, true) => Tally::bump(&tally.ref_then_other_mm),
                (AbortReason::Address, true) => Tally::bump(&tally.ref_then_address),
                (AbortReason::NotFound, _) => Tally::bump(&tally.not_found),
                (AbortReason::WriteLocked, false) => Tally::bump(&tally.write_locked_no_ref),
                _ => Tally::bump(&tally.no_ref),
            }
            None
        }
    };
    // Acquire: pairs with the Release store in `race` (see there).
    while !done.load(Ordering::Acquire) {
        loom::thread::yield_now();
    }
    drop(h);
    let t = c.snapshot();
    assert_eq!(t.errors, 0, "{t:?}");
    if t.lock_miss > 0 {
        Tally::bump(&tally.missed);
    }
    locked
}

// ---------------------------------------------------------------------------
// The models

/// Model 1, one execution: the writer replaces `x` in mm 0 and the cache hands
/// it back at once for a mapping at another address in mm 1.
fn reuse_in_another_mm<V: Variant>(tally: &Arc<Tally>) {
    reuse_in_another_mm_with::<V>(Witness::Plain, tally);
}

/// Model 1 with a reader that does not read the plain fields (see `Witness`).
fn reuse_in_another_mm_values_only<V: Variant>(tally: &Arc<Tally>) {
    reuse_in_another_mm_with::<V>(Witness::ValuesOnly, tally);
}

fn reuse_in_another_mm_with<V: Variant>(witness: Witness, tally: &Arc<Tally>) {
    let w = World::<V>::new();
    let before = w.path();
    let locked = race(&w, witness, tally, |w| {
        let sp = &w.space;
        let c = Counters::default();
        let mut h = sp.handle_with(1, NoHook);
        sp.replace(&mut h, MM, SLOT, MapKind::Fresh, &c);
        // Out of the index and detached (its readers drained), back in the
        // cache: its memory is the cache's, which may hand it out at once.
        w.write_plain(FREED);
        sp.replace(&mut h, REUSE.0, REUSE.1, MapKind::Fresh, &c);
        assert_eq!(
            sp.current(REUSE.0, REUSE.1),
            w.x.as_ptr().cast_const(),
            "the cache hands the freed VMA out again at once"
        );
        let t = c.snapshot();
        assert_eq!((t.maps, t.unmaps, t.errors), (2, 2, 0), "{t:?}");
    });
    w.check_walks(&before, &w.path(), tally);
    let new = w.space.current(MM, SLOT) as usize;
    tally.locked(locked, w.x.as_ptr() as usize, new);
    assert_eq!(w.x().refcnt(), 1, "attached in mm 1, no reader left");
}

/// Model 2, one execution: the writer takes `mmap_lock` for write
/// ([`Mm::write_lock`](vma_bench::model::mm::Mm::write_lock)), write-locks `x`
/// (`vma_start_write`), changes its plain fields (as mprotect changes
/// `vm_flags`) and puts them back, and unlocks (the guard's drop, which
/// unlocks every VMA it write-locked). No crate writer changes a VMA in place,
/// so this one is made of the crate's pieces.
fn write_lock_excludes_readers<V: Variant>(tally: &Arc<Tally>) {
    let w = World::<V>::new();
    let before = w.path();
    let locked = race(&w, Witness::Plain, tally, |w| {
        let guard = w.space.mm(MM).write_lock();
        assert!(w.x().start_write_with(guard.seq(), V::MISTAKE));
        // The writer believes it has `x` to itself (write-locked).
        w.write_plain(CHANGING);
        w.write_plain(MAPPED);
        drop(guard);
    });
    w.check_walks(&before, &before, tally);
    tally.locked(locked, w.x.as_ptr() as usize, 0);
    assert_eq!(w.x().refcnt(), 1, "attached, no reader left");
}

/// Model 3, one execution: the writer's `replace` removes `x`; when it returns,
/// no reader holds `x`, and the cache may hand it out.
fn detach_waits_for_readers<V: Variant>(tally: &Arc<Tally>) {
    let w = World::<V>::new();
    let before = w.path();
    let locked = race(&w, Witness::Plain, tally, |w| {
        let sp = &w.space;
        let c = Counters::default();
        sp.replace(&mut sp.handle_with(1, NoHook), MM, SLOT, MapKind::Fresh, &c);
        // Relaxed (inside `refcnt`) is enough: detach's read-modify-writes are
        // this thread's latest on `refcnt`, so the load sees what detach left or
        // a later store; a correct detach leaves 0, which no reader can raise.
        assert_eq!(
            w.x().refcnt(),
            0,
            "a reader still holds the VMA after its writer removed it"
        );
        // Freed: the cache may hand the memory out at once, and its next user
        // writes it.
        w.write_plain(FREED);
        let t = c.snapshot();
        assert_eq!((t.maps, t.unmaps, t.errors), (1, 1, 0), "{t:?}");
    });
    w.check_walks(&before, &w.path(), tally);
    let new = w.space.current(MM, SLOT) as usize;
    tally.locked(locked, w.x.as_ptr() as usize, new);
}

/// Model 4, one execution: on an index of two leaves under a root, the writer
/// unmaps `x`, next to a gap, so the index rebuilds its leaf and publishes the
/// new one in the root's slot. The reader walks through the old leaf, to `x`,
/// or through the new one, fully initialised, to the gap.
fn walk_during_leaf_rebuild<V: Variant>(tally: &Arc<Tally>) {
    let w = World::<V>::with_layout(TWO_LEVELS);
    let before = w.path();
    let locked = race(&w, Witness::Plain, tally, |w| {
        let sp = &w.space;
        let c = Counters::default();
        assert!(sp.unmap(&mut sp.handle_with(1, NoHook), MM, SLOT, &c));
        // Removed and freed: the cache's memory now.
        w.write_plain(FREED);
        let t = c.snapshot();
        assert_eq!((t.unmaps, t.nodes_replaced, t.errors), (1, 1, 0), "{t:?}");
    });
    let after = w.path();
    w.check_walks(&before, &after, tally);
    assert_eq!(before.len(), 3, "a root, a leaf, an entry: {before:?}");
    let (old, new) = (World::<V>::node(&before, 1), World::<V>::node(&after, 1));
    assert!(!std::ptr::eq(old, new), "the leaf was rebuilt");
    assert!(
        old.is_dead() && !new.is_dead(),
        "the old leaf is marked dead"
    );
    assert_eq!(
        (before[0], after[2]),
        (after[0], Load::Entry(0)),
        "the same root, and a gap where x was"
    );
    tally.locked(locked, w.x.as_ptr() as usize, 0);
}

/// Model 5, one execution: the writer replaces `x` by a copy of it (an exact
/// fit, stored in place). The reader finds `x` or the copy, and locks either
/// only as mm 0's mapping of the address, fully initialised (the oracle in
/// `reader`).
fn walk_during_exact_fit<V: Variant>(tally: &Arc<Tally>) {
    let w = World::<V>::new();
    let before = w.path();
    let locked = race(&w, Witness::Plain, tally, |w| {
        let sp = &w.space;
        let c = Counters::default();
        sp.replace(&mut sp.handle_with(1, NoHook), MM, SLOT, MapKind::Copy, &c);
        w.write_plain(FREED);
        let t = c.snapshot();
        assert_eq!(
            (t.maps, t.unmaps, t.nodes_replaced, t.errors),
            (1, 1, 0, 0),
            "{t:?}"
        );
    });
    let after = w.path();
    w.check_walks(&before, &after, tally);
    assert_eq!(before[0], after[0], "stored in place: the same leaf");
    let new = w.space.current(MM, SLOT) as usize;
    assert_eq!(after[1], Load::Entry(new));
    tally.locked(locked, w.x.as_ptr() as usize, new);
}

/// Model 6, one execution: the reader's slot starts unmapped (a gap from its
/// start to the next VMA) and the writer maps it, so the index splits the gap
/// in a rebuilt leaf. The reader finds the gap in the old leaf, or the new VMA
/// in the new one, which it locks only once the writer is done with it.
fn walk_during_map<V: Variant>(tally: &Arc<Tally>) {
    let w = World::<V>::new();
    let sp = &w.space;
    assert!(sp.unmap(&mut sp.handle(1), MM, SLOT, &Counters::default()));
    let before = w.path();
    // `x` was freed above and the writer's cache may hand it out again: only
    // the oracle checks what the reader locks.
    let locked = race(&w, Witness::ValuesOnly, tally, |w| {
        let sp = &w.space;
        let c = Counters::default();
        assert!(sp.map(&mut sp.handle_with(1, NoHook), MM, SLOT, &c));
        let t = c.snapshot();
        assert_eq!((t.maps, t.nodes_replaced, t.errors), (1, 1, 0), "{t:?}");
    });
    let after = w.path();
    w.check_walks(&before, &after, tally);
    let new = w.space.current(MM, SLOT) as usize;
    assert_eq!(
        (before[1], after[1]),
        (Load::Entry(0), Load::Entry(new)),
        "a gap, then the new VMA"
    );
    assert!(
        World::<V>::node(&before, 0).is_dead(),
        "the old leaf is marked dead"
    );
    tally.locked(locked, 0, new);
}

// ---------------------------------------------------------------------------
// Running the models

/// One execution of a model.
type Body = fn(&Arc<Tally>);

/// Run `body` under loom; print what it explored. Returns the executions
/// explored and the time taken (panics if loom fails). `locate`: record source
/// locations, so that a causality violation names the two accesses (costly; the
/// broken twins stop early).
fn explore(name: &str, body: Body, locate: bool, tally: &Arc<Tally>) -> (usize, Duration) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = PREEMPTION_BOUND;
    builder.location = locate;
    let t = Arc::clone(tally);
    let start = Instant::now();
    builder.check(move || {
        Tally::bump(&t.executions);
        body(&t);
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
    explore(name, body, false, &tally);
    tally
}

/// A broken twin: loom must fail it, with a message containing `expected`.
fn broken(name: &str, body: Body, expected: &str) {
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| explore(name, body, true, &tally)));
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
    let t = correct(name, reuse_in_another_mm::<Correct>);
    at_least_once(name, "a reader locking the old mapping", &t.locked_old);
    at_least_once(name, "a reader locking the new mapping", &t.locked_new);
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
        reuse_in_another_mm::<AttachRelaxed>,
        "Causality violation",
    );
}

/// The same twin with the plain-field witness off: loom must then find the
/// reader accepting the reused VMA, seen as mm 0's mapping, through the oracle.
#[test]
fn model1_twin_n5_attach_relaxed_values_only() {
    broken(
        "model1_twin_n5_attach_relaxed_values_only",
        reuse_in_another_mm_values_only::<AttachRelaxed>,
        "accepted a VMA that is not mm 0's mapping",
    );
}

#[test]
fn model2_write_lock_excludes_readers() {
    let name = "model2_write_lock_excludes_readers";
    let t = correct(name, write_lock_excludes_readers::<Correct>);
    at_least_once(name, "a reader locking the VMA", &t.locked_old);
    at_least_once(
        name,
        "a reader referencing the write-locked VMA and backing out",
        &t.ref_then_write_locked,
    );
    at_least_once(
        name,
        "a reader finding the VMA write-locked before its reference",
        &t.write_locked_no_ref,
    );
}

#[test]
fn model2_twin_n4_read_cas_relaxed() {
    broken(
        "model2_twin_n4_read_cas_relaxed",
        write_lock_excludes_readers::<ReadCasRelaxed>,
        "Causality violation",
    );
}

#[test]
fn model2_twin_n4_checks_before_cas() {
    broken(
        "model2_twin_n4_checks_before_cas",
        write_lock_excludes_readers::<ChecksBeforeCas>,
        "Causality violation",
    );
}

/// N16: the lock check loads `mm_lock_seq` Relaxed, so a reader that sees
/// the writer's `mmap_write_unlock` need not see the changes made under it.
#[test]
fn model2_twin_n16_mm_seq_relaxed() {
    broken(
        "model2_twin_n16_mm_seq_relaxed",
        write_lock_excludes_readers::<MmSeqRelaxed>,
        "Causality violation",
    );
}

#[test]
fn model3_detach_waits_for_readers() {
    let name = "model3_detach_waits_for_readers";
    let t = correct(name, detach_waits_for_readers::<Correct>);
    at_least_once(name, "a reader locking the VMA", &t.locked_old);
    at_least_once(
        name,
        "a reader referencing the VMA during the replace and backing out",
        &t.ref_then_write_locked,
    );
    at_least_once(name, "a reader finding the VMA detached", &t.missed);
}

#[test]
fn model3_twin_n3_detach_no_wait() {
    broken(
        "model3_twin_n3_detach_no_wait",
        detach_waits_for_readers::<DetachNoWait>,
        "a reader still holds the VMA after its writer removed it",
    );
}

#[test]
fn model4_walk_during_leaf_rebuild() {
    let name = "model4_walk_during_leaf_rebuild";
    let t = correct(name, walk_during_leaf_rebuild::<Correct>);
    at_least_once(name, "a walk through the old leaf", &t.walked_before);
    at_least_once(name, "a walk through the new leaf", &t.walked_after);
    at_least_once(name, "a reader locking the VMA", &t.locked_old);
    at_least_once(name, "a reader finding the gap", &t.not_found);
    at_least_once(name, "a reader finding the VMA detached", &t.missed);
}

#[test]
fn model4_twin_publish_relaxed() {
    broken(
        "model4_twin_publish_relaxed",
        walk_during_leaf_rebuild::<PublishRelaxed>,
        "a walk took a leaf for an internal node",
    );
}

#[test]
fn model5_walk_during_exact_fit() {
    let name = "model5_walk_during_exact_fit";
    let t = correct(name, walk_during_exact_fit::<Correct>);
    at_least_once(name, "a walk to the old VMA", &t.walked_before);
    at_least_once(name, "a walk to the copy", &t.walked_after);
    at_least_once(name, "a reader locking the old VMA", &t.locked_old);
    at_least_once(name, "a reader locking the copy", &t.locked_new);
    at_least_once(name, "a reader finding the old VMA detached", &t.missed);
}

#[test]
fn model6_walk_during_map() {
    let name = "model6_walk_during_map";
    let t = correct(name, walk_during_map::<Correct>);
    at_least_once(name, "a walk through the old leaf", &t.walked_before);
    at_least_once(name, "a walk through the new leaf", &t.walked_after);
    at_least_once(name, "a reader finding the gap", &t.not_found);
    at_least_once(
        name,
        "a reader finding the new VMA write-locked by its writer",
        &t.write_locked_no_ref,
    );
    at_least_once(name, "a reader locking the new VMA", &t.locked_new);
}

#[test]
fn model6_twin_publish_relaxed() {
    broken(
        "model6_twin_publish_relaxed",
        walk_during_map::<PublishRelaxed>,
        "a walk took a leaf for an internal node",
    );
}
