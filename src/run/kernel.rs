//! `linux`: the real kernel, measured through the same [`VmaLookup`] trait.
//!
//! Every other scheme models `lock_vma_under_rcu`; this one runs it. Each slot is
//! one real anonymous private mapping of [`REGION`] bytes, and:
//!
//! - a **fault** is a write to a page of that mapping that is not populated, so the
//!   kernel takes a minor fault: it looks the VMA up under RCU, read-locks it and
//!   allocates a zeroed page;
//! - pages are made faultable again with `madvise(MADV_DONTNEED)`, in batches;
//! - **churn** ([`VmaLookup::replace`]) is `mmap(MAP_FIXED)` over the slot's region,
//!   which the kernel carries out under `mmap_lock` held for write: it unmaps the
//!   old VMA (write-locking and detaching it, then freeing it to the
//!   `vm_area_struct` cache) and maps a new one in its place, with no moment at
//!   which the range is unmapped for a concurrent fault. A plain `munmap` then
//!   `mmap` would leave such a moment, and a thread writing there would get
//!   `SIGSEGV`. The model's `MapKind::Fresh` stands for exactly this; `MapKind::Copy`
//!   is served the same way (both kinds do the same thing here).
//!
//! One process has one mm, so the layout always has `mms == 1`; [`Linux::new`]
//! refuses anything else.
//!
//! # Addresses
//!
//! The kernel chooses where the mappings go. [`Linux::new`] reserves one range of
//! address space with no access and maps each region inside it at a 2 MiB-aligned
//! address, with a no-access guard of [`REGION`] bytes between neighbours: two
//! adjacent anonymous mappings with the same flags would be merged by the kernel
//! into one VMA, and the slots must stay separate VMAs (a replacement or an
//! `madvise` could otherwise merge them). Each slot is therefore two VMAs of the
//! process (its region and a guard), so `--slots` is bounded by
//! `vm.max_map_count`.
//!
//! The driver passes addresses of the model's address space (`Layout::addr`); a
//! fault takes only the slot from it ([`Layout::slot_of`]). The page within the
//! region comes from the thread's own cursor, not from the driver's random offset:
//! which page of a region a fault writes does not change which VMA the kernel looks
//! up and locks, and a sequential cursor keeps a thread's pages contiguous so that
//! one `madvise` per region clears a batch.
//!
//! # Every fault is a real fault
//!
//! Threads share regions (so the per-VMA lock is contended as in a real program),
//! so two threads must never both count the population of one page. Each region
//! has a bitmap of claimed pages (one cache line). A thread claims a page (an
//! atomic `fetch_or`) before it writes it, writes it exactly once, and releases the
//! claim only after an `madvise(MADV_DONTNEED)` covering the page has returned. So
//! an unclaimed page is never populated, and the one write a claim allows always
//! faults. A replacement of the region keeps this true (the new mapping has no
//! pages at all), and so does an `madvise` by another thread over a wider range
//! (it can only depopulate). Such an `madvise` can, rarely, empty a page between
//! the fault that populated it and the write's retry, so that one write takes two
//! faults: the kernel's count may exceed the harness's a little, never fall short.
//!
//! The write is an atomic swap of a non-zero word: one store access (a single
//! fault, where a read followed by a write would take two) that also returns the
//! word's old value. A fresh anonymous page reads as zero, and every page this
//! scheme populates is given a non-zero word, so a non-zero old value means the
//! write found the page already populated: the harness would have counted a fault
//! the kernel did not take. Such a write is counted in `wrong`, which must stay 0.
//! The kernel's own proof is its minor-fault count ([`host::minor_faults`]), which the
//! caller samples around a run.
//!
//! A thread keeps up to [`BATCH`] written pages per region before it clears them
//! with one `madvise` over the span they cover, and at most [`MAX_PENDING`] pages in
//! all before it clears every region it holds pages in. A thread that finds a
//! region fully claimed clears its own pages there first, then yields until
//! another thread releases some.
//!
//! # Transparent huge pages
//!
//! Each region gets `madvise(MADV_NOHUGEPAGE)` (after construction and after each
//! replacement), so a write faults in one 4 KiB page, never a 2 MiB or multi-size
//! THP folio. On a kernel built without THP that call fails with `EINVAL`; it is
//! then skipped. On a machine whose THP setting is `always`, a fault that lands
//! between a replacement's `mmap` and its `madvise` could get a huge page; later
//! writes into it would then take no fault, and the kernel's minor-fault count
//! would fall short of the harness's faults.
//!
//! # Counters
//!
//! The harness fills `faults`, `maps` and `unmaps` (one each per replacement) and
//! `wrong` (see above): [`FILLED`]. The reader outcomes (`lock_success`,
//! `lock_abort`, `lock_miss`, `fallbacks`) and the free-path counts (`free_calls`,
//! `freed`, `reused`, and the unreclaimed figures derived from them) happen inside
//! the kernel and are not visible per process: report them as empty, not 0. The
//! kernel's system-wide `vma_lock_*` event counts are in `/proc/vmstat` when it was
//! built with `CONFIG_PER_VMA_LOCK_STATS` ([`host::vmstat_vma_lock`]); the
//! `vm_area_struct` cache's object counts are in `/sys/kernel/slab`
//! ([`host::slab_objects`]). [`KernelSample::take`] reads all three at once.
//!
//! # Failures
//!
//! Construction errors are returned as one-line messages. A system call that fails
//! inside `fault` or `replace` cannot return an error through the trait: it is
//! counted ([`Linux::errors`], with the first message in [`Linux::first_error`]),
//! and nothing is counted for the operation itself. Pages whose `madvise` failed
//! stay claimed for good, so they are never written again (they may still be
//! populated). A replacement that fails stops all further faults: the kernel may
//! have left the range unmapped.
//!
//! All `unsafe` code of the scheme is in the run layer's private `sys` module
//! (`sys.rs`): the system calls and the one store into the mapped memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crossbeam_utils::CachePadded;

