//! Grouping rows into points (one point: every repetition of one configuration)
//! and the statistics the plots and the report show: [`Key`] and [`Summary`];
//! [`Data`], the rows grouped by origin (host, or host and setup) with their axes
//! and each machine's cores, which the plots and the report both draw from; and
//! the short forms of numbers both print.

use std::collections::{BTreeMap, BTreeSet};

use crate::output::canary::Canary;
use crate::output::meta::Meta;
use crate::output::row::Row;

/// Everything a run's work depends on besides the axes of the figures
/// (threads, churn, skew, scheme): rows that differ in any of these are never
/// pooled as repetitions of one point. Floats are kept as whole numbers of a
/// small unit, so that the setup has a total order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Setup {
    /// Address spaces.
    pub mms: usize,
    /// Mappings per address space.
    pub slots: usize,
    /// `replace` or `unmap-map`.
    pub churn_kind: String,
    /// `light` or `page`.
    pub fault_work: String,
    /// Process exits, thousandths of a percent of the operations.
    pub exits_milli: u64,
    /// In-place changes, thousandths of a percent of the operations.
    pub changes_milli: u64,
    /// Forks, thousandths of a percent of the operations.
    pub forks_milli: u64,
    /// Warm-up, microseconds.
    pub warmup_us: u64,
    /// The requested measured time, microseconds (None: a run limited otherwise).
    pub requested_us: Option<u64>,
    /// The requested fault operations (None: a run limited otherwise).
    pub requested_faults: Option<u64>,
    /// seize's batch size.
    pub seize_batch: usize,
    /// urcu-qsbr's operations between quiescent states.
    pub qsbr_every: u32,
    /// Yields between find and lock.
    pub widen: u32,
}

/// `x` in units of `1 / per` (rounded; a row read back from a CSV is finite and
/// not negative).
fn units(x: f64, per: f64) -> u64 {
    (x * per).round() as u64
}

impl Setup {
    /// The setup of `r`.
    pub fn of(r: &Row) -> Setup {
        Setup {
            mms: r.mms,
            slots: r.slots,
            churn_kind: r.churn_kind.clone(),
            fault_work: r.fault_work.clone(),
            exits_milli: units(r.exits_pct, 1e3),
            changes_milli: units(r.changes_pct, 1e3),
            forks_milli: units(r.forks_pct, 1e3),
            warmup_us: units(r.warmup_s, 1e6),
            requested_us: r.requested_s.map(|s| units(s, 1e6)),
            requested_faults: r.requested_faults,
            seize_batch: r.seize_batch,
            qsbr_every: r.qsbr_every,
            widen: r.widen,
        }
    }

    /// `M mms, S slots`, then each other parameter in which the setups of
    /// `among` (those of one host) differ: how a series is told apart from the
    /// host's others.
    fn describe(&self, among: &BTreeSet<Setup>) -> String {
        let differ =
            |f: &dyn Fn(&Setup) -> String| among.iter().map(f).collect::<BTreeSet<_>>().len() > 1;
        let secs = |us: u64| format!("{} s", us as f64 / 1e6);
        let fields: [&dyn Fn(&Setup) -> String; 11] = [
            &|s| s.churn_kind.clone(),
            &|s| format!("{} work", s.fault_work),
            &|s| format!("exits {}%", s.exits_milli as f64 / 1e3),
            &|s| format!("changes {}%", s.changes_milli as f64 / 1e3),
            &|s| format!("forks {}%", s.forks_milli as f64 / 1e3),
            &|s| format!("warm-up {}", secs(s.warmup_us)),
            &|s| {
                s.requested_us
                    .map_or("no time limit".into(), |us| format!("{} runs", secs(us)))
            },
            &|s| {
                s.requested_faults
                    .map_or("no fault limit".into(), |n| format!("{n} faults"))
            },
            &|s| format!("seize batch {}", s.seize_batch),
            &|s| format!("qsbr every {}", s.qsbr_every),
            &|s| format!("widen {}", s.widen),
        ];
        let mut out = format!("{} mms, {} slots", self.mms, self.slots);
        for f in fields {
            if differ(f) {
                out += ", ";
                out += &f(self);
            }
        }
        out
    }
}

