//! The page allocator under the slab caches: 4 KiB pages carved from 2 MiB
//! arenas, each arena keeping the `struct slab` of its pages in its first pages.
//!
//! In the kernel, SLUB takes a slab's pages from the buddy allocator
//! (`alloc_slab_page()`, order 0 for `vm_area_struct` and `maple_node`) and finds
//! the `struct slab` of any object address in O(1) through the memory map
//! (`virt_to_slab()`). Here an arena is 2 MiB, aligned to 2 MiB, obtained from the
//! system allocator; its first [`META_PAGES`] pages hold an array of
//! [`SlabMeta`], one entry per page of the arena, so aligning an address down to
//! 2 MiB and indexing by its page number gives its metadata ([`slab_of`]).
//!
//! A freed page goes back to the allocator's free list (last in, first out, as the
//! buddy allocator's per-CPU lists keep hot pages) and may become a slab of any
//! cache; arenas go back to the system only when the allocator is dropped.
//!
//! This module and `slab` are the only places that compute with raw addresses;
//! every pointer handed out derives from its arena's allocation.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::collections::HashMap;
use std::mem::size_of;
use std::ptr::{self, NonNull};

use crate::rcu::RcuHead;
use crate::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use crate::sync::Mutex;

/// Bytes in a page (`PAGE_SIZE` on x86-64); the slab order is 0, so a slab is one page.
///
/// Under loom (`--cfg vma_bench_loom`) pages are 1 KiB and arenas 16 KiB: a
/// loom model builds its space anew for every execution, and loom creates and
/// tracks every atomic of every object a slab constructs and of every metadata
/// entry of an arena, each time. Creating them is most of an execution's cost;
/// a model uses a few objects, which a 4 KiB slab (21 VMAs, 15 nodes) and a
/// 2 MiB arena (503 metadata entries) would multiply.
pub const PAGE_SIZE: usize = if cfg!(vma_bench_loom) {
    1 << 10
} else {
    4 << 10
};

/// Bytes in an arena: 2 MiB (16 KiB under loom, see [`PAGE_SIZE`]), the unit
/// taken from the system allocator, aligned to its size.
pub const ARENA_SIZE: usize = if cfg!(vma_bench_loom) {
    16 << 10
} else {
    2 << 20
};

/// Pages in an arena, metadata pages included.
pub const PAGES_PER_ARENA: usize = ARENA_SIZE / PAGE_SIZE;

/// Pages at the start of each arena that hold its [`SlabMeta`] array.
pub const META_PAGES: usize = (PAGES_PER_ARENA * size_of::<SlabMeta>()).div_ceil(PAGE_SIZE);

/// Pages of each arena that the allocator hands out.
pub const DATA_PAGES_PER_ARENA: usize = PAGES_PER_ARENA - META_PAGES;

const _: () = assert!(
    META_PAGES < PAGES_PER_ARENA / 4,
    "metadata must leave room for pages"
);

/// Where a page is, as its [`SlabMeta::state`] records (the kernel's `SL_partial`,
/// "full" and the page being free or queued for `rcu_free_slab()`).
pub(super) mod state {
    /// In the page allocator's free list.
    pub const FREE: u32 = 0;
    /// A slab on its cache's partial list (some objects free, maybe all).
    pub const PARTIAL: u32 = 1;
    /// A slab on its cache's full list (no free object).
    pub const FULL: u32 = 2;
    /// A slab taken off its cache's lists to be discarded (under the cache's lock).
    pub const DISCARDING: u32 = 3;
    /// An emptied slab of a SLAB_TYPESAFE_BY_RCU cache waiting for its grace period.
    pub const RCU_PENDING: u32 = 4;
}

