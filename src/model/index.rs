//! The index of an address space: a tree of nodes in the spirit of the maple
//! tree (`lib/maple_tree.c`), which faults walk under their scheme's read
//! section while one writer, holding `mmap_lock` for write, changes it.
//!
//! # Shape
//!
//! A [`Node`] has 16 slots and 15 pivots, like `maple_range_64`: slot `i` covers
//! the addresses after pivot `i - 1` up to and including pivot `i` (slot 0 from
//! the node's minimum, the last used slot up to its maximum). A leaf's slots
//! hold VMAs and gaps (null entries); an internal node's slots hold children.
//! The tree is built once for a [`Shape`]: regions of equal stride, each mapped
//! by one VMA of `len` bytes followed by a gap, [`LEAF_REGIONS`] regions per
//! leaf (8 VMAs and 8 gaps fill a leaf's 16 slots), and internal levels of up
//! to 16 children until one root remains: the depth follows from the number of
//! regions. Internal nodes never change (the model has no rebalancing);
//! leaves are replaced.
//!
//! # Stores
//!
//! A writer stores an entry (a VMA, or null to unmap) over a range, as
//! `mas_store_prealloc` does, and the store takes one of two forms, decided as
//! `mas_wr_store_type` decides them:
//!
//! - **Exact fit** (the range is exactly one entry's, and nothing has to merge:
//!   a `MAP_FIXED` replacement of a whole VMA): one Release store into the slot,
//!   in place (`rcu_assign_pointer`). No node is freed.
//! - **Rebuild** (anything else: a store of null next to a gap, which
//!   `mas_wr_extend_null` widens to absorb the empty neighbours; a store into part
//!   of a gap, which splits it): a new leaf is filled, published in its parent
//!   with a Release store (`mas_wr_node_store` in RCU mode), the old leaf is
//!   marked dead and handed back to the caller, which frees it through its
//!   scheme (`ma_free_rcu`: a `call_rcu` per node).
//!
//! # Readers
//!
//! [`Tree::walk`] goes from the root to a leaf, loading each pointer through a
//! [`Protect`]: an Acquire load under RCU, a hazard pointer (validated against
//! the node it was read from) under hazard pointers, a plain load under
//! `mmap_lock`. A leaf's pivots are never written after it is published, so a
//! reader in a leaf that a writer has just replaced still sees a consistent,
//! if old, leaf: it finds the VMA that was there, which the per-VMA lock then
//! validates, or a gap, after which the fault falls back to `mmap_lock`.

use std::ptr::NonNull;

use crate::model::vma::{Mistake, Vma};
use std::mem::offset_of;

use crate::model::slab::{free_after_gp, SlabObject};
use crate::rcu::{Deferrable, RcuHead};
use crate::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};

/// Slots per node (`MAPLE_RANGE64_SLOTS`).
pub const SLOTS: usize = 16;
/// Pivots per node.
const PIVOTS: usize = SLOTS - 1;
/// Regions per leaf: a VMA and the gap after it take two slots each.
pub const LEAF_REGIONS: usize = SLOTS / 2;

/// `meta`: number of slots in use (1..=16).
const COUNT_MASK: u64 = 0x1f;
/// `meta`: the node is a leaf (its slots hold VMAs).
const LEAF: u64 = 1 << 5;
/// `meta`: the node was replaced (`mte_set_node_dead`); only a stale reader
/// can still be in it.
const DEAD: u64 = 1 << 6;
/// `meta`: the node was handed to its scheme's free path (`ma_free_rcu`);
/// set only where a twin's detector reads it ([`Node::mark_queued`]).
const QUEUED: u64 = 1 << 7;
/// `meta`: the node's generation, above this bit: one more at each
/// [`Node::fill`], so a position kept from an earlier fill is seen stale
/// ([`Position`]). The kernel's node has no such field; it is the model's
/// detector of a reused node.
const GEN_SHIFT: u32 = 8;

/// A tree node: 15 pivots, 16 slots, its metadata, and the `rcu_head` it
/// lends to `call_rcu` when it is freed: 272 bytes (the kernel's 256-byte
/// `maple_node` overlaps its `rcu_head` with the slots of a dead node, which
/// stale readers may still read; Rust's model forbids that overlap).
#[repr(C)]
pub struct Node {
    /// Slot `i` covers addresses up to and including `pivots[i]`.
    pivots: [AtomicU64; PIVOTS],
    /// Children (internal node) or VMAs and gaps (leaf).
    slots: [AtomicPtr<u8>; SLOTS],
    /// Slot count, [`LEAF`], [`DEAD`], [`QUEUED`], and the generation above
    /// [`GEN_SHIFT`].
    meta: AtomicU64,
    /// Lent to `call_rcu` while the node waits for its grace period.
    head: RcuHead,
}

impl Default for Node {
    fn default() -> Self {
        Self::new()
    }
}

impl Node {
    /// An empty node: the node cache's constructor.
    pub fn new() -> Self {
        Node {
            pivots: std::array::from_fn(|_| AtomicU64::new(0)),
            slots: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            meta: AtomicU64::new(0),
            head: RcuHead::new(),
        }
    }