/// One configuration of the grid, on one host: the rows of a point are its
/// repetitions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Host (in [`Data`], the origin: the host, and the setup where the host
    /// has several).
    pub host: String,
    /// Every other parameter of the work.
    pub setup: Setup,
    /// Skew.
    pub skew: String,
    /// Churn in thousandths of a percent (a total order for a float).
    pub churn_milli: u64,
    /// Threads.
    pub threads: usize,
    /// Scheme label (`policy/flavour`, or the policy).
    pub scheme: String,
}

impl Key {
    /// The key of `row`.
    pub fn of(row: &Row) -> Key {
        Key {
            host: row.host.clone(),
            setup: Setup::of(row),
            skew: row.skew.clone(),
            churn_milli: units(row.churn_pct, 1e3),
            threads: row.threads,
            scheme: row.label(),
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

/// The measurements among `rows` grouped by point, in a stable order.
pub fn points(rows: &[Row]) -> BTreeMap<Key, Vec<&Row>> {
    let mut out: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.is_measurement()) {
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

/// What the figures are drawn from: the measurements among the rows, grouped
/// into points. Rows that are not measurements ([`Row::is_measurement`]) are in
/// no point, no axis and no series; the report counts them
/// ([`Data::left_out`]).
pub struct Data<'a> {
    rows: &'a [Row],
    /// The measured runs with a stalled reader, in file order (in no point).
    pub stalled: Vec<&'a Row>,
    /// The rows that are measurements, stalled runs apart.
    measured: Vec<&'a Row>,
    /// Points keyed with their origin in place of the host.
    points: BTreeMap<Key, Vec<&'a Row>>,
    /// The one setup of each (origin, scheme).
    setup: BTreeMap<(String, String), Setup>,
    /// The host of each origin.
    host_of: BTreeMap<String, String>,
    /// The cores of each host that has metadata.
    cores_of_host: BTreeMap<String, usize>,
    /// Every origin of a series, in order: a host, or `host [M mms, S slots]`
    /// when one scheme of that host was run with several address-space setups
    /// (so that a point never mixes setups).
    pub hosts: Vec<String>,
    /// Every scheme present, in the order the rows first name them (a sweep
    /// writes its grid's schemes in order, so its plots keep that order).
    pub schemes: Vec<String>,
    /// Every thread count, ascending.
    pub threads: Vec<usize>,
    /// Every churn rate (thousandths of a percent), ascending.
    pub churn: Vec<u64>,
    /// Every skew, `uniform` first.
    pub skews: Vec<String>,
    /// The fewest CPUs among the machines whose metadata gives them; None when
    /// none does (the cores of the machine that draws are never used).
    pub cores: Option<usize>,
    /// The canary timelines of the sweeps (empty where there is none).
    canaries: &'a [Canary],
    /// The canary threshold of the first sweep whose metadata gives one.
    canary_threshold: Option<f64>,
}

/// The axes of a set of points: skews (`uniform` first, then by name),
/// thread counts and churn rates (per mille), each sorted, without repeats.
fn axes(points: &BTreeMap<Key, Vec<&Row>>) -> (Vec<String>, Vec<usize>, Vec<u64>) {
    let skews: BTreeSet<&str> = points.keys().map(|k| k.skew.as_str()).collect();
    let mut skews: Vec<String> = skews.into_iter().map(str::to_owned).collect();
    skews.sort_by_key(|s| (s != "uniform", s.clone()));
    let threads: BTreeSet<usize> = points.keys().map(|k| k.threads).collect();
    let churn: BTreeSet<u64> = points.keys().map(|k| k.churn_milli).collect();
    (
        skews,
        threads.into_iter().collect(),
        churn.into_iter().collect(),
    )
}

impl<'a> Data<'a> {
    /// Group the measurements among `rows` ([`Row::is_measurement`]); the
    /// others are only counted ([`Data::left_out`]). `metas` give the cores of
    /// the hosts.
    pub fn new(rows: &'a [Row], metas: &[Meta]) -> Data<'a> {
        // Runs with a stalled reader are a scenario of their own: they are kept
        // apart (`stalled`), out of every point.
        let stalled: Vec<&Row> = rows
            .iter()
            .filter(|r| r.is_measurement() && r.stall_ms.is_some())
            .collect();
        let measured: Vec<&Row> = rows
            .iter()
            .filter(|r| r.is_measurement() && r.stall_ms.is_none())
            .collect();
        let mut setups: BTreeMap<(&str, String), BTreeSet<Setup>> = BTreeMap::new();
        let mut of_host: BTreeMap<&str, BTreeSet<Setup>> = BTreeMap::new();
        for r in &measured {
            setups
                .entry((r.host.as_str(), r.label()))
                .or_default()
                .insert(Setup::of(r));
            of_host
                .entry(r.host.as_str())
                .or_default()
                .insert(Setup::of(r));
        }
        let split: BTreeSet<&str> = setups
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|((h, _), _)| *h)
            .collect();
        let origin = |r: &Row| {
            if split.contains(r.host.as_str()) {
                let among = &of_host[r.host.as_str()];
                format!("{} [{}]", r.host, Setup::of(r).describe(among))
            } else {
                r.host.clone()
            }
        };
        let mut points: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
        let mut setup = BTreeMap::new();
        let mut host_of = BTreeMap::new();
        for &r in &measured {
            let o = origin(r);
            setup.insert((o.clone(), r.label()), Setup::of(r));
            host_of.insert(o.clone(), r.host.clone());
            let key = Key {
                host: o,
                ..Key::of(r)
            };
            points.entry(key).or_default().push(r);
        }
        let set = |f: &dyn Fn(&Key) -> String| -> Vec<String> {
            let s: BTreeSet<String> = points.keys().map(f).collect();
            s.into_iter().collect()
        };
        let hosts = set(&|k| k.host.clone());
        let mut schemes: Vec<String> = Vec::new();
        for r in &measured {
            if !schemes.contains(&r.label()) {
                schemes.push(r.label());
            }
        }
        let (skews, threads, churn) = axes(&points);
        let mut cores_of_host: BTreeMap<String, usize> = BTreeMap::new();
        for m in metas.iter().filter_map(|m| Some((&m.host, m.cores?))) {
            let c = cores_of_host.entry(m.0.clone()).or_insert(m.1);
            *c = (*c).max(m.1);
        }
        let mut data = Data {
            rows,
            stalled,
            measured,
            points,
            setup,
            host_of,
            cores_of_host,
            hosts,
            schemes,
            threads,
            churn,
            skews,
            cores: None,
            canaries: &[],
            canary_threshold: metas
                .iter()
                .find_map(|m| m.params.canary.as_ref().map(|c| c.threshold)),
        };
        data.cores = data.hosts.iter().filter_map(|o| data.cores_of(o)).min();
        data
    }

    /// The same data with the sweeps' canary timelines.
    pub fn with_canaries(self, canaries: &'a [Canary]) -> Data<'a> {
        Data { canaries, ..self }
    }

    /// The ratio to its median below which a sweep's canary marks a slow
    /// period, from the first metadata that gives it.
    pub fn canary_threshold(&self) -> Option<f64> {
        self.canary_threshold
    }

    /// The canary runs of the sweeps, in the order read.
    pub fn canaries(&self) -> &'a [Canary] {
        self.canaries
    }

    /// The CPUs of the machine behind an origin, from its metadata (None where
    /// there is none, or it does not give them).
    pub fn cores_of(&self, origin: &str) -> Option<usize> {
        self.host_of
            .get(origin)
            .and_then(|h| self.cores_of_host.get(h))
            .copied()
    }

    /// The host behind an origin (the origin itself if it is unknown).
    pub fn host_of<'o>(&'o self, origin: &'o str) -> &'o str {
        self.host_of.get(origin).map_or(origin, String::as_str)
    }

    /// Every row read, measurements or not.
    pub fn rows(&self) -> &[Row] {
        self.rows
    }

    /// Append each origin's findings (`f` writes them) to `out`, each prefixed
    /// with "On <origin>: " when the rows come from several.
    pub fn per_host(&self, out: &mut Vec<String>, mut f: impl FnMut(&str, &mut Vec<String>)) {
        for host in &self.hosts {
            let first = out.len();
            f(host, out);
            if self.hosts.len() > 1 {
                for s in &mut out[first..] {
                    s.insert_str(0, &format!("On {host}: "));
                }
            }
        }
    }

    /// The rows that are measurements: those the points are made of.
    pub fn measured(&self) -> &[&'a Row] {
        &self.measured
    }

    /// The rows that are not measurements, kept out of every figure.
    pub fn left_out(&self) -> impl Iterator<Item = &'a Row> + '_ {
        self.rows.iter().filter(|r| !r.is_measurement())
    }

    /// The rows of one point (`host` is an origin of `hosts`).
    pub fn at(&self, host: &str, skew: &str, churn: u64, threads: usize, scheme: &str) -> &[&Row] {
        let Some(setup) = self.setup.get(&(host.to_string(), scheme.to_string())) else {
            return &[];
        };
        let key = Key {
            host: host.into(),
            setup: setup.clone(),
            skew: skew.into(),
            churn_milli: churn,
            threads,
            scheme: scheme.into(),
        };
        self.points.get(&key).map_or(&[], Vec::as_slice)
    }

    /// Every point with its rows.
    pub fn points(&self) -> impl Iterator<Item = (&Key, &Vec<&'a Row>)> {
        self.points.iter()
    }

    /// The label of a series: the scheme (`linux (real kernel)` for the real
    /// kernel), and ` @ host` when the rows come from several machines. The
    /// setup of an origin is not in the label: figures are drawn per setup
    /// ([`Data::setup_groups`]) and tables per origin.
    pub fn label(&self, host: &str, scheme: &str) -> String {
        let name = if scheme == "linux" {
            "linux (real kernel)".to_string()
        } else {
            scheme.to_string()
        };
        let machines: BTreeSet<&str> = self.hosts.iter().map(|o| self.host_of(o)).collect();
        if machines.len() > 1 {
            format!("{name} @ {}", self.host_of(host))
        } else {
            name
        }
    }

    /// The origins in groups that ran one setup, each drawn as its own set of
    /// figures: (what the group's setup is, its origins). An origin that is a
    /// host alone (the host ran one setup per scheme) is in the group named
    /// ""; a host's origins with several setups are a group each, and an
    /// origin of the real kernel alone joins the group whose setup is its own
    /// but the address spaces (the kernel always has one), so that the same
    /// setup of several machines, and the real kernel beside the models, share
    /// figures.
    pub fn setup_groups(&self) -> Vec<(String, Vec<String>)> {
        let describe = |o: &str| {
            let host = self.host_of(o);
            o.strip_prefix(host)
                .map(str::trim)
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or("")
                .to_string()
        };
        let but_mms = |k: &str| k.split_once(" mms, ").map_or(k, |(_, r)| r).to_string();
        let kernel_only = |o: &str| {
            self.setup
                .keys()
                .filter(|(x, _)| x == o)
                .all(|(_, s)| s == "linux")
        };
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let (kernels, models): (Vec<&String>, Vec<&String>) =
            self.hosts.iter().partition(|o| kernel_only(o));
        for o in models {
            let key = describe(o);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, os)) => os.push(o.clone()),
                None => groups.push((key, vec![o.clone()])),
            }
        }
        for o in kernels {
            let key = describe(o);
            match groups
                .iter_mut()
                .find(|(k, _)| *k == key || but_mms(k) == but_mms(&key))
            {
                Some((_, os)) => os.push(o.clone()),
                None => groups.push((key, vec![o.clone()])),
            }
        }
        groups
    }

