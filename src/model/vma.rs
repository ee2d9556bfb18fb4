//! The VMA object and its per-VMA lock, in the form merged for Linux 6.15.
//!
//! Every field a stale reader may read is an atomic, so an object that is freed
//! and reused under a reader (the typesafe scheme does exactly that) is defined
//! behaviour: the reader sees some value, and validation decides.

use crate::model::hook::{Hook, Point};
use std::mem::offset_of;
use std::ptr::NonNull;

use crate::model::slab::{free_after_gp, SlabObject};
use crate::rcu::{Deferrable, RcuHead};
use crate::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Writer offset added to `refcnt` while a writer waits for readers.
pub const VMA_LOCK_OFFSET: u32 = 0x4000_0000;
/// Readers may not push `refcnt` past this.
pub const VMA_REF_LIMIT: u32 = VMA_LOCK_OFFSET - 1;
/// `lock_seq` of an object that has never been write-locked.
pub const LOCK_SEQ_NONE: u32 = u32::MAX;
/// `mm` of an object that belongs to no address space.
pub const NO_MM: usize = usize::MAX;
/// Words of payload a fault reads: with the fields before them, the first two
/// cache lines of the object, like the fields a real fault reads.
pub const PAYLOAD_WORDS: usize = 9;

/// How long a broken twin's writer waits for readers before it gives up and the
/// caller counts an error. Far beyond any read section of the correct protocol,
/// which never gives up (a reader preempted inside one is back within a few
/// scheduler ticks); a twin's leaked reference is never dropped at all.
pub const TWIN_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// What a writer's wait for readers in `enter_locked` ended with.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Entered {
    /// The object was detached: no offset added, nothing to wait for.
    Detached,
    /// The offset is added and only the writer (and the attach reference) is left.
    Drained,
    /// A broken twin's writer stopped waiting; the offset is still added.
    GaveUp,
    /// A broken twin's writer never got to add its offset (another writer's
    /// stayed): nothing to take back.
    Refused,
}

/// A deliberate protocol mistake: the broken twins of `typesafe` carry one each,
/// and the loom models' twins (`tests/loom.rs`) carry N3, N4, N5, N16 and
/// `PublishRelaxed`.
/// `None` is the correct protocol. Always a compile-time constant at the call site
/// (an associated constant of the scheme, or a constant in a model), so every
/// branch on it folds away.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mistake {
    /// The correct protocol.
    None,
    /// N6: the reader does not check `vma.mm == mm` after locking.
    NoMmCheck,
    /// N1: `vm_area_dup` copies `refcnt`, so an uninserted copy looks attached.
    DupCopiesRefcnt,
    /// N5: `vma_mark_attached` stores `refcnt = 1` Relaxed, so a reader that takes
    /// a reference need not see the fields written before attach (weak memory only).
    AttachRelaxed,
    /// N4: the reader's CAS takes its reference without Acquire, so its later reads
    /// of `lock_seq`, `mm`, `start`/`end` are not ordered after it (weak memory only).
    ReadCasRelaxed,
    /// N4: the reader validates `mm` and `lock_seq` before its CAS and not after, so
    /// a writer may lock the object between the checks and the reference.
    ChecksBeforeCas,
    /// N3: `vma_mark_detached` drops the attach reference and returns without
    /// waiting for readers that slipped in.
    DetachNoWait,
    /// N2: the writer frees the old VMA without detaching it (`refcnt` still 1 when
    /// it goes back to the pool), as exit_mmap once did.
    FreeAttached,
    /// N8: `lock_vma_under_rcu` drops a reference (a put) on the detached/retry
    /// path, where none was taken.
    PutOnRetry,
    /// N13: no address check after locking (reuse at another address of the mm).
    NoAddrCheck,
    /// N15: fork copies the parent's VMAs (`vm_area_dup`) without write-locking
    /// them, so a fault holding a parent VMA's read lock changes it during the
    /// copy (Linux 6.4; fixed by "fork: lock VMAs of the parent process when
    /// forking").
    ForkUnlocked,
    /// N14: an in-place change (mprotect, madvise) rewrites an attached VMA's
    /// fields under `mmap_lock` without `vma_start_write`, so a fault holding the
    /// VMA's read lock reads a mix of the old and the new fields.
    ChangeUnlocked,
    /// N10: after a failed mm check the reader drops its reference and wakes the
    /// other mm's writer without pinning that mm first.
    MmUnpinned,
    /// N7: the reader's lock checks compare `lock_seq` with the sequence of the
    /// mm the object names (`vma.mm`, read before the reference is taken, which a
    /// reuse may change and whose mm may be freed), not the caller's mm.
    SeqOfVmaMm,
    /// N9: the free path resets `lock_seq` to its initial value before readers
    /// have drained, so a reader that took its reference under the write lock sees
    /// the object unlocked ("false unlocking" a still write-locked object).
    FreeResetsSeq,
    /// The index publishes a rebuilt leaf in its parent (or the root) with a
    /// Relaxed store instead of `rcu_assign_pointer`'s Release, so a walk that
    /// loads the new leaf need not see its fill (weak memory only; the loom
    /// twin of the node publish, taken by `Tree::store_with`).
    PublishRelaxed,
    /// N16: the reader's lock check loads `mm_lock_seq` Relaxed instead of
    /// Acquire, so a reader that sees the mm unlocked need not see what its
    /// writer changed under the lock (weak memory only; fixed in "mm: fix memory
    /// ordering for mm_lock_seq and vm_lock_seq", Linux 6.5).
    MmSeqRelaxed,
    /// N17: after a miss, `lock_vma_under_rcu` retries its walk from the leaf
    /// its last walk ended in (a maple state kept across `rcu_read_unlock()`)
    /// instead of from the root, and so reads a node whose free no read
    /// section holds back (found by syzbot, KASAN use-after-free; fixed in
    /// Nov 2025 by resetting the maple state on retry). Harmless where no
    /// grace period ends between two sections of a thread (QSBR, as a
    /// non-preemptible kernel). The twin's slab caches keep their empty slabs,
    /// so the freed memory it reads stays typed and the read is counted.
    StaleRetry,
}