    /// The head this node lends to `call_rcu`.
    pub fn rcu_head(&self) -> &RcuHead {
        &self.head
    }

    /// Whether the node was replaced (tests, and the hazard-pointer walk).
    pub fn is_dead(&self) -> bool {
        // Acquire: pairs with the Release store that marks a node dead in
        // `Tree::replace_leaf`; see `Protect` for the hazard-pointer argument.
        self.meta.load(Ordering::Acquire) & DEAD != 0
    }

    /// Mark the node handed to its scheme's free path. A reader that sees the
    /// mark between two of its read sections knows the later section does not
    /// hold back the free (a flavour waits only for sections begun before the
    /// `call_rcu`). The caller owns the node (out of the tree, before
    /// `call_rcu`).
    pub fn mark_queued(&self) {
        // Relaxed: a witness for the stale-position detector only. Seeing it
        // at all means the free path took the node before the load (modification
        // order); not seeing it, that the verdict is left to the generation
        // check in `Tree::walk_from`.
        self.meta.fetch_or(QUEUED, Ordering::Relaxed);
    }

    /// The slot covering `addr` (the node is known to cover it), given `meta`.
    #[inline]
    fn slot_of(&self, addr: u64, meta: u64) -> usize {
        let count = (meta & COUNT_MASK) as usize;
        let mut i = 0;
        // Relaxed (pivots): written before the node was published by a Release
        // store of its pointer, which the walk loaded with (at least) Acquire, or
        // under mmap_lock; never written again while the node is reachable.
        while i + 1 < count && addr > self.pivots[i].load(Ordering::Relaxed) {
            i += 1;
        }
        i
    }

    /// Fill an unpublished node with `entries` (`(last, pointer)`, in order),
    /// as the next generation of its memory.
    fn fill(&self, entries: &[(u64, *mut u8)], leaf: bool) {
        debug_assert!(!entries.is_empty() && entries.len() <= SLOTS);
        // The new generation first, with no slots: a seqlock's write side. A
        // stale reader (only a twin has one: `Tree::walk_from`) that reads a
        // slot stored below reads this generation after its Acquire fence.
        // Relaxed load: the owner's own memory (the cache handed it over).
        let gen = (self.meta.load(Ordering::Relaxed) >> GEN_SHIFT).wrapping_add(1) << GEN_SHIFT;
        // Relaxed: ordered before the slot stores by the Release fence below.
        self.meta.store(gen, Ordering::Relaxed);
        // Release fence: pairs with the Acquire fence in `Tree::walk_from`.
        fence(Ordering::Release);
        // Relaxed (all stores): the node is not reachable from the tree yet;
        // the Release store that publishes it orders these before any reader's
        // Acquire load of it (a stale reader of an earlier generation, the
        // twin's, reads them only as the seqlock above allows).
        for (i, &(last, p)) in entries.iter().enumerate() {
            if i < PIVOTS {
                self.pivots[i].store(last, Ordering::Relaxed);
            }
            self.slots[i].store(p, Ordering::Relaxed);
        }
        for s in &self.slots[entries.len()..] {
            s.store(std::ptr::null_mut(), Ordering::Relaxed);
        }
        let kind = if leaf { LEAF } else { 0 };
        self.meta
            .store(gen | entries.len() as u64 | kind, Ordering::Relaxed);
    }
}

// SAFETY: `head` returns the node's own `rcu_head` field, and `from_head` maps
// that field's address back to the node (`container_of`).
unsafe impl Deferrable for Node {
    fn head(&self) -> &RcuHead {
        &self.head
    }
    unsafe fn from_head(head: *mut RcuHead) -> NonNull<Node> {
        let node = head
            .wrapping_byte_sub(offset_of!(Node, head))
            .cast::<Node>();
        NonNull::new(node).expect("a live head is not at address zero")
    }
    /// `mt_free_rcu`: free the node into its slab cache after the grace period.
    unsafe fn reclaim(this: NonNull<Node>) {
        // SAFETY: the caller's promise: queued once, no reader left; nodes come
        // only from `KmemCache<Node>`, alive until its space drops, which runs
        // every callback first.
        unsafe { free_after_gp(this) };
    }
}

// SAFETY: every field is an atomic except the `rcu_head` (1); no drop glue (2);
// a node's contents are rewritten by `fill` before it is published (3).
unsafe impl SlabObject for Node {
    fn construct() -> Self {
        Node::new()
    }
}

/// How a walk loads each pointer: the scheme's read-side protection.
pub trait Protect {
    /// Load `src`, a child slot of `holder` (None: the tree's root pointer), at
    /// `depth` (0 for the root). The node returned stays valid memory until the
    /// load at `depth + 2` or the end of the read section. None: `holder` was
    /// replaced while we looked (a hazard pointer's validation failed); the walk
    /// starts again from the root.
    fn node(&mut self, src: &AtomicPtr<u8>, holder: Option<&Node>, depth: usize)
        -> Option<*mut u8>;