    /// The same data restricted to `origins` (their points, schemes and axes;
    /// every row, the stalled runs and the canaries kept).
    pub fn only(&self, origins: &[String]) -> Data<'a> {
        let points: BTreeMap<Key, Vec<&'a Row>> = self
            .points
            .iter()
            .filter(|(k, _)| origins.contains(&k.host))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let schemes = self
            .schemes
            .iter()
            .filter(|s| points.keys().any(|k| k.scheme == **s))
            .cloned()
            .collect();
        let (skews, threads, churn) = axes(&points);
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| origins.contains(h))
            .cloned()
            .collect();
        let mut data = Data {
            rows: self.rows,
            stalled: self.stalled.clone(),
            measured: self.measured.clone(),
            points,
            setup: self
                .setup
                .iter()
                .filter(|((o, _), _)| origins.contains(o))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            host_of: self.host_of.clone(),
            cores_of_host: self.cores_of_host.clone(),
            hosts,
            schemes,
            threads,
            churn,
            skews,
            cores: None,
            canaries: self.canaries,
            canary_threshold: self.canary_threshold,
        };
        data.cores = data.hosts.iter().filter_map(|o| data.cores_of(o)).min();
        data
    }

    /// The largest thread count not above the cores (the busiest point that is
    /// not oversubscribed), or the smallest (also where the cores are unknown).
    pub fn threads_at_cores(&self) -> usize {
        self.threads
            .iter()
            .copied()
            .filter(|&t| self.cores.is_some_and(|c| t <= c))
            .max()
            .or_else(|| self.threads.first().copied())
            .unwrap_or(1)
    }
}