/// A `vm_area_struct`: 192 bytes, three cache lines, as the kernel's object on
/// the machines we model. The first two lines hold what the walk's checks and
/// the fault read (range, mm, flags, `vm_lock_seq`, and a payload standing for
/// the rest of the fields a fault reads); `vm_refcnt` has the third line to
/// itself (`____cacheline_aligned_in_smp` since 6.15), so readers' refcount
/// traffic does not invalidate the fields they validate. The `rcu_head` a
/// deferred free lends to `call_rcu` shares that line: the kernel's 6.15+ object
/// has none (a typesafe VMA is never queued), its older one overlapped it with
/// `vm_start` / `vm_end`, which Rust's model forbids while stale readers may
/// still read them.
#[repr(C, align(64))]
pub struct Vma {
    mm: AtomicUsize,
    start: AtomicU64,
    end: AtomicU64,
    /// Generation of the mapping this object holds; 0 = never mapped.
    gen: AtomicU64,
    flags: AtomicU64,
    pgoff: AtomicU64,
    /// Equal to the mm's `mm_lock_seq` while write-locked in that mm's current cycle.
    lock_seq: AtomicU32,
    /// In-place changes made to this mapping since it was made (`init` /
    /// `rewrite` reset it; [`Vma::change`] adds one): the tally a removed or
    /// surviving VMA carries, set against the writers' count of changes.
    changes: AtomicU32,
    /// Written at map time; `payload[0]` binds mm, start and gen; the rest derive from gen.
    payload: [AtomicU64; PAYLOAD_WORDS],
    /// `vm_refcnt` and the `rcu_head`, on their own cache line.
    line: RefLine,
}

/// The cache line of `vm_refcnt`.
#[repr(C, align(64))]
struct RefLine {
    /// 0 detached; 1 attached; 1 + k with k readers; `+ VMA_LOCK_OFFSET` a writer waits.
    refcnt: AtomicU32,
    /// `vma->anon_vma`: 0 until the first fault assigns it, under the VMA's
    /// read lock ([`Vma::anon_prepare`]); on this line, which a fault has
    /// just written (its reference), so the check costs no new cache line.
    anon: AtomicU64,
    /// What the assignment links next (the `anon_vma_chain`): equal to `anon`
    /// once an assignment is complete. A copy with the two unequal was made
    /// while a fault was assigning: a torn copy.
    anon_chain: AtomicU64,
    /// Lent to `call_rcu` by a scheme that defers VMA frees.
    head: RcuHead,
}

// SAFETY: `head` returns the object's own `rcu_head` field, and `from_head` maps
// that field's address back to the object (`container_of`).
unsafe impl Deferrable for Vma {
    fn head(&self) -> &RcuHead {
        &self.line.head
    }
    unsafe fn from_head(head: *mut RcuHead) -> NonNull<Vma> {
        let vma = head
            .wrapping_byte_sub(offset_of!(Vma, line) + offset_of!(RefLine, head))
            .cast::<Vma>();
        NonNull::new(vma).expect("a live head is not at address zero")
    }
    /// Free the VMA into its (normal) slab cache: a grace period has passed.
    unsafe fn reclaim(this: NonNull<Vma>) {
        // SAFETY: the caller's promise: queued once, no reader left; VMAs are
        // allocated only from `KmemCache<Vma>`, alive until its space drops, which
        // runs every callback first.
        unsafe { free_after_gp(this) };
    }
}

// SAFETY: every field is an atomic except the `rcu_head`, which only `call_rcu`
// touches (1); no drop glue (2); any state a writer leaves is a valid object for
// the next: a detached object (3).
unsafe impl SlabObject for Vma {
    fn construct() -> Self {
        Vma::new()
    }
}

/// What `vma_start_read` decided.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StartRead {
    /// Read-locked and validated against the caller's mm.
    Locked,
    /// Found detached (`refcnt == 0`): look it up again.
    Detached,
    /// Not locked: write-locked, too many readers, or it belongs to another mm.
    Abort(AbortReason),
}