    /// Load `src`, a slot of the leaf `holder`: the VMA (or null, a gap) stays
    /// valid memory until the section ends. None: as for [`node`](Protect::node).
    fn entry(&mut self, src: &AtomicPtr<u8>, holder: &Node) -> Option<*mut u8>;
}

/// Loads for a reader that holds `mmap_lock` (or the writer itself): nothing
/// can change under it.
#[derive(Copy, Clone, Debug, Default)]
pub struct Locked;

impl Protect for Locked {
    #[inline]
    fn node(&mut self, src: &AtomicPtr<u8>, _: Option<&Node>, _: usize) -> Option<*mut u8> {
        // Relaxed: under mmap_lock, whose acquisition orders every earlier
        // writer's stores before this load.
        Some(src.load(Ordering::Relaxed))
    }
    #[inline]
    fn entry(&mut self, src: &AtomicPtr<u8>, _: &Node) -> Option<*mut u8> {
        // Relaxed: as in `node`.
        Some(src.load(Ordering::Relaxed))
    }
}

/// Loads for a reader inside an RCU read section: Acquire loads, nothing to
/// validate (nodes and VMAs it can reach are freed only after the section).
#[derive(Copy, Clone, Debug, Default)]
pub struct RcuWalk;

impl Protect for RcuWalk {
    #[inline]
    fn node(&mut self, src: &AtomicPtr<u8>, _: Option<&Node>, _: usize) -> Option<*mut u8> {
        // Acquire: pairs with the Release store that published the node
        // (`Tree::replace_leaf`, or the build before the tree was shared).
        Some(src.load(Ordering::Acquire))
    }
    #[inline]
    fn entry(&mut self, src: &AtomicPtr<u8>, _: &Node) -> Option<*mut u8> {
        // Acquire: pairs with the Release store of the entry (`Tree::store`
        // in place, or the publication of the leaf that holds it).
        Some(src.load(Ordering::Acquire))
    }
}

/// The regions a tree is built for: region `k` starts at `base + k * stride`
/// and its VMA covers its first `len` bytes; the rest of the region is a gap.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Start of region 0.
    pub base: u64,
    /// Bytes from one region's start to the next.
    pub stride: u64,
    /// Bytes of a region's VMA (`len <= stride`; `len < stride` leaves a gap).
    pub len: u64,
    /// Number of regions.
    pub regions: usize,
}

impl Shape {
    /// `[start, last]` (inclusive, as the maple tree's ranges) of region `k`'s VMA.
    pub fn vma_range(&self, k: usize) -> (u64, u64) {
        let start = self.base + k as u64 * self.stride;
        (start, start + self.len - 1)
    }

    /// Leaves of the tree.
    pub fn leaves(&self) -> usize {
        self.regions.div_ceil(LEAF_REGIONS).max(1)
    }

    /// Levels of the tree (1: the root is a leaf).
    pub fn depth(&self) -> usize {
        let mut nodes = self.leaves();
        let mut depth = 1;
        while nodes > 1 {
            nodes = nodes.div_ceil(SLOTS);
            depth += 1;
        }
        depth
    }

    /// Nodes of the tree.
    pub fn nodes(&self) -> usize {
        let mut level = self.leaves();
        let mut total = level;
        while level > 1 {
            level = level.div_ceil(SLOTS);
            total += level;
        }
        total
    }
}

/// What a [`Tree::store`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    /// An exact fit: the entry that was there (null for a gap).
    InPlace(*mut Vma),
    /// The leaf was rebuilt; the old, now dead leaf must be freed by the caller
    /// through its scheme once no reader can reach it.
    Rebuilt(NonNull<Node>),
}

/// Where a walk ended: the leaf (the maple state's node) and the generation
/// of its memory then. Valid only inside the read section of that walk; a
/// reader that keeps it past the section's end (`typesafe-stale-retry`) can
/// tell afterwards, reading only the leaf's metadata word, whether the free
/// path took the leaf or its memory was reused ([`Self::unprotected`],
/// [`Tree::walk_from`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Position {
    leaf: NonNull<Node>,
    gen: u64,
}

impl Position {
    /// Read between two read sections: whether the leaf was handed to its
    /// free path ([`Node::mark_queued`]) or its memory filled again. Either
    /// way the next read section does not hold back its free (where a grace
    /// period can end between sections): a walk from it is a use-after-free
    /// (what KASAN reports when the free did happen in time).
    ///
    /// # Safety
    /// As for [`Tree::walk_from`].
    pub unsafe fn unprotected(&self) -> bool {
        // SAFETY: the caller's promise.
        let n = unsafe { self.leaf.as_ref() };
        // Relaxed: see `Node::mark_queued`; and a new generation seen early
        // or late only moves the verdict to `walk_from`'s check.
        let meta = n.meta.load(Ordering::Relaxed);
        meta & QUEUED != 0 || meta >> GEN_SHIFT != self.gen
    }
}

