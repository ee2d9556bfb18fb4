//! A run over time: the memory waiting to be reclaimed at each of the
//! driver's samples (every millisecond), whether the stalled reader was parked
//! then, and the sampled writer operations with when they ended and how long
//! they waited. Recorded for runs with a stalled reader ([`crate::run::driver::Stall`]).

use std::mem::size_of;

use crate::clock::WriterTime;
use crate::model::index::Node;
use crate::model::page::PAGE_SIZE;
use crate::model::vma::Vma;

/// Memory waiting to be reclaimed, by kind of object.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Waiting {
    /// Removed VMAs not yet back in their cache.
    pub vmas: u64,
    /// Replaced index nodes not yet back in their cache.
    pub nodes: u64,
    /// Emptied typesafe slabs whose page waits for a grace period.
    pub slabs: u64,
}

impl Waiting {
    /// Bytes: objects times their size, slabs times the page size.
    pub fn bytes(&self) -> u64 {
        self.vmas * size_of::<Vma>() as u64
            + self.nodes * size_of::<Node>() as u64
            + self.slabs * PAGE_SIZE as u64
    }
}

/// One of the sampler's samples.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Tick {
    /// Nanoseconds since the measured phase opened.
    pub t_ns: u64,
    /// Memory waiting to be reclaimed (None where the lookup cannot see it).
    pub waiting: Option<Waiting>,
    /// Whether the stalled reader was parked inside its read section.
    pub parked: bool,
}

/// The writer operations that ended in one millisecond of the run (with a
/// stalled reader every writer operation is timed for the timeline).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterBucket {
    /// Writer operations that ended in it.
    pub ops: u64,
    /// The longest hold of `mmap_lock` for write among them, ns.
    pub held_max_ns: u64,
    /// The longest wait to take it among them, ns (None where waits cannot be
    /// told apart, or there were none).
    pub wait_max_ns: Option<u64>,
}

impl WriterBucket {
    /// Count one operation that took `time`.
    pub fn add(&mut self, time: WriterTime) {
        self.ops += 1;
        self.held_max_ns = self.held_max_ns.max(time.held_ns);
        self.wait_max_ns = self.wait_max_ns.max(time.wait_ns);
    }

    /// Merge another worker's bucket of the same millisecond.
    pub fn merge(&mut self, o: &WriterBucket) {
        self.ops += o.ops;
        self.held_max_ns = self.held_max_ns.max(o.held_max_ns);
        self.wait_max_ns = self.wait_max_ns.max(o.wait_max_ns);
    }
}

/// Add `time` to the bucket of millisecond `ms` of `buckets` (growing it).
pub fn add_writer(buckets: &mut Vec<WriterBucket>, ms: usize, time: WriterTime) {
    if buckets.len() <= ms {
        buckets.resize(ms + 1, WriterBucket::default());
    }
    buckets[ms].add(time);
}

/// The run over time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// The sampler's samples, in time order.
    pub ticks: Vec<Tick>,
    /// Every worker's writer operations, by the millisecond of the measured
    /// phase they ended in (index 0: its first millisecond).
    pub writers: Vec<WriterBucket>,
    /// Parks the stalled reader completed.
    pub stalls: u64,
}

impl Timeline {
    /// How fast the bytes waiting grew while the reader was parked, in bytes
    /// per millisecond: for each park (a maximal run of samples that saw it
    /// parked), the bytes at its last sample less the bytes at the sample just
    /// before it, over the time between the two; the median over parks. None
    /// without a park that has a sample before it, or where the lookup cannot
    /// see what waits.
    pub fn stall_growth(&self) -> Option<f64> {
        let mut rates = Vec::new();
        let mut i = 1;
        while i < self.ticks.len() {
            if !self.ticks[i].parked || self.ticks[i - 1].parked {
                i += 1;
                continue;
            }
            let before = self.ticks[i - 1];
            let mut end = i;
            while end + 1 < self.ticks.len() && self.ticks[end + 1].parked {
                end += 1;
            }
            let last = self.ticks[end];
            if let (Some(a), Some(b)) = (before.waiting, last.waiting) {
                let ms = last.t_ns.saturating_sub(before.t_ns) as f64 / 1e6;
                if ms > 0.0 {
                    rates.push((b.bytes() as f64 - a.bytes() as f64) / ms);
                }
            }
            i = end + 1;
        }
        if rates.is_empty() {
            return None;
        }
        rates.sort_by(f64::total_cmp);
        let n = rates.len();
        Some(if n % 2 == 1 {
            rates[n / 2]
        } else {
            (rates[n / 2 - 1] + rates[n / 2]) / 2.0
        })
    }

    /// The longest wait for `mmap_lock` of any writer (None where there was
    /// none or the waits cannot be told apart).
    pub fn longest_wait(&self) -> Option<u64> {
        self.writers.iter().filter_map(|w| w.wait_max_ns).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(ms: u64, vmas: u64, parked: bool) -> Tick {
        Tick {
            t_ns: ms * 1_000_000,
            waiting: Some(Waiting {
                vmas,
                ..Waiting::default()
            }),
            parked,
        }
    }

    #[test]
    fn growth_is_measured_per_park_from_the_sample_before_it() {
        let vma = Waiting {
            vmas: 1,
            ..Waiting::default()
        }
        .bytes() as f64;
        // Three parks, each from the sample before it to its last: +10 VMAs
        // over 2 ms (5 per ms), +30 over 3 ms and +40 over 4 ms (10 per ms):
        // median 10 VMAs per ms.
        let t = Timeline {
            ticks: vec![
                tick(0, 0, false),
                tick(1, 5, true),
                tick(2, 10, true),
                tick(3, 0, false),
                tick(4, 10, true),
                tick(5, 20, true),
                tick(6, 30, true),
                tick(7, 0, false),
                tick(8, 0, false),
                tick(9, 20, true),
                tick(12, 40, true),
            ],
            ..Timeline::default()
        };
        assert_eq!(t.stall_growth(), Some(10.0 * vma));
        // A park at the very first sample has no sample before it.
        let first = Timeline {
            ticks: vec![tick(0, 3, true), tick(1, 4, true)],
            ..Timeline::default()
        };
        assert_eq!(first.stall_growth(), None);
        assert_eq!(first.longest_wait(), None);
    }

    #[test]
    fn writer_buckets_count_and_keep_the_longest() {
        let w = |wait: Option<u64>, held: u64| WriterTime {
            wait_ns: wait,
            held_ns: held,
        };
        let mut a = Vec::new();
        add_writer(&mut a, 2, w(Some(5), 100));
        add_writer(&mut a, 2, w(Some(50), 10));
        let mut b = Vec::new();
        add_writer(&mut b, 2, w(None, 300));
        a[2].merge(&b[2]);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0], WriterBucket::default());
        assert_eq!(
            a[2],
            WriterBucket {
                ops: 3,
                held_max_ns: 300,
                wait_max_ns: Some(50)
            }
        );
        let t = Timeline {
            writers: a,
            ..Timeline::default()
        };
        assert_eq!(t.longest_wait(), Some(50));
    }
}