/// Why a lock attempt was abandoned (for tests and diagnostics; the kernel counts all as abort).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AbortReason {
    /// No VMA in the index for the address.
    NotFound,
    /// `lock_seq` equals the mm's sequence: write-locked this cycle.
    WriteLocked,
    /// A writer is present or the reader limit is reached.
    Contended,
    /// The object belongs to another mm (reused there).
    OtherMm,
    /// The object does not cover the address (reused elsewhere).
    Address,
    /// Dropping the reference found none to drop: a broken twin's refcount
    /// underflow, counted as an error.
    Underflow,
    /// A broken twin found an object in the index detached over and over (its
    /// attach reference was dropped by a put without a get); the correct
    /// protocol never gives up.
    GaveUp,
}

impl Default for Vma {
    fn default() -> Self {
        Self::new()
    }
}

impl Vma {
    /// A detached object with its lock initialised: the slab constructor.
    pub fn new() -> Self {
        Vma {
            mm: AtomicUsize::new(NO_MM),
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
            gen: AtomicU64::new(0),
            flags: AtomicU64::new(0),
            pgoff: AtomicU64::new(0),
            lock_seq: AtomicU32::new(LOCK_SEQ_NONE),
            changes: AtomicU32::new(0),
            payload: std::array::from_fn(|_| AtomicU64::new(0)),
            line: RefLine {
                refcnt: AtomicU32::new(0),
                anon: AtomicU64::new(0),
                anon_chain: AtomicU64::new(0),
                head: RcuHead::new(),
            },
        }
    }

    /// Generation of the mapping (0 if never mapped). For statistics only.
    pub fn generation(&self) -> u64 {
        // Relaxed: read by the allocating writer, which owns the detached object.
        self.gen.load(Ordering::Relaxed)
    }

    /// Whether only a writer is left in `refcnt` as a put left it (`left`): then
    /// that writer waits for readers and the put must wake it.
    pub fn writer_waits(left: u32) -> bool {
        left & VMA_LOCK_OFFSET != 0 && left <= VMA_LOCK_OFFSET + 1
    }

    /// Current reference count (tests and assertions only).
    pub fn refcnt(&self) -> u32 {
        // Relaxed: a snapshot for tests, nothing is ordered after it.
        self.line.refcnt.load(Ordering::Relaxed)
    }

    /// The mm this object belongs to (tests; and the reader's put on the
    /// failed-mm-check path, under its read reference).
    pub fn mm(&self) -> usize {
        // Relaxed: a snapshot for tests; under a read reference, ordered after the
        // Acquire CAS that took it.
        self.mm.load(Ordering::Relaxed)
    }

    /// `[start, end)` as this thread sees it now (tests and models only).
    pub fn range(&self) -> (u64, u64) {
        // Relaxed (both): a snapshot for tests; a model that calls it under a read
        // reference relies on the reference's Acquire, as `covers` does.
        (
            self.start.load(Ordering::Relaxed),
            self.end.load(Ordering::Relaxed),
        )
    }