/// Why [`Tree::walk_from`] did not walk on from its leaf.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stale {
    /// The leaf was replaced (`ma_dead_node`): the maple tree's walk starts
    /// again from the root, as any RCU walk that meets a dead node does.
    Dead,
    /// The leaf's memory was filled again: it was freed while the reader
    /// held its position, and the metadata just read was freed memory.
    Reused,
}

/// One entry of a leaf as a writer sees it: `[lo, hi]` and its pointer.
#[derive(Copy, Clone)]
struct Span {
    lo: u64,
    hi: u64,
    p: *mut u8,
}

/// An mm's index.
pub struct Tree {
    /// `mm->mm_mt`'s root.
    root: AtomicPtr<u8>,
    /// First address covered.
    min: u64,
    /// Last address covered.
    max: u64,
    shape: Shape,
}

impl Tree {
    /// Build the tree for `shape`, mapping region `k` with `init(k)` (null: the
    /// region starts unmapped), taking nodes from `alloc`.
    pub fn build(
        shape: Shape,
        mut init: impl FnMut(usize) -> *mut Vma,
        alloc: &mut impl FnMut() -> NonNull<Node>,
    ) -> Tree {
        assert!(
            shape.regions > 0 && shape.len > 0 && shape.len <= shape.stride,
            "validated by the caller"
        );
        let leaf_span = LEAF_REGIONS as u64 * shape.stride;
        let min = shape.base;
        let max = shape.base + shape.leaves() as u64 * leaf_span - 1;
        let mut level: Vec<(u64, *mut u8)> = Vec::with_capacity(shape.leaves());
        for j in 0..shape.leaves() {
            let lo = min + j as u64 * leaf_span;
            let hi = lo + leaf_span - 1;
            let mut spans = Spans::new();
            for k in j * LEAF_REGIONS..((j + 1) * LEAF_REGIONS) {
                let start = shape.base + k as u64 * shape.stride;
                let vma = if k < shape.regions {
                    init(k).cast::<u8>()
                } else {
                    std::ptr::null_mut()
                };
                spans.push(Span {
                    lo: start,
                    hi: start + shape.len - 1,
                    p: vma,
                });
                if shape.len < shape.stride {
                    spans.push(Span {
                        lo: start + shape.len,
                        hi: start + shape.stride - 1,
                        p: std::ptr::null_mut(),
                    });
                }
            }
            debug_assert_eq!((spans.items[0].lo, spans.last().hi), (lo, hi));
            let node = alloc();
            // SAFETY: a node just taken from the cache, not yet reachable by anyone.
            unsafe { node.as_ref() }.fill(&spans.merged(), true);
            level.push((hi, node.as_ptr().cast()));
        }
        while level.len() > 1 {
            let mut up = Vec::with_capacity(level.len().div_ceil(SLOTS));
            for chunk in level.chunks(SLOTS) {
                let node = alloc();
                // SAFETY: as above.
                unsafe { node.as_ref() }.fill(chunk, false);
                up.push((chunk[chunk.len() - 1].0, node.as_ptr().cast()));
            }
            level = up;
        }
        Tree {
            // Relaxed enough: the tree is handed to other threads only through
            // whatever shares the mm (a spawn or a lock), which orders the build.
            root: AtomicPtr::new(level[0].1),
            min,
            max,
            shape,
        }
    }

    /// The shape it was built for.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// `mas_walk`: the entry covering `addr` (null: a gap or outside the tree),
    /// or None if the walk must start again (a hazard pointer's validation
    /// failed).
    #[inline]
    pub fn walk<P: Protect>(&self, addr: u64, p: &mut P) -> Option<*mut Vma> {
        self.walk_at(addr, p).map(|(e, _)| e)
    }

    /// [`Self::walk`], and where it ended: the leaf and its generation (the
    /// maple state's node), None outside the tree.
    #[inline]
    pub fn walk_at<P: Protect>(
        &self,
        addr: u64,
        p: &mut P,
    ) -> Option<(*mut Vma, Option<Position>)> {
        if addr < self.min || addr > self.max {
            return Some((std::ptr::null_mut(), None));
        }
        let mut node = p.node(&self.root, None, 0)?;
        let mut depth = 0;
        loop {
            // SAFETY: `p` keeps the node valid memory (see `Protect::node`), and a
            // node, live or dead, stays a `Node` until it is freed.
            let n = unsafe { &*node.cast::<Node>() };
            // Relaxed: written before the node was published (see `slot_of`).
            let meta = n.meta.load(Ordering::Relaxed);
            let i = n.slot_of(addr, meta);
            if meta & LEAF != 0 {
                let e = p.entry(&n.slots[i], n)?.cast::<Vma>();
                let at = Position {
                    leaf: NonNull::from(n),
                    gen: meta >> GEN_SHIFT,
                };
                return Some((e, Some(at)));
            }
            depth += 1;
            node = p.node(&n.slots[i], Some(n), depth)?;
        }
    }