use crate::clock::{now, ns_since, Stopwatch};
use crate::model::counters::Counters;
use crate::model::lookup::{Edge, VmaLookup};
use crate::model::mm::{Layout, MapKind, REGION};
use crate::run::host::{self, KernelSample};
use crate::run::sys::{self, PAGES};

/// Bitmap words per region.
const WORDS: usize = PAGES / 64;
/// How many times a thread that finds a region fully claimed yields before it
/// gives the fault up (and counts an error).
const CLAIM_TRIES: u32 = 1 << 20;

/// Written pages a thread keeps per region before one `madvise(MADV_DONTNEED)`
/// clears them.
pub const BATCH: usize = 64;

/// Written pages a thread keeps in all (16 MiB) before it clears every region.
/// Measured against 512: fewer, longer `madvise` calls are faster.
pub const MAX_PENDING: usize = 4096;

/// The [`Totals`](crate::model::counters::Totals) fields this scheme fills; the others
/// are not visible from user space and belong in a report as empty, not 0.
pub const FILLED: [&str; 4] = ["faults", "maps", "unmaps", "wrong"];

/// Whether this system can run the `linux` scheme: Ok on Linux, where the kernel's
/// minor-fault count is readable; otherwise a one-line message saying why not.
pub fn available() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err(format!(
            "the linux scheme needs Linux (this build is for {})",
            std::env::consts::OS
        ));
    }
    host::minor_faults().map(|_| ())
}

/// One region's claimed pages: page `i` is bit `i % 64` of word `i / 64`.
type Claims = CachePadded<[AtomicU64; WORDS]>;

/// The `linux` scheme: real mappings in this process.
pub struct Linux {
    layout: Layout,
    area: sys::Area,
    claims: Box<[Claims]>,
    /// Whether `MADV_NOHUGEPAGE` is accepted (false on kernels without THP).
    nohugepage: bool,
    /// Writes made by handles already dropped.
    writes: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    /// The kernel's counters at the start and the end of the driver's measured
    /// interval ([`VmaLookup::measured`]).
    interval: Mutex<[Option<KernelSample>; 2]>,
}