/// The metadata of one page: the kernel's `struct slab` while the page is a slab.
///
/// Every field is an atomic for the model checker's sake and so that the type is
/// `Sync`; all but `cache` are read and written only under the owning cache's
/// lock (or the page allocator's, while the page is free), so Relaxed accesses
/// suffice everywhere: the lock orders them.
#[repr(C)]
#[derive(Debug)]
pub struct SlabMeta {
    /// The owning cache (`slab->slab_cache`), type-erased; null while free.
    pub(super) cache: AtomicPtr<()>,
    /// Bitmap of the objects in the slab's freelist (bit `i`: object `i` is free).
    pub(super) free: AtomicU64,
    /// Bitmap of free objects whose last free was immediate (without a grace
    /// period); they are reused before a grace period when handed out again.
    pub(super) immediate: AtomicU64,
    /// Objects not in the slab's freelist (`slab->inuse`): allocated or in sheaves.
    pub(super) inuse: AtomicU32,
    /// One of the values in `state`.
    pub(super) state: AtomicU32,
    /// Previous slab on the cache's list (`slab->slab_list`).
    pub(super) prev: AtomicPtr<SlabMeta>,
    /// Next slab on the cache's list.
    pub(super) next: AtomicPtr<SlabMeta>,
    /// `slab->rcu_head`, lent to `call_rcu` when a SLAB_TYPESAFE_BY_RCU cache
    /// releases the slab.
    pub(super) rcu_head: RcuHead,
}

impl SlabMeta {
    fn new() -> Self {
        SlabMeta {
            cache: AtomicPtr::new(ptr::null_mut()),
            free: AtomicU64::new(0),
            immediate: AtomicU64::new(0),
            inuse: AtomicU32::new(0),
            state: AtomicU32::new(state::FREE),
            prev: AtomicPtr::new(ptr::null_mut()),
            next: AtomicPtr::new(ptr::null_mut()),
            rcu_head: RcuHead::new(),
        }
    }
}

/// The page a metadata entry describes (`slab_address()`).
///
/// Pure address arithmetic inside the entry's arena; the result keeps `slab`'s
/// provenance, so it is usable when `slab` came from [`PageAllocator::alloc_page`]
/// or [`slab_of`] of an object pointer.
#[inline]
pub fn page_of(slab: NonNull<SlabMeta>) -> NonNull<u8> {
    let p = slab.as_ptr().cast::<u8>();
    let offset = p as usize & (ARENA_SIZE - 1);
    let index = offset / size_of::<SlabMeta>();
    let page = p.wrapping_sub(offset).wrapping_add(index * PAGE_SIZE);
    NonNull::new(page).expect("an arena does not start at address zero")
}

/// The metadata entry of the page holding `addr` (`virt_to_slab()`): align down to
/// the arena, index by page number. O(1).
///
/// Pure address arithmetic: the result is only meaningful (and only safe to
/// dereference) when `addr` points into a data page of a live arena of some
/// [`PageAllocator`]; it keeps `addr`'s provenance.
#[inline]
pub fn slab_of(addr: *const u8) -> NonNull<SlabMeta> {
    let offset = addr as usize & (ARENA_SIZE - 1);
    let index = offset / PAGE_SIZE;
    let meta = addr
        .wrapping_sub(offset)
        .cast::<SlabMeta>()
        .wrapping_add(index)
        .cast_mut();
    NonNull::new(meta).expect("an arena does not start at address zero")
}

/// Counts kept by the page allocator, each at its own place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageStats {
    /// Pages handed out since the allocator was made.
    pub handed_out: u64,
    /// Pages given back since the allocator was made.
    pub given_back: u64,
    /// Pages out now, counted from the free list: data pages of all arenas minus
    /// the pages on the free list (independent of the two counters above).
    pub live: u64,
    /// Arenas (2 MiB each) taken from the system.
    pub arenas: u64,
}

/// The model of the buddy allocator: order-0 pages for the slab caches, from
/// 2 MiB arenas. Shared by every cache (`Arc<PageAllocator>`), so a page freed by
/// one cache can become a slab of another, as in the kernel.
#[derive(Debug)]
pub struct PageAllocator {
    inner: Mutex<Pages>,
}

#[derive(Debug)]
struct Pages {
    /// Every arena's start, with the provenance of its whole allocation.
    arenas: Vec<Arena>,
    /// Arena start address -> index in `arenas`.
    by_address: HashMap<usize, usize>,
    /// Free pages, by their metadata entry; the last pushed is handed out first.
    free: Vec<MetaPtr>,
    handed_out: u64,
    given_back: u64,
}