    /// A walk that starts from `at`, a leaf an earlier walk ended in, instead
    /// of from the root: what a retry does with a maple state kept across
    /// `rcu_read_unlock()` (the bug the `typesafe-stale-retry` twin compiles
    /// in). `Err(Stale::Dead)`: the leaf was replaced, and the walk must start
    /// again from the root, as the maple tree's does when it meets a dead node.
    /// `Err(Stale::Reused)`: the leaf's memory was filled again since (freed
    /// and reused), read as a seqlock reader does, so nothing read from the
    /// new contents is returned. None: as for [`Self::walk`].
    ///
    /// # Safety
    /// `at.leaf`'s memory is still a `Node` (its cache gives no slab back
    /// while the caller may hold a position: see `Space`), and `addr` is the
    /// address the earlier walk went to.
    #[inline]
    pub unsafe fn walk_from<P: Protect>(
        &self,
        at: Position,
        addr: u64,
        p: &mut P,
    ) -> Option<Result<*mut Vma, Stale>> {
        // SAFETY: the caller's promise: a `Node`, all atomics but its
        // `rcu_head`, which is not read here.
        let n = unsafe { at.leaf.as_ref() };
        // Relaxed: this thread synchronised with the fill of `at.gen` in its
        // earlier walk; any other generation is compared away, unused.
        let meta = n.meta.load(Ordering::Relaxed);
        if meta >> GEN_SHIFT != at.gen {
            return Some(Err(Stale::Reused));
        }
        if meta & DEAD != 0 {
            return Some(Err(Stale::Dead));
        }
        let i = n.slot_of(addr, meta);
        let e = p.entry(&n.slots[i], n)?;
        // Acquire fence: pairs with the Release fence in `Node::fill` (and with
        // any later Release store the loads above read, such as an exact fit's
        // store into the slot in the node's next life): if they read anything
        // written after a later fill began, the generation read below is that
        // fill's or later.
        fence(Ordering::Acquire);
        // Relaxed: ordered by the fence above.
        if n.meta.load(Ordering::Relaxed) >> GEN_SHIFT != at.gen {
            return Some(Err(Stale::Reused));
        }
        Some(Ok(e.cast()))
    }

    /// The entry covering `addr`, for a caller holding `mmap_lock`.
    #[inline]
    pub fn find_locked(&self, addr: u64) -> *mut Vma {
        self.walk(addr, &mut Locked)
            .expect("a walk under mmap_lock never retries")
    }

    /// The leaf covering `addr` and where its pointer lives, for the writer.
    /// Returns the parent's slot (or the root), the leaf and its `[lo, hi]`.
    fn locate(&self, addr: u64) -> (&AtomicPtr<u8>, &Node, u64, u64) {
        debug_assert!((self.min..=self.max).contains(&addr));
        let (mut lo, mut hi) = (self.min, self.max);
        let mut src = &self.root;
        loop {
            // Relaxed: the caller holds mmap_lock for write (see `Locked`).
            let p = src.load(Ordering::Relaxed);
            // SAFETY: under mmap_lock for write every reachable node is live.
            let n = unsafe { &*p.cast::<Node>() };
            // Relaxed: as above.
            let meta = n.meta.load(Ordering::Relaxed);
            if meta & LEAF != 0 {
                return (src, n, lo, hi);
            }
            let i = n.slot_of(addr, meta);
            let count = (meta & COUNT_MASK) as usize;
            if i > 0 {
                // Relaxed: as above.
                lo = n.pivots[i - 1].load(Ordering::Relaxed) + 1;
            }
            if i + 1 < count {
                // Relaxed: as above.
                hi = n.pivots[i].load(Ordering::Relaxed);
            }
            src = &n.slots[i];
        }
    }

    /// `mas_store_prealloc`: store `entry` (null: unmap) over `[start, last]`,
    /// which must lie inside one leaf. The caller holds `mmap_lock` for write;
    /// `alloc` gives a new leaf if the store needs one.
    pub fn store(
        &self,
        start: u64,
        last: u64,
        entry: *mut Vma,
        alloc: impl FnOnce() -> NonNull<Node>,
    ) -> Stored {
        self.store_with(start, last, entry, Mistake::None, alloc)
    }