impl std::fmt::Debug for Linux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linux")
            .field("layout", &self.layout)
            .field("nohugepage", &self.nohugepage)
            .field("errors", &self.errors())
            .finish_non_exhaustive()
    }
}

impl Linux {
    /// Map `layout.slots` regions in this process. Fails with a one-line message
    /// naming the bad value: `mms` other than 1 (one process is one mm), no slots,
    /// more slots than `vm.max_map_count` allows, a system call's error, or a
    /// system that is not Linux.
    pub fn new(layout: Layout) -> Result<Linux, String> {
        available()?;
        check_layout(layout)?;
        let area = sys::Area::new(layout.slots)
            .map_err(|e| format!("linux: mapping {} regions failed: {e}", layout.slots))?;
        let nohugepage = match area.advise(0, 0, PAGES, sys::Advice::NoHugePage) {
            Ok(()) => true,
            // No THP in this kernel: nothing to switch off.
            Err(e) if e.raw_os_error() == Some(sys::EINVAL) => false,
            Err(e) => return Err(format!("linux: madvise(MADV_NOHUGEPAGE) failed: {e}")),
        };
        if nohugepage {
            for slot in 1..layout.slots {
                area.advise(slot, 0, PAGES, sys::Advice::NoHugePage)
                    .map_err(|e| format!("linux: madvise(MADV_NOHUGEPAGE) failed: {e}"))?;
            }
        }
        let claims = (0..layout.slots)
            .map(|_| CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        Ok(Linux {
            layout,
            area,
            claims,
            nohugepage,
            writes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
            interval: Mutex::new([None, None]),
        })
    }

    /// `[start, end)` of slot `slot`'s mapping in this process (None past the
    /// last slot).
    pub fn region(&self, slot: usize) -> Option<(u64, u64)> {
        let start = self.area.region(slot)? as u64;
        Some((start, start + REGION))
    }

    /// Pages written (faults made) by every handle dropped so far, including
    /// those of a driver's warm-up, which its measured `faults` leave out. Each was
    /// one minor fault of the kernel's: compare it with [`host::minor_faults`] sampled
    /// around the handles' lifetimes.
    pub fn writes(&self) -> u64 {
        // Relaxed: a statistic, read after the handles are gone.
        self.writes.load(Ordering::Relaxed)
    }

    /// System calls that failed inside `fault` or `replace` (0 in a good run).
    pub fn errors(&self) -> u64 {
        // Relaxed: a statistic.
        self.errors.load(Ordering::Relaxed)
    }

    /// The kernel's counters at the start and at the end of the last driven run's
    /// measured interval (None before a run has ended, or if a sample failed).
    pub fn kernel_interval(&self) -> Option<(KernelSample, KernelSample)> {
        let s = self.interval.lock().unwrap_or_else(|e| e.into_inner());
        Some((s[0]?, s[1]?))
    }

    /// The first of those failures, as a one-line message.
    pub fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn note_error(&self, message: impl FnOnce() -> String) {
        // Relaxed: a statistic; the message travels under the mutex.
        if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
            let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert_with(message);
        }
    }

    /// Claim an unclaimed page of `slot`, searching from `from` upward (wrapping).
    fn claim(&self, slot: usize, from: usize) -> Option<usize> {
        let words = &self.claims[slot];
        // WORDS + 1 steps: the last one revisits the first word's bits below `from`.
        for step in 0..=WORDS {
            let w = (from / 64 + step) % WORDS;
            let low = if step == 0 { from % 64 } else { 0 };
            // Relaxed: only a hint of which bit to try; the fetch_or decides.
            let mut seen = words[w].load(Ordering::Relaxed);
            loop {
                let free = !seen & (u64::MAX << low);
                if free == 0 {
                    break;
                }
                let bit = 1u64 << free.trailing_zeros();
                // Acquire: pairs with the Release of the thread that released this
                // page after its madvise returned, so this thread's write comes
                // after the page was emptied.
                let before = words[w].fetch_or(bit, Ordering::Acquire);
                if before & bit == 0 {
                    return Some(w * 64 + free.trailing_zeros() as usize);
                }
                seen = before | bit;
            }
        }
        None
    }

