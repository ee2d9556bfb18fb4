//! The lookup trait: what the driver, the benchmarks and the tests drive.

use crate::clock::{now, ns_since, Timed, WriterTime};
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
    /// unmapped for a concurrent fault.
    fn replace<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    );
    /// `munmap` of `slot` in `mm`; false if it was not mapped.
    fn unmap<'a>(&'a self, h: &mut Self::Handle<'a>, mm: usize, slot: usize, c: &Counters) -> bool;
    /// `mmap` of a new mapping at `slot` of `mm`; false if it was mapped already.
    fn map<'a>(&'a self, h: &mut Self::Handle<'a>, mm: usize, slot: usize, c: &Counters) -> bool;
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
    fn exit<'a>(&'a self, _h: &mut Self::Handle<'a>, _mm: usize, _c: &Counters) {}
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
    ) -> bool {
        false
    }
    /// `fork` of the process owning `mm`: its VMAs are copied into a child,
    /// which exits at once. Lookups that cannot fork (the real kernel here) do
    /// nothing; `run_spec` refuses forks for them.
    fn fork<'a>(&'a self, _h: &mut Self::Handle<'a>, _mm: usize, _c: &Counters) {}
    /// [`Self::fork`], timed (the default as for `replace_timed`).
    fn fork_timed<'a>(&'a self, h: &mut Self::Handle<'a>, mm: usize, c: &Counters) -> WriterTime {
        let t = now();
        self.fork(h, mm, c);
        whole_call(t)
    }
    /// [`Self::change`], timed (the default as for `replace_timed`).
    fn change_timed<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> (bool, WriterTime) {
        let t = now();
        let done = self.change(h, mm, slot, c);
        (done, whole_call(t))
    }
    /// [`Self::fault`], timed: nanoseconds from the start of the lookup to the
    /// unlock (the default times the whole call; the real kernel times only
    /// the write that faults).
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
    /// [`Self::replace`], timed (the default: the whole call is the hold time,
    /// the wait unknown).
    fn replace_timed<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    ) -> WriterTime {
        let t = now();
        self.replace(h, mm, slot, kind, c);
        whole_call(t)
    }
    /// [`Self::unmap`], timed (the default as for `replace_timed`).
    fn unmap_timed<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> (bool, WriterTime) {
        let t = now();
        let done = self.unmap(h, mm, slot, c);
        (done, whole_call(t))
    }
    /// [`Self::map`], timed (the default as for `replace_timed`).
    fn map_timed<'a>(
        &'a self,
        h: &mut Self::Handle<'a>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> (bool, WriterTime) {
        let t = now();
        let done = self.map(h, mm, slot, c);
        (done, whole_call(t))
    }
    /// [`Self::exit`], timed (the default as for `replace_timed`).
    fn exit_timed<'a>(&'a self, h: &mut Self::Handle<'a>, mm: usize, c: &Counters) -> WriterTime {
        let t = now();
        self.exit(h, mm, c);
        whole_call(t)
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
    /// and when it ends (after every worker returned). The models ignore it; the
    /// real kernel samples its own counters here.
    fn measured(&self, _edge: Edge) {}
}

/// A call timed as a whole: all of it held, the wait unknown.
fn whole_call(t: std::time::Instant) -> WriterTime {
    WriterTime {
        wait_ns: None,
        held_ns: ns_since(t),
    }
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
    // Always (as `Space::fault` and `Space::lock_in`): the driver's loop calls
    // the fault path twice (untimed, and in the sampled branch), and LLVM then
    // kept it out of line: 30 instructions per fault dearer than a build
    // without sampling (`make overhead`).
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
    ) {
        Space::replace(self, h, mm, slot, kind, c);
    }
    fn unmap<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, slot: usize, c: &Counters) -> bool {
        Space::unmap(self, h, mm, slot, c)
    }
    fn map<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, slot: usize, c: &Counters) -> bool {
        Space::map(self, h, mm, slot, c)
    }
    #[inline]
    fn quiescent<'a>(&'a self, h: &mut Handle<'a, S, H>) {
        Space::quiescent(self, h);
    }
    fn reclaimed(&self) -> Option<Reclaimed> {
        Some(Space::reclaimed(self))
    }
    fn replace_timed<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        kind: MapKind,
        c: &Counters,
    ) -> WriterTime {
        let mut sw = Timed::new();
        Space::replace_in(self, h, mm, slot, kind, c, &mut sw);
        sw.time()
    }
    fn unmap_timed<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> (bool, WriterTime) {
        let mut sw = Timed::new();
        let done = Space::unmap_in(self, h, mm, slot, c, &mut sw);
        (done, sw.time())
    }
    fn map_timed<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> (bool, WriterTime) {
        let mut sw = Timed::new();
        let done = Space::map_in(self, h, mm, slot, c, &mut sw);
        (done, sw.time())
    }
    fn exit_timed<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, c: &Counters) -> WriterTime {
        let mut sw = Timed::new();
        Space::exit_in(self, h, mm, c, &mut sw);
        sw.time()
    }
    fn stall<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, addr: u64, park: &mut dyn FnMut()) {
        Space::stall(self, h, mm, addr, park);
    }
    fn exit<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, c: &Counters) {
        Space::exit(self, h, mm, c);
    }
    fn change<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> bool {
        Space::change(self, h, mm, slot, c)
    }
    fn fork<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, c: &Counters) {
        Space::fork(self, h, mm, c);
    }
    fn fork_timed<'a>(&'a self, h: &mut Handle<'a, S, H>, mm: usize, c: &Counters) -> WriterTime {
        let mut sw = Timed::new();
        Space::fork_in(self, h, mm, c, &mut sw);
        sw.time()
    }
    fn change_timed<'a>(
        &'a self,
        h: &mut Handle<'a, S, H>,
        mm: usize,
        slot: usize,
        c: &Counters,
    ) -> (bool, WriterTime) {
        let mut sw = Timed::new();
        let done = Space::change_in(self, h, mm, slot, c, &mut sw);
        (done, sw.time())
    }
}