#[derive(Debug)]
struct Arena(NonNull<u8>);

#[derive(Debug)]
struct MetaPtr(NonNull<SlabMeta>);

// SAFETY: an arena is plain memory owned by the allocator; the pointer is only
// dereferenced by whoever the allocator hands a page to, under the rules of
// `alloc_page`.
unsafe impl Send for Arena {}
// SAFETY: as for `Arena`: a metadata entry is `Sync` (atomics and an `RcuHead`),
// and a free page's entry is touched only under the allocator's lock.
unsafe impl Send for MetaPtr {}

impl Default for PageAllocator {
    fn default() -> Self {
        Self::new()
    }
}

fn arena_layout() -> Layout {
    Layout::from_size_align(ARENA_SIZE, ARENA_SIZE).expect("a power of two is a valid layout")
}

impl PageAllocator {
    /// An allocator with no arena yet.
    pub fn new() -> Self {
        PageAllocator {
            inner: Mutex::new(Pages {
                arenas: Vec::new(),
                by_address: HashMap::new(),
                free: Vec::new(),
                handed_out: 0,
                given_back: 0,
            }),
        }
    }

    fn lock(&self) -> crate::sync::MutexGuard<'_, Pages> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A free page, as its metadata entry (state free, no cache); its address is
    /// [`page_of`] of the entry. Takes a new arena when the free list is empty.
    pub fn alloc_page(&self) -> NonNull<SlabMeta> {
        let mut p = self.lock();
        let page = match p.free.pop() {
            Some(m) => m.0,
            None => {
                p.grow();
                p.free.pop().expect("a new arena has free pages").0
            }
        };
        p.handed_out += 1;
        page
    }

    /// Give a page back to the free list.
    ///
    /// # Safety
    /// `slab` came from [`alloc_page`](Self::alloc_page) of this allocator and was
    /// not given back since; nothing will touch the page or its objects again
    /// (for a SLAB_TYPESAFE_BY_RCU cache: a grace period has passed since the slab
    /// left its cache).
    pub unsafe fn free_page(&self, slab: NonNull<SlabMeta>) {
        let mut p = self.lock();
        // Rebuild the entry's pointer from its arena's allocation, so the free list
        // only ever holds pointers with the arena's provenance, whatever path
        // (`call_rcu`'s `container_of`, say) this one came through.
        let addr = slab.as_ptr() as usize;
        let base = addr & !(ARENA_SIZE - 1);
        let arena = *p
            .by_address
            .get(&base)
            .expect("free_page: not a page of this allocator");
        let index = (addr - base) / size_of::<SlabMeta>();
        debug_assert!((META_PAGES..PAGES_PER_ARENA).contains(&index));
        let meta = p.arenas[arena]
            .0
            .as_ptr()
            .cast::<SlabMeta>()
            .wrapping_add(index);
        let meta = NonNull::new(meta).expect("inside an arena");
        // SAFETY: `meta` is an initialised entry of a live arena (index checked
        // above); the caller gave up the page, so no one else uses the entry now.
        let m = unsafe { meta.as_ref() };
        // Relaxed: the entry is ours under the allocator's lock.
        m.cache.store(ptr::null_mut(), Ordering::Relaxed);
        m.state.store(state::FREE, Ordering::Relaxed);
        p.free.push(MetaPtr(meta));
        p.given_back += 1;
    }

    /// The allocator's counts.
    pub fn stats(&self) -> PageStats {
        let p = self.lock();
        let total = p.arenas.len() * DATA_PAGES_PER_ARENA;
        PageStats {
            handed_out: p.handed_out,
            given_back: p.given_back,
            live: (total - p.free.len()) as u64,
            arenas: p.arenas.len() as u64,
        }
    }
}