    /// Release the claims of `pages` (of `slot`), whose memory has been emptied.
    fn release(&self, slot: usize, pages: &[u16]) {
        let mut masks = [0u64; WORDS];
        for &p in pages {
            masks[p as usize / 64] |= 1 << (p % 64);
        }
        for (word, mask) in self.claims[slot].iter().zip(masks) {
            if mask != 0 {
                // Release: the madvise that emptied these pages comes before any
                // write by the next claimant (see `claim`).
                word.fetch_and(!mask, Ordering::Release);
            }
        }
    }
}

/// Refuse a layout this process cannot map, before anything is mapped: `mms`
/// other than 1 (one process is one mm), no slots, or more regions and guards
/// than `vm.max_map_count` leaves room for.
pub fn check_layout(layout: Layout) -> Result<(), String> {
    if layout.mms != 1 {
        return Err(format!(
            "linux: --mms {} is not possible: one process has exactly one mm (use --mms 1)",
            layout.mms
        ));
    }
    if layout.slots == 0 {
        return Err("linux: --slots 0: at least one mapping is needed".into());
    }
    check_map_count(layout.slots)
}

/// Check that `slots` regions and their guards fit under `vm.max_map_count`, when
/// it and `/proc/self/maps` are readable.
fn check_map_count(slots: usize) -> Result<(), String> {
    let (max, used) = (host::max_map_count(), host::mappings_in_use());
    let needed = slots.saturating_mul(2).saturating_add(1);
    match (max, used) {
        (Some(max), Some(used)) if needed.saturating_add(used) > max => Err(format!(
            "linux: --slots {slots} needs {needed} mappings (each region has a guard), \
             but vm.max_map_count is {max} and {used} are in use"
        )),
        _ => Ok(()),
    }
}

/// A worker's state: where it is in each region and the pages it wrote but has
/// not cleared yet.
pub struct LinuxHandle<'a> {
    linux: &'a Linux,
    /// The non-zero word this thread writes.
    tag: u64,
    /// Per slot: the page to try next.
    cursor: Vec<u16>,
    /// Per slot: written pages not yet cleared.
    pending: Vec<Vec<u16>>,
    /// Pages in `pending`.
    total: usize,
    /// Pages written by this handle.
    writes: u64,
}

impl std::fmt::Debug for LinuxHandle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinuxHandle")
            .field("tag", &self.tag)
            .field("pending", &self.total)
            .finish_non_exhaustive()
    }
}

impl LinuxHandle<'_> {
    /// A page of `slot` this thread now owns, or None (counted as an error).
    fn claim(&mut self, slot: usize) -> Option<usize> {
        let linux = self.linux;
        for _ in 0..CLAIM_TRIES {
            if let Some(page) = linux.claim(slot, self.cursor[slot] as usize) {
                return Some(page);
            }
            if self.pending[slot].is_empty() {
                // Every page is another thread's; they release theirs in batches.
                std::thread::yield_now();
            } else {
                self.clear(slot);
            }
        }
        linux.note_error(|| format!("linux: slot {slot}: no unclaimed page to fault"));
        None
    }

    /// Empty this thread's written pages of `slot` and release them.
    fn clear(&mut self, slot: usize) {
        let pages = std::mem::take(&mut self.pending[slot]);
        let (Some(&lo), Some(&hi)) = (pages.iter().min(), pages.iter().max()) else {
            return;
        };
        self.total -= pages.len();
        let (lo, hi) = (lo as usize, hi as usize);
        // One call over the whole span: pages of other threads inside it are only
        // emptied early, which never makes a claimed write skip its fault.
        match self
            .linux
            .area
            .advise(slot, lo, hi + 1 - lo, sys::Advice::DontNeed)
        {
            Ok(()) => self.linux.release(slot, &pages),
            // The pages stay claimed (and maybe populated), so never written again.
            Err(e) => self
                .linux
                .note_error(|| format!("linux: madvise(MADV_DONTNEED) failed: {e}")),
        }
        // Reuse the allocation.
        let mut pages = pages;
        pages.clear();
        self.pending[slot] = pages;
    }

    /// Empty every region this thread has written pages in.
    fn clear_all(&mut self) {
        for slot in 0..self.pending.len() {
            if !self.pending[slot].is_empty() {
                self.clear(slot);
            }
        }
    }
}