/// Percent, without trailing zeros.
pub fn churn_label(milli: u64) -> String {
    format!("{}%", milli as f64 / 1000.0)
}

/// A number in a short form (1.5M, 320k, 12.5, 0.003).
pub fn format_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.3}M", v / 1e6).replace(".000M", "M")
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3).replace(".0k", "k")
    } else if a >= 1.0 || a == 0.0 {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
        no_faults.faults = 0;
        no_faults.lock_abort = Some(3);
        assert_eq!(per_fault(no_faults.lock_abort, &no_faults), None);
        no_faults.faults = 6;
        assert_eq!(per_fault(no_faults.lock_abort, &no_faults), Some(0.5));
        assert_eq!(per_fault(None, &no_faults), None);
    }

    /// Rows that differ in one parameter of the work each are never pooled as
    /// repetitions of one point, in `points` or in `Data`.
    #[test]
    fn rows_differing_in_one_parameter_are_different_points() {
        let base = Row {
            requested_s: Some(0.4),
            duration_s: 0.4,
            warmup_s: 0.05,
            seize_batch: 32,
            qsbr_every: 16,
            ..Row::example("typesafe", 2, 10.0)
        };
        type Edit = fn(&mut Row);
        let edits: [(&str, Edit); 13] = [
            ("exits", |r| r.exits_pct = 1.0),
            ("changes", |r| r.changes_pct = 1.0),
            ("forks", |r| r.forks_pct = 1.0),
            ("warm-up", |r| r.warmup_s = 0.1),
            ("requested time", |r| r.requested_s = Some(1.0)),
            ("requested faults", |r| {
                r.requested_s = None;
                r.requested_faults = Some(1000);
            }),
            ("churn kind", |r| r.churn_kind = "unmap-map".into()),
            ("fault work", |r| r.fault_work = "page".into()),
            ("seize batch", |r| r.seize_batch = 64),
            ("qsbr every", |r| r.qsbr_every = 1),
            ("widen", |r| r.widen = 1),
            ("mms", |r| r.mms = 2),
            ("slots", |r| r.slots = 8),
        ];
        for (what, edit) in edits {
            let mut other = Row {
                run_id: "other".into(),
                ..base.clone()
            };
            edit(&mut other);
            let rows = [base.clone(), other];
            assert_eq!(points(&rows).len(), 2, "{what} pooled by points()");
            let d = Data::new(&rows, &[]);
            assert_eq!(d.points().count(), 2, "{what} pooled in Data");
            // Each series shows one row; the host's two origins say how they differ.
            assert_eq!(d.hosts.len(), 2, "{what}: {:?}", d.hosts);
            for h in &d.hosts {
                assert_eq!(d.at(h, "uniform", 10_000, 2, "typesafe").len(), 1, "{what}");
            }
        }
        // The same parameters: two repetitions of one point.
        let again = Row {
            run_id: "again".into(),
            rep: 1,
            seed: 2,
            ..base.clone()
        };
        let rows = [base, again];
        assert_eq!(
            points(&rows).values().map(Vec::len).collect::<Vec<_>>(),
            [2]
        );
    }

    /// Rows that are not measurements are in no point, axis or series.
    #[test]
    fn rows_that_are_not_measurements_are_left_out() {
        let good = row("a", "typesafe", 2, 1, 10.0);
        let absent = Row {
            threads: 4,
            joined: 3,
            valid: false,
            ..row("a", "typesafe", 2, 4, 20.0)
        };
        let empty = Row {
            faults: 0,
            faults_per_sec: 0.0,
            valid: false,
            ..row("a", "leak", 2, 1, 0.0)
        };
        let rows = [good.clone(), absent, empty];
        let d = Data::new(&rows, &[]);
        assert_eq!(d.measured(), [&good]);
        assert_eq!(d.left_out().count(), 2);
        assert_eq!(
            (d.threads.clone(), d.schemes.clone()),
            (vec![1], vec!["typesafe".to_string()])
        );
        assert_eq!(points(&rows).len(), 1);
        assert_eq!(d.rows().len(), 3);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(format_number(1_500_000.0), "1.500M");
        assert_eq!(format_number(2_000_000.0), "2M");
        assert_eq!(format_number(320_000.0), "320k");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(0.003), "3.0e-3");
    }

    fn row(host: &str, scheme: &str, mms: usize, threads: usize, fps: f64) -> Row {
        Row {
            host: host.into(),
            mms,
            faults_per_sec: fps,
            ..Row::example(scheme, threads, 10.0)
        }
    }

    /// Rows of two hosts at 10% churn: host a ran typesafe with two setups (2
    /// and 8 mms) and linux; host b ran typesafe at 1 and 4 threads.
    pub(crate) fn two_hosts() -> [Row; 5] {
        [
            row("a", "typesafe", 2, 1, 10.0),
            row("a", "typesafe", 8, 1, 20.0),
            row("a", "linux", 1, 1, 5.0),
            row("b", "typesafe", 2, 1, 30.0),
            row("b", "typesafe", 2, 4, 40.0),
        ]
    }

    /// Metadata saying `host` has `cores` CPUs.
    pub(crate) fn meta(host: &str, cores: usize) -> Meta {
        Meta {
            host: host.into(),
            cores: Some(cores),
            ..Meta::default()
        }
    }

    #[test]
    fn setups_and_hosts_are_told_apart_and_labelled() {
        let rows = two_hosts();
        let d = Data::new(&rows, &[]);
        // Host a ran typesafe with two setups: its origins carry them.
        assert_eq!(
            d.hosts,
            [
                "a [1 mms, 1 slots]",
                "a [2 mms, 1 slots]",
                "a [8 mms, 1 slots]",
                "b"
            ]
        );
        let fps = |o: &str, t: usize, s: &str| {
            d.at(o, "uniform", 10_000, t, s)
                .iter()
                .map(|r| r.faults_per_sec)
                .collect::<Vec<_>>()
        };
        assert_eq!(fps("a [2 mms, 1 slots]", 1, "typesafe"), [10.0]);
        assert_eq!(fps("a [8 mms, 1 slots]", 1, "typesafe"), [20.0]);
        assert_eq!(fps("b", 4, "typesafe"), [40.0]);
        assert!(fps("b", 1, "linux").is_empty());
        assert_eq!(d.label("b", "typesafe"), "typesafe @ b");
        assert_eq!(
            d.label("a [1 mms, 1 slots]", "linux"),
            "linux (real kernel) @ a"
        );
        // Figures per setup: host a's model setups a group each, its real
        // kernel beside the first whose setup is the same but the address
        // spaces; b, a host alone, in the group "".
        let group = |k: &str, os: &[&str]| {
            (
                k.to_string(),
                os.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            d.setup_groups(),
            [
                group(
                    "2 mms, 1 slots",
                    &["a [2 mms, 1 slots]", "a [1 mms, 1 slots]"]
                ),
                group("8 mms, 1 slots", &["a [8 mms, 1 slots]"]),
                group("", &["b"]),
            ]
        );
        let only_b = d.only(&["b".to_string()]);
        assert_eq!(only_b.schemes, ["typesafe"]);
        assert_eq!(only_b.threads, [1, 4]);
        assert_eq!(only_b.label("b", "typesafe"), "typesafe");
        assert_eq!(d.schemes, ["typesafe", "linux"]);
        assert_eq!(d.threads, [1, 4]);

        // Cores come from each host's metadata.
        let d = Data::new(&rows, &[meta("a", 4), meta("b", 2)]);
        assert_eq!(
            (d.cores_of("a [8 mms, 1 slots]"), d.cores_of("b")),
            (Some(4), Some(2))
        );
        assert_eq!(d.cores, Some(2));
        // Only metadata gives cores: b has none here, a has 4; with none at
        // all, the busiest point not oversubscribed is unknown: the smallest.
        let d = Data::new(&rows, &[meta("a", 4)]);
        assert_eq!((d.cores_of("b"), d.cores), (None, Some(4)));
        assert_eq!(d.threads_at_cores(), 4);
        let d = Data::new(&rows, &[]);
        assert_eq!((d.cores_of("b"), d.cores), (None, None));
        assert_eq!(d.threads_at_cores(), 1);
        assert_eq!(d.host_of("a [8 mms, 1 slots]"), "a");

        // Schemes in the order the rows first name them.
        let linux_first = [rows[2].clone(), rows[0].clone()];
        assert_eq!(Data::new(&linux_first, &[]).schemes, ["linux", "typesafe"]);

        let one = Data::new(&rows[3..], &[]);
        assert_eq!(one.label("b", "linux"), "linux (real kernel)");
        assert_eq!(one.label("b", "typesafe"), "typesafe");
    }
}