impl Pages {
    /// Take a new arena from the system and put its data pages on the free list,
    /// lowest address on top.
    #[cold]
    fn grow(&mut self) {
        let layout = arena_layout();
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc(layout) };
        let Some(base) = NonNull::new(base) else {
            handle_alloc_error(layout)
        };
        let metas = base.as_ptr().cast::<SlabMeta>();
        for i in META_PAGES..PAGES_PER_ARENA {
            // SAFETY: entry `i` lies in the first META_PAGES pages of the fresh
            // arena (META_PAGES covers PAGES_PER_ARENA entries), is suitably aligned
            // (the arena is 2 MiB aligned and entries are laid out as an array),
            // and nothing else refers to it yet.
            unsafe { metas.add(i).write(SlabMeta::new()) };
        }
        for i in (META_PAGES..PAGES_PER_ARENA).rev() {
            // `metas + i` is in bounds of the arena (checked by the loop above).
            let meta = NonNull::new(metas.wrapping_add(i)).expect("inside an arena");
            self.free.push(MetaPtr(meta));
        }
        self.by_address
            .insert(base.as_ptr() as usize, self.arenas.len());
        self.arenas.push(Arena(base));
    }
}

impl Drop for PageAllocator {
    fn drop(&mut self) {
        let p = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        let live = p.arenas.len() * DATA_PAGES_PER_ARENA - p.free.len();
        if live != 0 {
            // A cache leaked pages (it panicked with objects out): someone may
            // still point into them, so the arenas are leaked too.
            debug_assert!(
                std::thread::panicking(),
                "page allocator dropped with {live} pages out"
            );
            return;
        }
        for arena in p.arenas.drain(..) {
            let metas = arena.0.as_ptr().cast::<SlabMeta>();
            for i in META_PAGES..PAGES_PER_ARENA {
                // SAFETY: entries written in `grow`; every page is back, so no
                // one refers to them any more; dropped once.
                unsafe { ptr::drop_in_place(metas.add(i)) };
            }
            // SAFETY: allocated in `grow` with this layout; freed once.
            unsafe { dealloc(arena.0.as_ptr(), arena_layout()) };
        }
    }
}

#[cfg(all(test, not(vma_bench_loom)))]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn pages_come_from_aligned_arenas_and_metadata_is_found_from_any_address() {
        let pages = PageAllocator::new();
        let n = DATA_PAGES_PER_ARENA + 1;
        let got: Vec<_> = (0..n).map(|_| pages.alloc_page()).collect();
        let s = pages.stats();
        assert_eq!(
            s.arenas, 2,
            "one page more than an arena holds takes a second"
        );
        assert_eq!((s.handed_out, s.live), (n as u64, n as u64));

        let mut addresses = HashSet::new();
        for &meta in &got {
            let page = page_of(meta).as_ptr();
            assert_eq!(page as usize % PAGE_SIZE, 0);
            assert!(addresses.insert(page as usize), "a page handed out twice");
            let arena = page as usize & !(ARENA_SIZE - 1);
            assert!(
                page as usize - arena >= META_PAGES * PAGE_SIZE,
                "a metadata page"
            );
            // Any byte of the page leads back to the same entry.
            for off in [0, 1, 192, PAGE_SIZE - 1] {
                assert_eq!(slab_of(page.wrapping_add(off)), meta);
            }
        }
        for &meta in &got {
            // SAFETY: handed out above, given back once, never used.
            unsafe { pages.free_page(meta) };
        }
        let s = pages.stats();
        assert_eq!((s.given_back, s.live), (n as u64, 0));
    }

    #[test]
    fn freed_pages_are_reused_last_in_first_out_before_a_new_arena() {
        let pages = PageAllocator::new();
        let a = pages.alloc_page();
        let b = pages.alloc_page();
        // SAFETY: handed out above, given back once, never used.
        unsafe { pages.free_page(a) };
        assert_eq!(pages.alloc_page(), a, "the hot page comes back first");
        let more: Vec<_> = (0..DATA_PAGES_PER_ARENA - 2)
            .map(|_| pages.alloc_page())
            .collect();
        assert_eq!(pages.stats().arenas, 1, "exactly one arena's worth so far");
        for m in more.into_iter().chain([a, b]) {
            // SAFETY: as above.
            unsafe { pages.free_page(m) };
        }
        let s = pages.stats();
        assert_eq!(s.handed_out - s.given_back, s.live);
        assert_eq!(s.live, 0);
    }
}