impl Drop for LinuxHandle<'_> {
    fn drop(&mut self) {
        self.clear_all();
        // Relaxed: a statistic (see `Linux::writes`).
        self.linux.writes.fetch_add(self.writes, Ordering::Relaxed);
    }
}

impl VmaLookup for Linux {
    type Handle<'a> = LinuxHandle<'a>;

    fn label(&self) -> String {
        "linux".into()
    }

    fn layout(&self) -> Layout {
        self.layout
    }

    fn handle(&self, thread: usize) -> LinuxHandle<'_> {
        // Threads start in different words of each region, so that a few threads
        // sharing a region each write a contiguous run of their own.
        let start = (thread.wrapping_mul(64) % PAGES) as u16;
        LinuxHandle {
            linux: self,
            tag: thread as u64 + 1,
            cursor: vec![start; self.layout.slots],
            pending: vec![Vec::new(); self.layout.slots],
            total: 0,
            writes: 0,
        }
    }

    /// Samples the kernel's counters ([`KernelSample::take`]) at each edge.
    fn measured(&self, edge: Edge) {
        let sample = match KernelSample::take() {
            Ok(s) => Some(s),
            Err(e) => {
                self.note_error(|| e);
                None
            }
        };
        let mut s = self.interval.lock().unwrap_or_else(|e| e.into_inner());
        match edge {
            Edge::Start => *s = [sample, None],
            Edge::End => s[1] = sample,
        }
    }

    /// Write one unpopulated page of the slot covering `addr` (`mm` is always 0).
    #[inline(always)]
    fn fault<'a>(&'a self, h: &mut LinuxHandle<'a>, _mm: usize, addr: u64, c: &Counters) {
        self.fault_in(h, addr, c, false);
    }

    /// [`Self::fault`], timing only the write that faults (the kernel's lookup,
    /// lock, page allocation and unlock): not the claim of the page before it,
    /// nor the `madvise` that a full batch makes after it.
    #[inline(always)]
    fn fault_timed<'a>(
        &'a self,
        h: &mut LinuxHandle<'a>,
        _mm: usize,
        addr: u64,
        c: &Counters,
    ) -> u64 {
        self.fault_in(h, addr, c, true)
    }

    /// `mmap(MAP_FIXED)` over the slot's region (either kind), then
    /// `MADV_NOHUGEPAGE` on the new mapping. `sw` times the `mmap` system call
    /// alone, as held: the kernel takes `mmap_lock` inside it, so the wait
    /// cannot be told apart (as for every writer here).
    fn replace<'a>(
        &'a self,
        _h: &mut LinuxHandle<'a>,
        _mm: usize,
        slot: usize,
        _kind: MapKind,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) {
        self.replace_in(slot, c, sw);
    }

    /// `munmap` of the slot's region, after this thread emptied its own written
    /// pages there. Only under `private` skew (checked before the run): no other
    /// thread writes the region while it is unmapped.
    fn unmap<'a>(
        &'a self,
        h: &mut LinuxHandle<'a>,
        _mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        self.unmap_in(h, slot, c, sw)
    }

    /// `mmap` of a new mapping over the slot's unmapped region, then
    /// `MADV_NOHUGEPAGE` on it.
    fn map<'a>(
        &'a self,
        _h: &mut LinuxHandle<'a>,
        _mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        self.map_in(slot, c, sw)
    }
}

