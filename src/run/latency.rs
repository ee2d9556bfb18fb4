//! Latency histograms: each worker records every Nth fault and every Nth
//! writer operation into its own HDR histograms ([`Latency`], one per kind of
//! operation), which the driver merges when the workers are done.
//!
//! Values are nanoseconds, from 1 ns to a minute, at 3 significant digits (a
//! recorded value is within 0.1% of the true one); a longer operation is
//! recorded as a minute.

use hdrhistogram::Histogram;

/// What a sample timed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// A fault: from the start of `lock_vma_under_rcu` to the unlock (or the
    /// fallback's `mmap_lock` release).
    Fault,
    /// `mmap(MAP_FIXED)` over a mapping: `mmap_lock` held for write.
    Replace,
    /// `munmap`: `mmap_lock` held for write.
    Unmap,
    /// `mmap` into a gap: `mmap_lock` held for write.
    Map,
    /// A process exit and a new mm in its place: `mmap_lock` held for write.
    Exit,
    /// An in-place change of a mapping: `mmap_lock` held for write.
    Change,
    /// A fork (every VMA copied into a child, which exits): `mmap_lock` held
    /// for write.
    Fork,
}

impl Op {
    /// Every kind, faults first.
    pub const ALL: [Op; 7] = [
        Op::Fault,
        Op::Replace,
        Op::Unmap,
        Op::Map,
        Op::Exit,
        Op::Change,
        Op::Fork,
    ];

    /// Its name in the files.
    pub fn name(self) -> &'static str {
        match self {
            Op::Fault => "fault",
            Op::Replace => "replace",
            Op::Unmap => "munmap",
            Op::Map => "mmap",
            Op::Exit => "exit",
            Op::Change => "change",
            Op::Fork => "fork",
        }
    }
}

/// The largest value a histogram records: a minute, in nanoseconds.
const HIGHEST_NS: u64 = 60_000_000_000;

/// The percentiles the CSV gives of a distribution.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Percentiles {
    /// Values recorded.
    pub samples: u64,
    /// Median, ns.
    pub p50: u64,
    /// 90th percentile, ns.
    pub p90: u64,
    /// 99th percentile, ns.
    pub p99: u64,
    /// 99.9th percentile, ns.
    pub p999: u64,
    /// The largest value, ns.
    pub max: u64,
}

/// The percentiles of the distribution tables written beside the CSV: each
/// one a decade further into the tail (1 - p = 10^-1 ... 10^-5), after the
/// median; the maximum is written as percentile 100.
pub const TABLE: [f64; 7] = [50.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0];

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("constant, valid bounds")
}

/// One histogram per kind of operation.
#[derive(Clone, Debug)]
pub struct Latency {
    hists: [Histogram<u64>; Op::ALL.len()],
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// Empty histograms.
    pub fn new() -> Self {
        Latency {
            hists: std::array::from_fn(|_| histogram()),
        }
    }

    /// Record one sample of `op`, `ns` nanoseconds (0 is recorded as 1, above
    /// a minute as a minute).
    // Out of line and cold: taken once in N operations; the worker's loop
    // keeps only a call.
    #[cold]
    #[inline(never)]
    pub fn record(&mut self, op: Op, ns: u64) {
        self.hists[op as usize].saturating_record(ns.clamp(1, HIGHEST_NS));
    }

    /// Forget every sample (a worker entering the measured phase).
    pub fn reset(&mut self) {
        for h in &mut self.hists {
            h.reset();
        }
    }

    /// Add `other`'s samples.
    pub fn add(&mut self, other: &Latency) {
        for (a, b) in self.hists.iter_mut().zip(&other.hists) {
            // Same bounds on both sides: adding cannot fail.
            let _ = a.add(b);
        }
    }

    /// The histogram of `op`.
    pub fn of(&self, op: Op) -> &Histogram<u64> {
        &self.hists[op as usize]
    }

    /// Every writer operation (replace, munmap, mmap, exit, change, fork) in one
    /// histogram.
    pub fn writers(&self) -> Histogram<u64> {
        let mut all = histogram();
        for op in Op::ALL.into_iter().filter(|&op| op != Op::Fault) {
            let _ = all.add(self.of(op));
        }
        all
    }
}

/// The CSV's percentiles of `h`; None when it holds no sample.
pub fn percentiles(h: &Histogram<u64>) -> Option<Percentiles> {
    (!h.is_empty()).then(|| Percentiles {
        samples: h.len(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    })
}

/// `(percentile, ns)` of `h` at each of [`TABLE`]'s percentiles; empty when it
/// holds no sample.
pub fn table(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    TABLE
        .iter()
        .map(|&p| {
            let v = if p >= 100.0 {
                h.max()
            } else {
                h.value_at_quantile(p / 100.0)
            };
            (p, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        // 1..=1000 ns once each: the p-th percentile is p * 10 ns (to 0.1%).
        let mut a = Latency::new();
        let mut b = Latency::new();
        for ns in 1..=1000u64 {
            // Split over two workers, merged as the driver does.
            if ns % 2 == 0 {
                a.record(Op::Fault, ns);
            } else {
                b.record(Op::Fault, ns);
            }
        }
        a.add(&b);
        let p = percentiles(a.of(Op::Fault)).unwrap();
        assert_eq!(p.samples, 1000);
        assert_eq!(
            (p.p50, p.p90, p.p99, p.p999, p.max),
            (500, 900, 990, 999, 1000)
        );
        assert_eq!(percentiles(a.of(Op::Replace)), None);
        let t = table(a.of(Op::Fault));
        assert_eq!(t.len(), TABLE.len());
        assert_eq!(t[0], (50.0, 500));
        assert_eq!(t[TABLE.len() - 1], (100.0, 1000));
    }

    #[test]
    fn writers_merge_every_writer_kind_and_reset_forgets() {
        let mut l = Latency::new();
        l.record(Op::Replace, 100);
        l.record(Op::Unmap, 200);
        l.record(Op::Map, 300);
        l.record(Op::Exit, 400);
        l.record(Op::Change, 150);
        l.record(Op::Fork, 250);
        l.record(Op::Fault, 5);
        // Out of range: clamped, not lost.
        l.record(Op::Fault, 0);
        l.record(Op::Fault, u64::MAX);
        let w = percentiles(&l.writers()).unwrap();
        assert_eq!((w.samples, w.max), (6, 400));
        let f = percentiles(l.of(Op::Fault)).unwrap();
        assert_eq!(f.samples, 3);
        assert!(f.max >= HIGHEST_NS, "{f:?}");
        l.reset();
        assert!(Op::ALL.iter().all(|&op| l.of(op).is_empty()));
    }
}