    /// [`store`](Tree::store) with `mistake` compiled in (a constant at the
    /// caller, the scheme's: `PublishRelaxed` publishes a rebuilt leaf with a
    /// Relaxed store, for the loom twin; any other value is the correct store).
    #[inline]
    pub fn store_with(
        &self,
        start: u64,
        last: u64,
        entry: *mut Vma,
        mistake: Mistake,
        alloc: impl FnOnce() -> NonNull<Node>,
    ) -> Stored {
        assert!(
            self.min <= start && start <= last && last <= self.max,
            "a store inside the tree"
        );
        let (src, leaf, lo, hi) = self.locate(start);
        assert!(last <= hi, "a store inside one leaf");
        let spans = Spans::of_leaf(leaf, lo, hi);
        let entry = entry.cast::<u8>();
        // Exact fit: one entry has exactly this range, and nothing must merge (a
        // null stored next to a null would have to absorb it).
        if let Some(i) = spans.items[..spans.len]
            .iter()
            .position(|s| s.lo == start && s.hi == last)
        {
            let merges = entry.is_null()
                && ((i > 0 && spans.items[i - 1].p.is_null())
                    || (i + 1 < spans.len && spans.items[i + 1].p.is_null()));
            if !merges {
                // Relaxed: the writer's own earlier store (under mmap_lock).
                let old = leaf.slots[i].load(Ordering::Relaxed);
                // Release: pairs with the Acquire load of the entry in a reader's
                // walk (`RcuWalk::entry`), publishing the VMA's fields written
                // before (which attach publishes again for the lock).
                leaf.slots[i].store(entry, Ordering::Release);
                return Stored::InPlace(old.cast());
            }
        }
        let mut next = Spans::new();
        for s in &spans.items[..spans.len] {
            if s.hi < start || s.lo > last {
                next.push(*s);
                continue;
            }
            if s.lo < start {
                next.push(Span {
                    hi: start - 1,
                    ..*s
                });
            }
            if s.lo <= start {
                next.push(Span {
                    lo: start,
                    hi: last,
                    p: entry,
                });
            }
            if s.hi > last {
                next.push(Span { lo: last + 1, ..*s });
            }
        }
        let new = alloc();
        // SAFETY: a node just taken from the cache, not yet reachable by anyone.
        unsafe { new.as_ref() }.fill(&next.merged(), true);
        self.replace_leaf(src, leaf, new, mistake)
    }

    /// Publish `new` in place of `old` (whose pointer lives in `src`) and mark
    /// `old` dead.
    #[inline]
    fn replace_leaf(
        &self,
        src: &AtomicPtr<u8>,
        old: &Node,
        new: NonNull<Node>,
        mistake: Mistake,
    ) -> Stored {
        // Release: pairs with the Acquire load in a reader's walk
        // (`RcuWalk::node`), publishing the new leaf's pivots, slots and meta.
        // Relaxed only under `PublishRelaxed`: the mistake itself.
        let publish = if mistake == Mistake::PublishRelaxed {
            Ordering::Relaxed
        } else {
            Ordering::Release
        };
        src.store(new.as_ptr().cast(), publish);
        // Relaxed load: the writer's own earlier store. Release store: pairs
        // with the Acquire load in `Node::is_dead`; a hazard-pointer reader that
        // sees the old leaf alive after its fence is seen by the reclaimer's
        // scan, which comes after this store (see the hazard scheme).
        let meta = old.meta.load(Ordering::Relaxed);
        old.meta.store(meta | DEAD, Ordering::Release);
        Stored::Rebuilt(NonNull::from(old))
    }

    /// Every node, for teardown (the caller owns the tree exclusively).
    pub fn nodes(&self) -> Vec<NonNull<Node>> {
        let mut out = Vec::new();
        // Relaxed: exclusive access.
        let mut todo = vec![self.root.load(Ordering::Relaxed)];
        while let Some(p) = todo.pop() {
            // SAFETY: exclusive access; every reachable node is live.
            let n = unsafe { &*p.cast::<Node>() };
            // Relaxed: exclusive access.
            let meta = n.meta.load(Ordering::Relaxed);
            if meta & LEAF == 0 {
                for s in &n.slots[..(meta & COUNT_MASK) as usize] {
                    // Relaxed: exclusive access.
                    todo.push(s.load(Ordering::Relaxed));
                }
            }
            out.push(NonNull::new(p.cast()).expect("a tree has no null child"));
        }
        out
    }

    /// Every entry `(start, last, vma)` in address order, gaps included, for a
    /// caller holding `mmap_lock` (tests, teardown, a copy for fork).
    pub fn entries(&self) -> Vec<(u64, u64, *mut Vma)> {
        let mut out = Vec::new();
        let mut addr = self.min;
        loop {
            let (_, leaf, lo, hi) = self.locate(addr);
            let spans = Spans::of_leaf(leaf, lo, hi);
            out.extend(
                spans.items[..spans.len]
                    .iter()
                    .map(|s| (s.lo, s.hi, s.p.cast::<Vma>())),
            );
            if hi == self.max {
                return out;
            }
            addr = hi + 1;
        }
    }
}

/// A leaf's entries while a writer rebuilds it (at most 16, plus the two a
/// split adds before merging).
struct Spans {
    items: [Span; SLOTS + 2],
    len: usize,
}

impl Spans {
    fn new() -> Spans {
        Spans {
            items: [Span {
                lo: 0,
                hi: 0,
                p: std::ptr::null_mut(),
            }; SLOTS + 2],
            len: 0,
        }
    }

    fn push(&mut self, s: Span) {
        assert!(self.len < self.items.len(), "a leaf split beyond its slots");
        self.items[self.len] = s;
        self.len += 1;
    }

    fn last(&self) -> Span {
        self.items[self.len - 1]
    }

    /// The entries of `leaf`, which covers `[lo, hi]`.
    fn of_leaf(leaf: &Node, lo: u64, hi: u64) -> Spans {
        let mut out = Spans::new();
        // Relaxed (all): the caller holds mmap_lock for write (see `Locked`).
        let count = (leaf.meta.load(Ordering::Relaxed) & COUNT_MASK) as usize;
        let mut from = lo;
        for i in 0..count {
            let to = if i + 1 < count {
                leaf.pivots[i].load(Ordering::Relaxed)
            } else {
                hi
            };
            out.push(Span {
                lo: from,
                hi: to,
                p: leaf.slots[i].load(Ordering::Relaxed),
            });
            from = to.wrapping_add(1);
        }
        out
    }