impl Linux {
    /// The fault; when `timed`, returns the nanoseconds of the write that faulted
    /// (else, or when nothing was written, 0).
    ///
    /// Always inlined, down to the driver's loop: the write that faults must not
    /// sit in a function called once per fault. On the reference machine a fault
    /// taken inside such a function, which then returns, costs about 20% more
    /// kernel time than the same fault taken in the loop's own body (same
    /// faults, same `madvise` calls, same user time; `vma-bench linux-floor`
    /// showed 0.8x with this function out of line). `fault` and `fault_timed`
    /// are inlined for the same reason; the `madvise` of a full batch (`clear`)
    /// stays out of line.
    #[inline(always)]
    fn fault_in(&self, h: &mut LinuxHandle<'_>, addr: u64, c: &Counters, timed: bool) -> u64 {
        let Some(slot) = self.layout.slot_of(addr) else {
            self.note_error(|| format!("linux: address {addr:#x} is in no slot"));
            return 0;
        };
        let Some(page) = h.claim(slot) else {
            return 0;
        };
        let t = timed.then(now);
        let touched = self.area.touch(slot, page, h.tag);
        let ns = t.map_or(0, ns_since);
        let Some(old) = touched else {
            // A failed replacement stopped faulting (noted there); give the claim
            // back untouched.
            self.release(slot, &[page as u16]);
            return 0;
        };
        h.writes += 1;
        c.faults.inc();
        if old != 0 {
            c.wrong.inc();
        }
        h.cursor[slot] = ((page + 1) % PAGES) as u16;
        h.pending[slot].push(page as u16);
        h.total += 1;
        if h.pending[slot].len() >= BATCH {
            h.clear(slot);
        } else if h.total >= MAX_PENDING {
            h.clear_all();
        }
        ns
    }

    /// `MADV_NOHUGEPAGE` on a new mapping of `slot` (where THP exists).
    fn no_huge_pages(&self, slot: usize) {
        if self.nohugepage {
            if let Err(e) = self.area.advise(slot, 0, PAGES, sys::Advice::NoHugePage) {
                self.note_error(|| format!("linux: madvise(MADV_NOHUGEPAGE) failed: {e}"));
            }
        }
    }

    /// The replacement, its `mmap` system call timed by `sw`; false if it
    /// failed (noted as an error).
    fn replace_in(&self, slot: usize, c: &Counters, sw: &mut impl Stopwatch) -> bool {
        sw.locked();
        let done = self.area.remap(slot);
        sw.unlocked();
        if let Err(e) = done {
            self.note_error(|| format!("linux: mmap(MAP_FIXED) of slot {slot} failed: {e}"));
            return false;
        }
        c.maps.inc();
        c.unmaps.inc();
        self.no_huge_pages(slot);
        true
    }

    /// The `munmap`, the system call timed by `sw`; false if it failed.
    fn unmap_in(
        &self,
        h: &mut LinuxHandle<'_>,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        h.clear(slot);
        sw.locked();
        let done = self.area.unmap(slot);
        sw.unlocked();
        if let Err(e) = done {
            self.note_error(|| format!("linux: munmap of slot {slot} failed: {e}"));
            return false;
        }
        c.unmaps.inc();
        true
    }

    /// The `mmap`, the system call timed by `sw`; false if it failed.
    fn map_in(&self, slot: usize, c: &Counters, sw: &mut impl Stopwatch) -> bool {
        sw.locked();
        let done = self.area.map(slot);
        sw.unlocked();
        if let Err(e) = done {
            self.note_error(|| format!("linux: mmap of slot {slot} failed: {e}"));
            return false;
        }
        c.maps.inc();
        self.no_huge_pages(slot);
        true
    }
}
