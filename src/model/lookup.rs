//! The lookup trait: what the driver, the benchmarks and the tests drive.

use crate::clock::{now, ns_since, Stopwatch};
use crate::model::counters::Counters;
use crate::model::hook::Hook;
use crate::model::mm::{Layout, MapKind};
use crate::model::scheme::Scheme;
use crate::model::space::{Handle, Reclaimed, Space};

/// A page-fault model: find and lock the VMA for an address, validate it, fall
/// back to the mm-wide lock on failure, run the fault; and the writers that
/// change mappings under it.
pub trait VmaLookup: Sync {
    /// Per-thread state.
    type Handle<'a>
    where
        Self: 'a;

    /// The scheme's label (`policy/flavour`, or the policy).
    fn label(&self) -> String;
    /// How many mms and slots.
    fn layout(&self) -> Layout;
    /// Per-thread state for worker `thread`.
    fn handle(&self, thread: usize) -> Self::Handle<'_>;
    /// One page fault at `addr` in `mm`.
    fn fault<'a>(&'a self, h: &mut Self::Handle<'a>, mm: usize, addr: u64, c: &Counters);
    /// `mmap(MAP_FIXED)` over the mapping in `slot` of `mm`: the range is never
    /// unmapped for a concurrent fault. Its `mmap_lock` write cycle is reported
    /// to `sw` (as for every writer below; [`Untimed`](crate::clock::Untimed)
    /// where nothing is timed).
    fn replace<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
        sw: &mut impl Stopwatch,
    );
    /// `munmap` of `slot` in `mm`; false if it was not mapped.
    fn unmap<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool;
    /// `mmap` of a new mapping at `slot` of `mm`; false if it was mapped already.
    fn map<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool;
    /// Between two operations of a worker (a QSBR flavour may report a
    /// quiescent state).
    fn quiescent<'a>(&'a self, _h: &mut Self::Handle<'a>) {}
    /// What the slab caches freed after a grace period so far (None where the
    /// frees happen out of sight: the real kernel).
    fn reclaimed(&self) -> Option<Reclaimed> {
        None
    }
    /// The process owning `mm` exits and a new one takes its place. Lookups
    /// without mm lifetimes (the real kernel: our one process cannot exit) do
    /// nothing; `run_spec` refuses exits for them.
    fn exit<'a>(
        &'a self,
        _h: &mut Self::Handle<'a>,
        _mm: usize,
        _c: &Counters,
        _sw: &mut impl Stopwatch,
    ) {
    }
    /// An in-place change of the mapping in `slot` of `mm` (mprotect,
    /// madvise): its fields change while it stays in the index; false if the
    /// slot was not mapped. Lookups that cannot change a mapping in place
    /// (the real kernel here) do nothing; `run_spec` refuses changes for them.
    fn change<'a>(
        &'a self,
        _h: &mut Self::Handle<'a>,
        _mm: usize,
        _slot: usize,
        _c: &Counters,
        _sw: &mut impl Stopwatch,
    ) -> bool {
        false
    }
    /// `fork` of the process owning `mm`: its VMAs are copied into a child,
    /// which exits at once. Lookups that cannot fork (the real kernel here) do
    /// nothing; `run_spec` refuses forks for them.
    fn fork<'a>(
        &'a self,
        _h: &mut Self::Handle<'a>,
        _mm: usize,
        _c: &Counters,
        _sw: &mut impl Stopwatch,
    ) {
    }
    /// [`Self::fault`], timed: nanoseconds from the start of the lookup to the
    /// unlock (the default times the whole call; the real kernel times only
    /// the write that faults). Apart from `fault` (unlike the writers' one
    /// method with a stopwatch) so that the untimed fault, the loop's hot path,
    /// carries nothing of the timing.
    #[inline]
    fn fault_timed<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        addr: u64,
        c: &Counters,
    ) -> u64 {
        let t = now();
        self.fault(h, mm, addr, c);
        ns_since(t)
    }
    /// A reader parked inside its read section: enter it, walk to `addr` in
    /// `mm`, call `park`, leave ([`Space::stall`]). The default only calls
    /// `park`: a lookup whose read section cannot be entered from here (the real
    /// kernel's `rcu_read_lock()`); `run_spec` refuses stalls for it.
    fn stall<'a>(
        &'a self,
        _h: &mut Self::Handle<'a>,
        _mm: usize,
        _addr: u64,
        park: &mut dyn FnMut(),
    ) {
        park();
    }
    /// Called by the driver when its measured interval starts (after the warm-up)
    /// and when it ends (after every worker returned). The models reset their
    /// grace-period probes at the start; the real kernel samples its own
    /// counters at both.
    fn measured(&self, _edge: Edge) {}
}

/// An end of the driver's measured interval.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Edge {
    /// The measured interval starts.
    Start,
    /// The measured interval has ended and every worker has returned.
    End,
}

impl<S: Scheme, H: Hook + Clone + Sync> VmaLookup for Space<S, H> {
    type Handle<'a>
        = Handle<'a, S, H>
    where
        Self: 'a;

    fn label(&self) -> String {
        crate::model::scheme::label_of::<S>()
    }
    fn layout(&self) -> Layout {
        Space::layout(self)
    }
    fn handle(&self, thread: usize) -> Handle<'_, S, H> {
        Space::handle(self, thread)
    }
    // Always (as `Space::fault` and `Space::lock_in`): a worker calls the
    // fault path twice (untimed in its batch, timed in its cold step), and with
    // `#[inline]` LLVM kept it out of line: 30 instructions per fault dearer
    // than a build without sampling (`make overhead`).
    #[inline(always)]
    fn fault<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, addr: u64, c: &Counters) {
        Space::fault(self, h, mm, addr, c);
    }
    #[inline]
    fn replace<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) {
        Space::replace_in(self, h, mm, slot, kind, c, sw);
    }
    fn unmap<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        Space::unmap_in(self, h, mm, slot, c, sw)
    }
    fn map<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        Space::map_in(self, h, mm, slot, c, sw)
    }
    #[inline]
    fn quiescent<'a>(&'a self, h: &mut Handle<'a, S, H>) {
        Space::quiescent(self, h);
    }
    fn reclaimed(&self) -> Option<Reclaimed> {
        Some(Space::reclaimed(self))
    }
    fn exit<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) {
        Space::exit_in(self, h, mm, c, sw);
    }
    fn change<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) -> bool {
        Space::change_in(self, h, mm, slot, c, sw)
    }
    fn fork<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        c: &Counters,
        sw: &mut impl Stopwatch,
    ) {
        Space::fork_in(self, h, mm, c, sw);
    }
    fn stall<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, addr: u64, park: &mut dyn FnMut()) {
        Space::stall(self, h, mm, addr, park);
    }
    fn measured(&self, edge: Edge) {
        if edge == Edge::Start {
            Space::measure_from_now(self);
        }
    }
}