    /// The entries as `(last, pointer)` with neighbouring gaps merged
    /// (`mas_wr_extend_null`): what a new leaf holds.
    fn merged(&self) -> Vec<(u64, *mut u8)> {
        let mut out: Vec<(u64, *mut u8)> = Vec::with_capacity(self.len);
        for s in &self.items[..self.len] {
            match out.last_mut() {
                Some(prev) if prev.1.is_null() && s.p.is_null() => prev.0 = s.hi,
                _ => out.push((s.hi, s.p)),
            }
        }
        assert!(out.len() <= SLOTS, "a leaf holds at most {SLOTS} entries");
        out
    }
}

#[cfg(all(test, not(vma_bench_loom)))]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const PAGE: u64 = 4096;

    fn shape(regions: usize) -> Shape {
        Shape {
            base: 1 << 30,
            stride: 4 * PAGE,
            len: 2 * PAGE,
            regions,
        }
    }

    /// Nodes from the heap, all kept until the test ends (nothing is freed
    /// under a reader).
    #[derive(Default)]
    struct Arena(Vec<NonNull<Node>>);

    impl Arena {
        fn alloc(&mut self) -> NonNull<Node> {
            let n = NonNull::from(Box::leak(Box::new(Node::new())));
            self.0.push(n);
            n
        }
    }

    impl Drop for Arena {
        fn drop(&mut self) {
            for n in self.0.drain(..) {
                // SAFETY: leaked by `alloc`, freed once, no reader left.
                drop(unsafe { Box::from_raw(n.as_ptr()) });
            }
        }
    }

    fn vma(tag: usize) -> *mut Vma {
        let v = Box::leak(Box::new(Vma::new()));
        v.init(tag, 0, 1, 1);
        v
    }

    #[test]
    fn depth_and_node_count_follow_the_regions() {
        assert_eq!((shape(1).depth(), shape(1).nodes()), (1, 1));
        assert_eq!((shape(8).depth(), shape(8).nodes()), (1, 1));
        assert_eq!((shape(9).depth(), shape(9).nodes()), (2, 3));
        assert_eq!((shape(64).depth(), shape(64).nodes()), (2, 9));
        // 1024 regions: 128 leaves, 8 internal nodes, a root.
        assert_eq!((shape(1024).depth(), shape(1024).nodes()), (3, 137));
        let mut arena = Arena::default();
        let t = Tree::build(shape(1024), |_| std::ptr::null_mut(), &mut || arena.alloc());
        assert_eq!(t.nodes().len(), 137);
        assert_eq!(arena.0.len(), 137);
    }

    /// Against a plain map of ranges: random exact fits, unmaps and maps into
    /// gaps; every address of every region answers as the map says, and each
    /// store takes the form the maple tree's rules give it.
    #[test]
    fn stores_match_a_reference_map_and_take_the_maple_trees_form() {
        let s = shape(40);
        let vmas: Vec<*mut Vma> = (0..200).map(vma).collect();
        let mut arena = Arena::default();
        let t = Tree::build(s, |k| vmas[k], &mut || arena.alloc());
        let mut want: BTreeMap<usize, *mut Vma> = (0..s.regions).map(|k| (k, vmas[k])).collect();
        let mut rng = crate::rng::Rng::new(7, 0);
        let mut next = s.regions;
        let (mut in_place, mut rebuilt) = (0, 0);
        for _ in 0..2000 {
            let k = rng.below(s.regions as u64) as usize;
            let (start, last) = s.vma_range(k);
            let mapped = want.contains_key(&k);
            let new = if mapped && rng.below(2) == 0 {
                std::ptr::null_mut()
            } else {
                next = (next + 1) % vmas.len();
                vmas[next]
            };
            let form = t.store(start, last, new, || arena.alloc());
            // A gap always follows a region's VMA (len < stride): an unmap merges
            // and a map into a gap splits, so only a VMA over a VMA fits exactly.
            match form {
                Stored::InPlace(old) => {
                    assert!(mapped && !new.is_null(), "region {k}: in place");
                    assert_eq!(old, want[&k]);
                    in_place += 1;
                }
                Stored::Rebuilt(old) => {
                    assert!(!mapped || new.is_null(), "region {k}: rebuilt");
                    // SAFETY: the arena keeps every node alive.
                    assert!(unsafe { old.as_ref() }.is_dead());
                    rebuilt += 1;
                }
            }
            if new.is_null() {
                want.remove(&k);
            } else {
                want.insert(k, new);
            }
            for k in 0..s.regions {
                let (a, b) = s.vma_range(k);
                let expect = want.get(&k).copied().unwrap_or(std::ptr::null_mut());
                assert_eq!(t.find_locked(a), expect, "region {k} start");
                assert_eq!(t.find_locked(b), expect, "region {k} last");
                assert!(t.find_locked(b + 1).is_null(), "gap after region {k}");
            }
            // No two neighbouring gaps stay apart inside a leaf (a store never
            // reaches into another leaf, as a non-spanning maple store).
            let e = t.entries();
            let leaf_span = LEAF_REGIONS as u64 * s.stride;
            let boundary = |a: u64| (a - s.base) % leaf_span == 0;
            assert!(e
                .windows(2)
                .all(|w| boundary(w[1].0) || !(w[0].2.is_null() && w[1].2.is_null())));
            assert!(e.windows(2).all(|w| w[0].1 + 1 == w[1].0));
        }
        assert!(in_place > 100 && rebuilt > 100, "{in_place} {rebuilt}");
        assert!(t.find_locked(s.base - 1).is_null());
        for v in vmas {
            // SAFETY: leaked by `vma`; no tree is used any more.
            drop(unsafe { Box::from_raw(v) });
        }
    }

    /// A position kept past its walk: the leaf's stale contents while it is
    /// only dead, unprotected once its free path takes it, and never read
    /// again once its memory is filled anew (the stale-retry twin's detector).
    #[test]
    fn a_kept_position_tells_a_queued_or_reused_leaf() {
        let s = shape(8);
        let vmas: Vec<_> = (0..8).map(vma).collect();
        let mut arena = Arena::default();
        let t = Tree::build(s, |k| vmas[k], &mut || arena.alloc());
        let (lo, hi) = s.vma_range(3);
        let (e, at) = t.walk_at(lo, &mut RcuWalk).expect("no retry");
        let at = at.expect("inside the tree");
        assert_eq!(e, vmas[3]);
        // SAFETY: the arena keeps every node, a `Node`, until the test ends.
        let unprotected = || unsafe { at.unprotected() };
        // SAFETY: as above; `lo` is the address of the walk that ended at `at`.
        let walk_from = || unsafe { t.walk_from(at, lo, &mut RcuWalk) };
        assert!(!unprotected());
        assert_eq!(walk_from(), Some(Ok(vmas[3])), "live: walked on");
        let Stored::Rebuilt(old) = t.store(lo, hi, std::ptr::null_mut(), || arena.alloc()) else {
            panic!("an unmap next to a gap rebuilds the leaf");
        };
        assert_eq!(
            t.walk(lo, &mut RcuWalk),
            Some(std::ptr::null_mut()),
            "unmapped"
        );
        // Dead, not yet handed to a free path: seen dead, as the maple tree's
        // walk sees it (and starts again from the root).
        assert!(!unprotected());
        assert_eq!(walk_from(), Some(Err(Stale::Dead)));
        // SAFETY: out of the tree, owned here, kept by the arena.
        let old = unsafe { old.as_ref() };
        old.mark_queued();
        assert!(unprotected());
        // Freed and filled again by a new owner: never read as the old leaf.
        old.fill(&[(hi, vmas[5].cast())], true);
        assert!(unprotected());
        assert_eq!(walk_from(), Some(Err(Stale::Reused)));
    }

    /// Readers walk under RCU-style loads while a writer unmaps and maps: every
    /// answer is either a gap or a VMA that held that region at some time.
    #[test]
    fn concurrent_walks_see_a_region_or_a_gap() {
        let s = shape(24);
        // Per region, the VMAs it may ever hold (tagged with the region).
        let vmas: Vec<Vec<usize>> = (0..s.regions)
            .map(|k| (0..4).map(|_| vma(k) as usize).collect())
            .collect();
        let mut arena = Arena::default();
        let t = Tree::build(s, |k| vmas[k][0] as *mut Vma, &mut || arena.alloc());
        let nodes = std::sync::Mutex::new(arena);
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|sc| {
            for r in 0..2 {
                let (t, vmas, stop) = (&t, &vmas, &stop);
                sc.spawn(move || {
                    let mut rng = crate::rng::Rng::new(3, r);
                    let mut seen = 0u64;
                    // At least 10k walks, however the threads are scheduled:
                    // once the writer is done every region is mapped again.
                    let mut walks = 0u32;
                    while walks < 10_000 || !stop.load(Ordering::Relaxed) {
                        walks += 1;
                        let k = rng.below(s.regions as u64) as usize;
                        let (a, b) = s.vma_range(k);
                        let addr = a + rng.below(b - a + 1);
                        let e = t.walk(addr, &mut RcuWalk).unwrap();
                        assert!(e.is_null() || vmas[k].contains(&(e as usize)));
                        seen += u64::from(!e.is_null());
                    }
                    assert!(seen > 0);
                });
            }
            let mut rng = crate::rng::Rng::new(5, 9);
            for i in 0..20_000 {
                let k = rng.below(s.regions as u64) as usize;
                let (a, b) = s.vma_range(k);
                t.store(a, b, std::ptr::null_mut(), || nodes.lock().unwrap().alloc());
                let v = vmas[k][i % 4] as *mut Vma;
                t.store(a, b, v, || nodes.lock().unwrap().alloc());
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
}