    /// `vma_init` for a detached object: write every field of a new mapping.
    /// The lock fields are left alone (initialised once by the constructor).
    /// Published to readers by `mark_attached`'s Release store.
    pub fn init(&self, mm: usize, start: u64, end: u64, gen: u64) {
        debug_assert!(gen != 0);
        // Relaxed (all stores below): the object is detached; readers that find it
        // stale fail their refcnt CAS, and attach's Release publishes these stores.
        self.mm.store(mm, Ordering::Relaxed);
        self.start.store(start, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
        self.flags.store(gen & 0xff, Ordering::Relaxed);
        self.pgoff.store(start >> 12, Ordering::Relaxed);
        self.write_payload(mm, start, gen);
    }

    /// Give the mapping a new generation and payload (a copy being changed, as
    /// mprotect or mremap change the copy made by `vm_area_dup`).
    pub fn rewrite(&self, gen: u64) {
        // Relaxed: see `init`; the object is not yet attached.
        let mm = self.mm.load(Ordering::Relaxed);
        let start = self.start.load(Ordering::Relaxed);
        self.write_payload(mm, start, gen);
    }

    fn write_payload(&self, mm: usize, start: u64, gen: u64) {
        // Relaxed (all stores): published by attach's Release, as in `init`.
        self.changes.store(0, Ordering::Relaxed);
        self.line.anon.store(0, Ordering::Relaxed);
        self.line.anon_chain.store(0, Ordering::Relaxed);
        self.write_version(mm, start, gen, &mut crate::model::hook::NoHook);
    }

    /// Write version `gen` of the mapping's fields: `gen`, then `payload[0]`,
    /// then (after `hook`'s [`Point::Changing`]) the rest. A reader that reads
    /// them while they are written sees a mix, which [`fault_check`](Vma::fault_check)
    /// refuses.
    fn write_version<H: Hook>(&self, mm: usize, start: u64, gen: u64, hook: &mut H) {
        // Relaxed (all stores): published by attach's Release for a detached
        // object; for an attached one (`change`) by the Release that ends the
        // write cycle (`exit_locked`, the mmap_lock release), after the
        // writer's drain of readers (Acquire) ordered their reads before these.
        self.gen.store(gen, Ordering::Relaxed);
        self.payload[0].store(tag(mm, start, gen), Ordering::Relaxed);
        hook.at(Point::Changing);
        for (i, w) in self.payload.iter().enumerate().skip(1) {
            w.store(word(gen, i), Ordering::Relaxed);
        }
    }

    /// An in-place change of an attached VMA (mprotect, madvise: the VMA stays
    /// in the index): its fields become version `gen`. The caller holds
    /// `mmap_lock` for write and has write-locked the VMA (`vma_start_write`),
    /// so no reader holds it while the fields change; `hook` sees
    /// [`Point::Changing`] halfway through the write.
    pub fn change<H: Hook>(&self, gen: u64, hook: &mut H) {
        // Relaxed (loads): the writer holding mmap_lock is the only one that
        // writes these fields of an attached VMA.
        let mm = self.mm.load(Ordering::Relaxed);
        let start = self.start.load(Ordering::Relaxed);
        self.write_version(mm, start, gen, hook);
        // Relaxed: only writers holding mmap_lock touch the tally, and a
        // reader never reads it.
        let n = self.changes.load(Ordering::Relaxed);
        self.changes.store(n + 1, Ordering::Relaxed);
    }

    /// `vmf_anon_prepare`: a fault holding this VMA's read lock (or `mmap_lock`
    /// for read) assigns its `anon_vma` if it has none: `anon`, then (after
    /// `hook`'s [`Point::AnonAssigning`]) `anon_chain`. Several readers may hold
    /// the lock at once: one wins the assignment, the others go on. The only
    /// write a reader makes to a VMA's fields, so only a writer that excludes
    /// readers (`vma_start_write`, which waits for their Release puts) may copy
    /// the pair.
    #[inline]
    pub fn anon_prepare<H: Hook>(&self, hook: &mut H) {
        // Relaxed: our own read lock orders it; a value being assigned by
        // another reader is either seen (nothing to do) or not (the CAS decides).
        if self.line.anon.load(Ordering::Relaxed) == 0 {
            self.assign_anon(hook);
        }
    }

    #[cold]
    fn assign_anon<H: Hook>(&self, hook: &mut H) {
        // Relaxed: ordered after the Acquire CAS of our read reference.
        let gen = self.gen.load(Ordering::Relaxed);
        let anon = gen.rotate_left(17) | 1;
        // Relaxed (CAS and store): the readers' Release put (`end_read`) pairs
        // with the writer's Acquire drain, which orders both before any copy.
        if self
            .line
            .anon
            .compare_exchange(0, anon, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            hook.at(Point::AnonAssigning);
            self.line.anon_chain.store(anon, Ordering::Relaxed);
        }
    }

    /// Whether this object (a copy) holds one consistent version of a mapping:
    /// its payload is the one of its generation, and its `anon_vma` assignment
    /// is whole (both words, or neither). The caller owns the object.
    pub fn copy_consistent(&self) -> bool {
        // Relaxed (all loads): the caller owns the object (a copy not yet
        // published), written by this thread.
        let mm = self.mm.load(Ordering::Relaxed);
        let start = self.start.load(Ordering::Relaxed);
        let gen = self.gen.load(Ordering::Relaxed);
        let mut sum = 0u64;
        for w in &self.payload[1..] {
            sum = sum.wrapping_add(w.load(Ordering::Relaxed));
        }
        self.payload[0].load(Ordering::Relaxed) == tag(mm, start, gen)
            && sum == payload_sum(gen)
            && self.line.anon.load(Ordering::Relaxed)
                == self.line.anon_chain.load(Ordering::Relaxed)
    }

    /// In-place changes made to this mapping since it was made. The caller
    /// holds `mmap_lock` for write, or owns the object (a removed VMA, or
    /// teardown).
    pub fn changes(&self) -> u32 {
        // Relaxed: see `change`; the caller's lock orders it.
        self.changes.load(Ordering::Relaxed)
    }

    /// `vm_area_dup`: copy the fields of `orig` one by one into this detached object.
    /// Never the lock: `refcnt` stays 0 and `lock_seq` is reset, unless the
    /// `DupCopiesRefcnt` mistake (N1) is compiled in.
    #[inline]
    pub fn dup_from(&self, orig: &Vma, mistake: Mistake) {
        // Relaxed (all loads and stores): the writer holds `orig`'s mm write-locked,
        // so its fields are stable; this object is detached and published by attach.
        if mistake == Mistake::DupCopiesRefcnt {
            self.line
                .refcnt
                .store(orig.line.refcnt.load(Ordering::Relaxed), Ordering::Relaxed);
        } else {
            self.line.refcnt.store(0, Ordering::Relaxed);
        }
        self.lock_seq.store(LOCK_SEQ_NONE, Ordering::Relaxed);
        self.mm
            .store(orig.mm.load(Ordering::Relaxed), Ordering::Relaxed);
        self.start
            .store(orig.start.load(Ordering::Relaxed), Ordering::Relaxed);
        self.end
            .store(orig.end.load(Ordering::Relaxed), Ordering::Relaxed);
        self.gen
            .store(orig.gen.load(Ordering::Relaxed), Ordering::Relaxed);
        self.flags
            .store(orig.flags.load(Ordering::Relaxed), Ordering::Relaxed);
        self.pgoff
            .store(orig.pgoff.load(Ordering::Relaxed), Ordering::Relaxed);
        self.changes
            .store(orig.changes.load(Ordering::Relaxed), Ordering::Relaxed);
        self.line
            .anon
            .store(orig.line.anon.load(Ordering::Relaxed), Ordering::Relaxed);
        self.line.anon_chain.store(
            orig.line.anon_chain.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        for (d, s) in self.payload.iter().zip(&orig.payload) {
            d.store(s.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// `vma_start_read(mm, vma)`: take a read reference and validate against the
    /// caller's `mm` (never `vma.mm`, which a reuse may change under us).
    /// A reference on a VMA of another mm is dropped with [`end_read`](Vma::end_read).
    #[inline]
    pub fn start_read<H: Hook>(
        &self,
        mm: usize,
        mm_lock_seq: &AtomicU32,
        mistake: Mistake,
        hook: &mut H,
    ) -> StartRead {
        self.start_read_with(mm, mm_lock_seq, mistake, hook, |v: &Vma, _: &mut H| {
            v.end_read_with(mistake)
        })
    }

    /// [`start_read`](Vma::start_read) where `other_mm` drops the reference on a VMA
    /// found in another mm (it may have to wake that mm's writer, so the caller that
    /// knows the mms supplies it). It returns false on a refcount underflow.
    #[inline]
    pub fn start_read_with<H: Hook>(
        &self,
        mm: usize,
        mm_lock_seq: &AtomicU32,
        mistake: Mistake,
        hook: &mut H,
        other_mm: impl FnOnce(&Vma, &mut H) -> bool,
    ) -> StartRead {
        // Relaxed (both): a cheap early bail, not trusted; re-checked after the CAS.
        if self.lock_seq.load(Ordering::Relaxed) == mm_lock_seq.load(Ordering::Relaxed) {
            return StartRead::Abort(AbortReason::WriteLocked);
        }
        if mistake == Mistake::ChecksBeforeCas {
            // N4, the mistake itself: the validation below, made before the
            // reference is taken; a writer may lock and change the object between
            // these checks and the CAS. Orderings as in the (correctly placed)
            // checks after the CAS; it is their place that is wrong.
            if self.mm.load(Ordering::Relaxed) != mm {
                return StartRead::Abort(AbortReason::OtherMm);
            }
            if self.lock_seq.load(Ordering::Relaxed) == mm_lock_seq.load(Ordering::Acquire) {
                return StartRead::Abort(AbortReason::WriteLocked);
            }
        }
        // Relaxed: only the starting value of the CAS loop; the CAS decides.
        let mut old = self.line.refcnt.load(Ordering::Relaxed);
        hook.at(Point::BeforeCas);
        // Acquire on success: pairs with the Release store in `mark_attached` and
        // the Release `fetch_sub` in `start_write`, so the fields and `lock_seq`
        // read below are the ones written before attach / write-unlock.
        // Relaxed only under `ReadCasRelaxed`: the N4 mistake itself.
        let success = if mistake == Mistake::ReadCasRelaxed {
            Ordering::Relaxed
        } else {
            Ordering::Acquire
        };
        loop {
            if old == 0 {
                return StartRead::Detached;
            }
            if old >= VMA_REF_LIMIT {
                return StartRead::Abort(AbortReason::Contended);
            }
            // Success ordering: see `success` above. Relaxed on failure: we only
            // retry with the value seen.
            match self
                .line
                .refcnt
                .compare_exchange_weak(old, old + 1, success, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        hook.at(Point::Locked);
        if mistake == Mistake::ChecksBeforeCas {
            // N4: validated before the CAS (above), trusted without a re-check.
            return StartRead::Locked;
        }
        // Relaxed: ordered after the Acquire CAS above.
        if mistake != Mistake::NoMmCheck && self.mm.load(Ordering::Relaxed) != mm {
            return match other_mm(self, hook) {
                true => StartRead::Abort(AbortReason::OtherMm),
                false => StartRead::Abort(AbortReason::Underflow),
            };
        }
        // Relaxed on lock_seq: ordered after the Acquire CAS. Acquire on mm_lock_seq:
        // pairs with the Release store in `MmapWriteGuard::drop` (mmap_write_unlock),
        // so a reader that sees the mm unlocked sees what its writer changed.
        // Relaxed only under `MmSeqRelaxed`: the N16 mistake itself.
        let seq_order = if mistake == Mistake::MmSeqRelaxed {
            Ordering::Relaxed
        } else {
            Ordering::Acquire
        };
        if self.lock_seq.load(Ordering::Relaxed) == mm_lock_seq.load(seq_order) {
            if !self.end_read_with(mistake) {
                return StartRead::Abort(AbortReason::Underflow);
            }
            return StartRead::Abort(AbortReason::WriteLocked);
        }
        StartRead::Locked
    }

    /// Whether `[start, end)` covers `addr` (the check `lock_vma_under_rcu` makes).
    #[inline]
    pub fn covers(&self, addr: u64) -> bool {
        // Relaxed: called under a read reference taken with Acquire.
        addr >= self.start.load(Ordering::Relaxed) && addr < self.end.load(Ordering::Relaxed)
    }

    /// `vma_end_read`: drop the read reference. Returns false if there was none to
    /// drop (a refcount underflow, only a broken twin makes one): the drop is undone
    /// and the caller counts an error, so the harness goes on instead of hanging.
    #[inline]
    #[must_use = "an underflow must be counted"]
    pub fn end_read(&self) -> bool {
        self.put().is_some()
    }

    /// [`end_read`](Vma::end_read) for a protocol with `mistake` compiled in: the
    /// correct protocol never underflows (every put follows its get), so it drops
    /// the reference without looking at the count; a twin's put is checked.
    #[inline]
    #[must_use = "an underflow must be counted"]
    pub fn end_read_with(&self, mistake: Mistake) -> bool {
        if mistake == Mistake::None {
            // Release: as in `put`.
            self.line.refcnt.fetch_sub(1, Ordering::Release);
            return true;
        }
        self.end_read()
    }

    /// Drop one reference; the count left (for a caller that must decide whether
    /// a writer waits and must be woken), or None on an underflow (undone).
    #[inline]
    pub fn put(&self) -> Option<u32> {
        // Release: pairs with the Acquire loads in `start_write` / `mark_detached`
        // that wait for readers, so our reads happen before a writer's changes.
        let old = self.line.refcnt.fetch_sub(1, Ordering::Release);
        if old & VMA_REF_LIMIT == 0 {
            return self.undo_underflow();
        }
        Some(old - 1)
    }

    #[cold]
    fn undo_underflow(&self) -> Option<u32> {
        // Relaxed: restores the count a broken twin's put took; nothing is published.
        self.line.refcnt.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// `vma_start_write`: exclude readers until the mm is write-unlocked.
    /// `seq` is the mm's current (odd) `mm_lock_seq`; the caller holds it for write.
    pub fn start_write(&self, seq: u32) {
        let ok = self.start_write_with(seq, Mistake::None);
        debug_assert!(ok, "the correct protocol's readers always leave");
    }

    /// [`start_write`](Vma::start_write) in a protocol with `mistake` compiled in.
    /// Returns false if a broken twin's writer gave up waiting for readers that
    /// never leave (see [`TWIN_MAX_WAIT`]), for the caller to count as an error.
    #[inline]
    pub fn start_write_with(&self, seq: u32, mistake: Mistake) -> bool {
        // Relaxed: only this writer (holding mmap_lock for write) stores lock_seq now.
        if self.lock_seq.load(Ordering::Relaxed) == seq {
            return true;
        }
        let entered = self.enter_locked(false, mistake);
        // Relaxed: published by the Release in `exit_locked`, or by attach's Release
        // for a detached object.
        self.lock_seq.store(seq, Ordering::Relaxed);
        if matches!(entered, Entered::Drained | Entered::GaveUp) {
            self.exit_locked();
        }
        matches!(entered, Entered::Detached | Entered::Drained)
    }

    /// `vma_mark_attached`: every field is written; make the object lockable.
    pub fn mark_attached(&self) {
        self.mark_attached_with(Mistake::None);
    }

    /// [`mark_attached`](Vma::mark_attached) with `mistake` compiled in
    /// (`AttachRelaxed`, N5, for the loom twin; any other value is the correct attach).
    #[inline]
    pub fn mark_attached_with(&self, mistake: Mistake) {
        if mistake == Mistake::AttachRelaxed {
            // Relaxed: the N5 mistake itself; publishes nothing.
            self.line.refcnt.store(1, Ordering::Relaxed);
        } else {
            // Release: pairs with the Acquire CAS in `start_read`, publishing every
            // field written by `init` / `dup_from` / `rewrite`.
            self.line.refcnt.store(1, Ordering::Release);
        }
    }

    /// `vma_mark_detached`: drop the attach reference and wait for readers to leave.
    /// The object is write-locked; readers that slipped in will see that and leave.
    pub fn mark_detached(&self) {
        let ok = self.mark_detached_with(Mistake::None);
        debug_assert!(ok, "the correct protocol never underflows");
    }

    /// [`mark_detached`](Vma::mark_detached) with `mistake` compiled in
    /// (`DetachNoWait`, N3; `FreeAttached`, N2; `FreeResetsSeq`, N9; any other
    /// value is the correct detach). Returns false if the attach reference was
    /// gone already (a broken twin's refcount underflow, undone and left for the
    /// caller to count), or if a twin's writer gave up waiting for readers (see
    /// [`TWIN_MAX_WAIT`]).
    #[inline]
    pub fn mark_detached_with(&self, mistake: Mistake) -> bool {
        if mistake == Mistake::FreeAttached {
            // N2, the mistake itself: the object is freed still attached.
            return true;
        }
        if mistake == Mistake::FreeResetsSeq {
            // N9, the mistake itself. Relaxed: as every store of lock_seq by the
            // writer holding mmap_lock; it is the value, not its ordering, that is wrong.
            self.lock_seq.store(LOCK_SEQ_NONE, Ordering::Relaxed);
        }
        // Release: a reader that later finds refcnt 0 gives up; nothing to publish,
        // but our writes to the object must not move below the detach.
        let Some(left) = self.put() else {
            return false;
        };
        if mistake == Mistake::DetachNoWait {
            // N3, the mistake itself: readers that slipped in still hold a reference.
            return true;
        }
        if left == 0 {
            return true;
        }
        let entered = self.enter_locked(true, mistake);
        if matches!(entered, Entered::Drained | Entered::GaveUp) {
            self.exit_locked();
        }
        matches!(entered, Entered::Detached | Entered::Drained)
    }

    /// Add the writer offset if attached and wait until only the writer (and, when
    /// not detaching, the attach reference) remains.
    fn enter_locked(&self, detaching: bool, mistake: Mistake) -> Entered {
        // Relaxed: only the start value of the add-if-not-zero loop.
        let mut old = self.line.refcnt.load(Ordering::Relaxed);
        let mut round = 0u32;
        let mut since = None;
        loop {
            if old == 0 {
                return Entered::Detached;
            }
            if old >= VMA_LOCK_OFFSET {
                // Only under a broken twin (one writer per mm, and an object belongs
                // to one mm): an underflow being undone, or another mm's writer on
                // an object a twin let two mms share. Wait for the count, but give
                // up as the drain below does: a twin never hangs a run.
                if round % 1024 == 1023 {
                    let t0 = *since.get_or_insert_with(std::time::Instant::now);
                    if t0.elapsed() > TWIN_MAX_WAIT {
                        return Entered::Refused;
                    }
                }
                crate::sync::spin_wait(&mut round);
                // Relaxed: as the load above.
                old = self.line.refcnt.load(Ordering::Relaxed);
                continue;
            }
            // Acquire: pairs with readers' Release in `end_read`.
            match self.line.refcnt.compare_exchange_weak(
                old,
                old + VMA_LOCK_OFFSET,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
        let target = VMA_LOCK_OFFSET + u32::from(!detaching);
        let mut round = 0;
        let mut since = None;
        // Acquire: pairs with the Release `fetch_sub` in `end_read`: the readers'
        // accesses happen before whatever the writer does next. `>`, not `!=`: in the
        // correct protocol the count never goes below the target; a broken twin's
        // stolen reference may, and must not hang the writer.
        while self.line.refcnt.load(Ordering::Acquire) > target {
            if mistake != Mistake::None && round % 1024 == 1023 {
                // A twin's count may hold a reference no reader will drop (a
                // store over a stale reader's increment): give up, never hang.
                let t0 = *since.get_or_insert_with(std::time::Instant::now);
                if t0.elapsed() > TWIN_MAX_WAIT {
                    return Entered::GaveUp;
                }
            }
            crate::sync::spin_wait(&mut round);
        }
        Entered::Drained
    }

    fn exit_locked(&self) {
        // Release: publishes `lock_seq` (and for detach, everything before) to the
        // next reader whose Acquire CAS sees the count without the offset.
        self.line
            .refcnt
            .fetch_sub(VMA_LOCK_OFFSET, Ordering::Release);
    }

    /// The fault body and the oracle in one pass: read what a fault reads and check
    /// that this object is the mapping the caller asked for. `indexed` is what the
    /// caller's index holds for `addr` now. Returns false for a wrong answer.
    #[inline]
    pub fn fault_check(&self, mm: usize, addr: u64, indexed: *const Vma) -> bool {
        if cfg!(vma_bench_bare) {
            // The overhead-measurement build: the fault body still reads the
            // VMA's contents, but nothing is checked.
            let mut sum = 0u64;
            for w in &self.payload {
                // Relaxed: as below.
                sum = sum.wrapping_add(w.load(Ordering::Relaxed));
            }
            std::hint::black_box(sum);
            return true;
        }
        // Relaxed (all loads): the caller holds a read reference taken with Acquire
        // (or the mm lock), so the fields are those published at attach.
        let vmm = self.mm.load(Ordering::Relaxed);
        let start = self.start.load(Ordering::Relaxed);
        let end = self.end.load(Ordering::Relaxed);
        let gen = self.gen.load(Ordering::Relaxed);
        let mut sum = 0u64;
        for w in &self.payload[1..] {
            sum = sum.wrapping_add(w.load(Ordering::Relaxed));
        }
        let head = self.payload[0].load(Ordering::Relaxed);
        // `&`, not `&&`: every check is cheap and all loads are done, so one
        // branch at the end costs less than six on the fault path.
        (vmm == mm)
            & (addr >= start)
            & (addr < end)
            & std::ptr::eq(indexed, self)
            & (head == tag(vmm, start, gen))
            & (sum == payload_sum(gen))
    }
}

/// `payload[0]`: binds the mapping's mm and start to its generation. Not a hash
/// (the oracle runs on every fault, so it must be cheap): an XOR of the three,
/// each rotated to its own position, so a field that belongs to another mapping
/// changes the tag unless another field differs exactly so as to cancel it,
/// which values written by our own writers never arrange.
#[inline]
fn tag(mm: usize, start: u64, gen: u64) -> u64 {
    gen ^ start.rotate_left(20) ^ (mm as u64).rotate_left(48)
}

/// `payload[i]` for `i >= 1`.
#[inline]
fn word(gen: u64, i: usize) -> u64 {
    gen.wrapping_mul(0x9e37_79b9_7f4a_7c15_u64.wrapping_add(2 * i as u64))
}

/// The sum of `payload[1..]` for a generation.
#[inline]
fn payload_sum(gen: u64) -> u64 {
    (1..PAYLOAD_WORDS).fold(0u64, |s, i| s.wrapping_add(word(gen, i)))
}

#[cfg(all(test, not(vma_bench_loom)))]
mod tests {
    use super::*;
    use crate::model::hook::NoHook;

    #[test]
    fn size_matches_the_kernel_object() {
        assert_eq!(std::mem::size_of::<Vma>(), 192);
    }

    #[test]
    fn lock_cycle() {
        let seq = AtomicU32::new(0);
        let v = Vma::new();
        v.init(3, 0x1000, 0x2000, 7);
        assert_eq!(
            v.start_read(3, &seq, Mistake::None, &mut NoHook),
            StartRead::Detached
        );
        v.mark_attached();
        assert_eq!(
            v.start_read(3, &seq, Mistake::None, &mut NoHook),
            StartRead::Locked
        );
        assert_eq!(v.refcnt(), 2);
        assert!(v.fault_check(3, 0x1800, &v));
        assert!(!v.fault_check(3, 0x2000, &v), "end is exclusive");
        assert!(!v.fault_check(4, 0x1800, &v), "other mm");
        assert!(v.end_read());
        assert_eq!(
            v.start_read(4, &seq, Mistake::None, &mut NoHook),
            StartRead::Abort(AbortReason::OtherMm)
        );
        assert_eq!(v.refcnt(), 1, "a failed validation drops its reference");
        // Write-lock in cycle 1: readers of this mm abort until the sequence moves on.
        seq.store(1, Ordering::Relaxed);
        v.start_write(1);
        assert_eq!(
            v.start_read(3, &seq, Mistake::None, &mut NoHook),
            StartRead::Abort(AbortReason::WriteLocked)
        );
        seq.store(2, Ordering::Relaxed);
        assert_eq!(
            v.start_read(3, &seq, Mistake::None, &mut NoHook),
            StartRead::Locked
        );
        assert!(v.end_read());
        v.mark_detached();
        assert_eq!(v.refcnt(), 0);
        assert!(!v.end_read(), "a put without a get is caught");
        assert_eq!(v.refcnt(), 0, "and undone");
        assert!(
            !v.mark_detached_with(Mistake::None),
            "so is a second detach"
        );
        assert_eq!(v.refcnt(), 0);
    }

    #[test]
    fn dup_keeps_the_copy_detached_unless_the_mistake_is_compiled_in() {
        let orig = Vma::new();
        orig.init(1, 0, 4096, 9);
        orig.mark_attached();
        let good = Vma::new();
        good.dup_from(&orig, Mistake::None);
        assert_eq!(good.refcnt(), 0);
        let bad = Vma::new();
        bad.dup_from(&orig, Mistake::DupCopiesRefcnt);
        assert_eq!(bad.refcnt(), 1);
        assert!(
            good.fault_check(1, 100, &good),
            "a copy carries a consistent payload"
        );
    }

    #[test]
    fn loom_twin_mistakes_change_only_their_own_step() {
        let seq = AtomicU32::new(0);
        for m in [
            Mistake::AttachRelaxed,
            Mistake::ReadCasRelaxed,
            Mistake::ChecksBeforeCas,
            Mistake::DetachNoWait,
        ] {
            let v = Vma::new();
            v.init(3, 0x1000, 0x2000, 7);
            v.mark_attached_with(m);
            assert_eq!(v.start_read(3, &seq, m, &mut NoHook), StartRead::Locked);
            assert_eq!(
                v.start_read(4, &seq, m, &mut NoHook),
                StartRead::Abort(AbortReason::OtherMm)
            );
            assert_eq!(v.refcnt(), 2, "{m:?}: one reader holds it");
            if m == Mistake::DetachNoWait {
                // N3: returns at once although the reader still holds a reference.
                assert!(v.mark_detached_with(m));
                assert_eq!(v.refcnt(), 1);
                assert!(v.end_read());
            } else {
                assert!(v.end_read());
                assert!(v.mark_detached_with(m));
            }
            assert_eq!(v.refcnt(), 0, "{m:?}");
        }
    }

    #[test]
    fn a_twins_writer_gives_up_on_a_reader_that_never_leaves() {
        let seq = AtomicU32::new(0);
        let v = Vma::new();
        v.init(3, 0x1000, 0x2000, 7);
        v.mark_attached();
        // A reference no one will drop (what a twin's lost put leaves behind).
        assert_eq!(
            v.start_read(3, &seq, Mistake::None, &mut NoHook),
            StartRead::Locked
        );
        let t0 = std::time::Instant::now();
        assert!(!v.start_write_with(1, Mistake::DetachNoWait));
        assert!(t0.elapsed() >= TWIN_MAX_WAIT);
        assert_eq!(v.refcnt(), 2, "the writer's offset is taken back");
        assert!(!v.mark_detached_with(Mistake::PutOnRetry));
        assert_eq!(
            v.refcnt(),
            1,
            "the attach reference is dropped all the same"
        );
    }

    #[test]
    fn torn_payload_is_wrong() {
        let v = Vma::new();
        v.init(1, 0, 4096, 9);
        v.payload[5].store(1, Ordering::Relaxed);
        assert!(!v.fault_check(1, 100, &v));
    }
}
