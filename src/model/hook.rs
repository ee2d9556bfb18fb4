//! Points inside the reader's protocol where a test or an adversarial run may
//! step in. Benchmarks use [`NoHook`], whose empty inline body monomorphises away.

/// A place in `lock_vma_under_rcu`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Point {
    /// The VMA was found in the index; it is not locked yet.
    Found,
    /// `refcnt` was read; the CAS that takes the reference comes next.
    BeforeCas,
    /// The reference is taken; validation comes next.
    Locked,
    /// The reader found its VMA detached and left its read section
    /// (`vma_start_read` drops the RCU read lock on failure); it enters a new
    /// section and walks again next.
    Retry,
    /// The reader dropped its reference on a VMA of another mm; waking that mm's
    /// writer comes next.
    Put,
    /// A writer (a handle's own hook): the old VMAs are write-locked and out of the
    /// index; detaching them comes next.
    Detaching,
    /// An exit (a handle's own hook): the old mm is freed; creating the new one in
    /// its place comes next.
    MmFreed,
    /// A fault won the `anon_vma` assignment of its VMA: `anon` is written,
    /// `anon_chain` comes next.
    AnonAssigning,
    /// An in-place change (a handle's own hook): the VMA's generation and first
    /// payload word are rewritten, the rest of its payload comes next.
    Changing,
}

/// Called at each [`Point`] by the reader that owns it.
pub trait Hook {
    /// Step in at `point`.
    fn at(&mut self, point: Point);
}

/// No hook: the production path.
#[derive(Copy, Clone, Debug, Default)]
pub struct NoHook;

impl Hook for NoHook {
    #[inline(always)]
    fn at(&mut self, _point: Point) {}
}

/// Any closure is a hook (scripted tests drive writers from one).
impl<F: FnMut(Point)> Hook for F {
    #[inline]
    fn at(&mut self, point: Point) {
        self(point)
    }
}

/// Widens the find-to-lock window by yielding the CPU `yields` times after the
/// find, so a reused object is likely to be met under stress (adversarial runs).
#[derive(Copy, Clone, Debug, Default)]
pub struct Widen {
    /// How many times to yield between find and lock.
    pub yields: u32,
}

impl Hook for Widen {
    #[inline]
    fn at(&mut self, point: Point) {
        if point == Point::Found {
            for _ in 0..self.yields {
                std::thread::yield_now();
            }
        }
    }
}
