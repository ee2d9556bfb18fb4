//! Grouping rows into points (one point: every repetition of one configuration)
//! and the statistics the plots and the report show.

use std::collections::BTreeMap;

use crate::run::spec::Row;

/// One configuration of the grid, on one host: the rows of a point are its
/// repetitions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Host.
    pub host: String,
    /// Address spaces.
    pub mms: usize,
    /// Mappings per address space.
    pub slots: usize,
    /// Skew.
    pub skew: String,
    /// Churn in thousandths of a percent (a total order for a float).
    pub churn_milli: u64,
    /// Threads.
    pub threads: usize,
    /// Scheme.
    pub scheme: String,
}

impl Key {
    /// The key of `row`.
    pub fn of(row: &Row) -> Key {
        Key {
            host: row.host.clone(),
            mms: row.mms,
            slots: row.slots,
            skew: row.skew.clone(),
            churn_milli: (row.churn_pct * 1000.0).round() as u64,
            threads: row.threads,
            scheme: row.scheme.clone(),
        }
    }

    /// Churn in percent.
    pub fn churn(&self) -> f64 {
        self.churn_milli as f64 / 1000.0
    }
}

/// Median, minimum and maximum of some values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// How many values.
    pub n: usize,
}

impl Summary {
    /// The summary of `values`; None if there are none (NaNs are ignored).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Summary> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }

    /// Run-to-run spread: (max - min) / median (0 for a zero median).
    pub fn spread(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.max - self.min) / self.median
        }
    }
}

/// Rows grouped by point, in a stable order.
pub fn points(rows: &[Row]) -> BTreeMap<Key, Vec<&Row>> {
    let mut out: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        out.entry(Key::of(r)).or_default().push(r);
    }
    out
}

/// The summary of `f` over the rows of one point (rows where `f` is None are
/// left out).
pub fn summarize(rows: &[&Row], f: impl Fn(&Row) -> Option<f64>) -> Option<Summary> {
    Summary::of(rows.iter().filter_map(|r| f(r)))
}

/// Faults per second of a row.
pub fn faults_per_sec(r: &Row) -> Option<f64> {
    Some(r.faults_per_sec)
}

/// A per-fault rate of a counter (None where the scheme cannot observe it or no
/// fault was made).
pub fn per_fault(count: Option<u64>, r: &Row) -> Option<f64> {
    (r.faults > 0).then_some(count? as f64 / r.faults as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max_and_spread() {
        let s = Summary::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(s.spread(), 1.0);
        let even = Summary::of([4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert_eq!(Summary::of([f64::NAN]), None);
        assert_eq!(Summary::of([0.0, 0.0]).unwrap().spread(), 0.0);
    }

    #[test]
    fn a_point_is_every_repetition_of_one_configuration() {
        let row = |host: &str, mms: usize, rep: u32, fps: f64| Row {
            host: host.into(),
            mms,
            rep,
            faults_per_sec: fps,
            ..Row::example("typesafe", 2, 10.0)
        };
        let rows = [
            row("a", 4, 0, 100.0),
            row("a", 4, 1, 300.0),
            row("a", 4, 2, 200.0),
            row("a", 8, 0, 50.0),
            row("b", 4, 0, 70.0),
        ];
        let p = points(&rows);
        assert_eq!(p.len(), 3, "host and mms tell points apart");
        let key = Key::of(&rows[0]);
        assert_eq!((key.churn(), key.threads), (10.0, 2));
        let s = summarize(&p[&key], faults_per_sec).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (200.0, 100.0, 300.0, 3));
        assert_eq!(s.spread(), 1.0);
        let other = summarize(&p[&Key::of(&rows[3])], faults_per_sec).unwrap();
        assert_eq!((other.median, other.n), (50.0, 1));
        let mut no_faults = row("a", 4, 0, 0.0);
        no_faults.lock_abort = Some(3);
        assert_eq!(per_fault(no_faults.lock_abort, &no_faults), None);
        no_faults.faults = 6;
        assert_eq!(per_fault(no_faults.lock_abort, &no_faults), Some(0.5));
        assert_eq!(per_fault(None, &no_faults), None);
    }
}
