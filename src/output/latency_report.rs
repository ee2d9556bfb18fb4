//! The report's latency and stalled-reader parts: findings computed from the
//! rows' latency and stall columns, a latency table, and a table of what a
//! stalled reader held up per scheme.

use std::fmt::Write as _;

use crate::output::row::Row;
use crate::output::stats::{churn_label, format_number, summarize, Data, Summary};

/// Median of `f` over the rows of one point.
fn median(
    d: &Data<'_>,
    host: &str,
    skew: &str,
    churn: u64,
    t: usize,
    scheme: &str,
    f: impl Fn(&Row) -> Option<f64>,
) -> Option<f64> {
    summarize(d.at(host, skew, churn, t, scheme), f).map(|s| s.median)
}

fn p999(r: &Row) -> Option<f64> {
    r.fault_p999_ns.map(|v| v as f64)
}

/// Nanoseconds in a short form with a unit (850 ns, 12.3 µs, 4.1 ms).
pub fn ns_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

/// Bytes in a short form (512 B, 3.2 KiB, 41.0 MiB).
pub fn bytes_label(v: f64) -> String {
    if v >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", v / 1024.0 / 1024.0)
    } else if v >= 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{v:.0} B")
    }
}

/// The findings about latency and the stalled reader (a sentence whose
/// numbers are missing is left out).
pub fn findings(d: &Data<'_>) -> Vec<String> {
    let mut out = Vec::new();
    d.per_host(&mut out, |host, out| tail_findings(d, host, out));
    out.extend(stall_findings(d));
    out
}

/// Which scheme's fault tail grows with churn, and where rwlock's readers
/// wait behind writers.
fn tail_findings(d: &Data<'_>, host: &str, out: &mut Vec<String>) {
    let Some(skew) = d.skews.first() else {
        return;
    };
    let t = d.threads_at_cores();
    let Some(top) = d.churn.last().copied().filter(|&c| c > 0) else {
        return;
    };
    if !d.churn.contains(&0) {
        return;
    }
    let plural = if t == 1 { "" } else { "s" };
    let mut growth: Vec<(String, f64, f64)> = d
        .schemes
        .iter()
        .filter_map(|s| {
            let a = median(d, host, skew, 0, t, s, p999)?;
            let b = median(d, host, skew, top, t, s, p999)?;
            (a > 0.0).then(|| (s.clone(), a, b))
        })
        .collect();
    if growth.len() >= 2 {
        growth.sort_by(|x, y| (x.2 / x.1).total_cmp(&(y.2 / y.1)).reverse());
        let parts: Vec<String> = growth
            .iter()
            .map(|(s, a, b)| format!("{s} {} -> {} ({:.1}x)", ns_label(*a), ns_label(*b), b / a))
            .collect();
        let (most, least) = (&growth[0], &growth[growth.len() - 1]);
        out.push(format!(
            "Fault p99.9 at {t} thread{plural}, {skew} skew, from 0% to {} churn (medians over \
             repetitions): {}. The tail grows most for {} ({:.1}x) and least for {} ({:.1}x).",
            churn_label(top),
            parts.join(", "),
            most.0,
            most.2 / most.1,
            least.0,
            least.2 / least.1
        ));
    }
    let rw = |c: u64, f: fn(&Row) -> Option<u64>| {
        median(d, host, skew, c, t, "rwlock", |r| f(r).map(|v| v as f64))
    };
    if let (Some(p0), Some(p), Some(max), Some(w50)) = (
        rw(0, |r| r.fault_p999_ns),
        rw(top, |r| r.fault_p999_ns),
        rw(top, |r| r.fault_max_ns),
        rw(top, |r| r.writer_p50_ns),
    ) {
        let others: Vec<f64> = d
            .schemes
            .iter()
            .filter(|s| *s != "rwlock" && *s != "linux" && *s != "leak")
            .filter_map(|s| median(d, host, skew, top, t, s, p999))
            .collect();
        let verdict = if max >= w50 {
            "rwlock's readers wait behind writers: its longest fault is at least a writer's \
             median hold of mmap_lock, as a fault that finds mmap_lock held for write waits out \
             the writer"
        } else {
            "no rwlock fault waited as long as a writer's median hold of mmap_lock"
        };
        out.push(format!(
            "rwlock at {} churn and {t} thread{plural}: fault p99.9 {} (against {} without churn), \
             longest fault {}, writers' median hold of mmap_lock {}{}: {verdict}.",
            churn_label(top),
            ns_label(p),
            ns_label(p0),
            ns_label(max),
            ns_label(w50),
            Summary::of(others).map_or(String::new(), |s| format!(
                "; the per-VMA schemes' fault p99.9 is {} to {}",
                ns_label(s.min),
                ns_label(s.max)
            ))
        ));
    }
    let writers: Vec<String> = d
        .schemes
        .iter()
        .filter_map(|s| {
            let v = median(d, host, skew, top, t, s, |r| {
                r.writer_p99_ns.map(|v| v as f64)
            })?;
            Some(format!("{s} {}", ns_label(v)))
        })
        .collect();
    if !writers.is_empty() {
        out.push(format!(
            "Writer p99 (mmap_lock held for write, waiting for readers and the free path \
             included) at {} churn and {t} thread{plural}: {}.",
            churn_label(top),
            writers.join(", ")
        ));
    }
}

/// The stalled runs at the point the report shows (most threads, then highest
/// churn), grouped by churn kind then scheme, in file order.
fn stalled_groups<'a>(d: &Data<'a>) -> Vec<(String, String, Vec<&'a Row>)> {
    let Some(point) = d
        .stalled
        .iter()
        .map(|r| (r.threads, (r.churn_pct * 1000.0).round() as u64))
        .max()
    else {
        return Vec::new();
    };
    let mut groups: Vec<(String, String, Vec<&Row>)> = Vec::new();
    for r in d
        .stalled
        .iter()
        .filter(|r| (r.threads, (r.churn_pct * 1000.0).round() as u64) == point)
    {
        let key = (r.churn_kind.clone(), r.label());
        match groups.iter_mut().find(|g| (&g.0, &g.1) == (&key.0, &key.1)) {
            Some(g) => g.2.push(r),
            None => groups.push((key.0, key.1, vec![r])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
}

/// Each scheme's peak bytes and growth per ms of stall, and who waited.
fn stall_findings(d: &Data<'_>) -> Vec<String> {
    let groups = stalled_groups(d);
    let Some(first) = groups.first().and_then(|g| g.2.first()) else {
        return Vec::new();
    };
    let med = |rows: &[&Row], f: &dyn Fn(&Row) -> Option<f64>| {
        Summary::of(rows.iter().filter_map(|r| f(r))).map(|s| s.median)
    };
    let mut out = Vec::new();
    let mut kinds: Vec<&str> = groups.iter().map(|g| g.0.as_str()).collect();
    kinds.dedup();
    for kind in kinds {
        let parts: Vec<String> = groups
            .iter()
            .filter(|g| g.0 == kind)
            .filter_map(|(_, s, rows)| {
                let peak = med(rows, &|r| r.peak_waiting_bytes.map(|v| v as f64))?;
                let growth = med(rows, &|r| r.stall_growth_bytes_per_ms);
                Some(format!(
                    "{s} {}{}",
                    bytes_label(peak),
                    growth.map_or(String::new(), |g| format!(
                        " ({}/ms)",
                        bytes_label(g.max(0.0))
                    ))
                ))
            })
            .collect();
        if parts.is_empty() {
            continue;
        }
        out.push(format!(
            "A reader parked {} ms every {} ms inside its read section ({} threads, {}% {kind} \
             churn): peak bytes waiting to be reclaimed (median of repetitions), with their \
             growth per ms of stall: {}.",
            first.stall_ms.map_or("?".into(), format_number),
            first.stall_every_ms.map_or("?".into(), format_number),
            first.threads,
            first.churn_pct,
            parts.join(", ")
        ));
        let vmas: Vec<&str> = groups
            .iter()
            .filter(|g| g.0 == kind && g.1.starts_with("typesafe"))
            .filter(|g| med(&g.2, &|r| r.peak_waiting_vmas.map(|v| v as f64)) == Some(0.0))
            .map(|g| g.1.as_str())
            .collect();
        if !vmas.is_empty() {
            out.push(format!(
                "Under {kind} churn no VMA of {} ever waited while the reader was parked \
                 (typesafe reuse frees VMAs at once; what waits is the index nodes and slabs the \
                 grace period holds).",
                vmas.join(", ")
            ));
        }
        let waits: Vec<(String, f64)> = groups
            .iter()
            .filter(|g| g.0 == kind)
            .filter_map(|(_, s, rows)| {
                Some((
                    s.clone(),
                    med(rows, &|r| r.writer_wait_max_ns.map(|v| v as f64))?,
                ))
            })
            .collect();
        if let Some(rw) = waits.iter().find(|w| w.0 == "rwlock") {
            let others = Summary::of(waits.iter().filter(|w| w.0 != "rwlock").map(|w| w.1));
            out.push(format!(
                "Writers under {kind} churn: rwlock's longest wait for mmap_lock is {} (its parked \
                 reader holds mmap_lock for read){}.",
                ns_label(rw.1),
                others.map_or(String::new(), |o| format!(
                    "; the other schemes' longest waits are {} to {}{}",
                    ns_label(o.min),
                    ns_label(o.max),
                    if o.max < rw.1 / 2.0 {
                        ", well below it: their writers do not wait for a parked reader"
                    } else {
                        ", not far below it: on this machine other writers' holds (or \
                         preemption of a lock holder) cost as much"
                    }
                ))
            ));
        }
    }
    out
}

/// A table per skew: fault p99 and p99.9 and writer p99 per scheme and churn
/// rate at the threads of the findings.
pub fn latency_table(d: &Data<'_>) -> String {
    let mut s = String::new();
    let t = d.threads_at_cores();
    let esc = |x: &str| {
        x.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    for host in &d.hosts {
        for skew in &d.skews {
            let _ = write!(
                s,
                "<h3>{}latency at {t} thread{}, {} skew (medians over repetitions)</h3>\
                 <table><tr><th>scheme</th>",
                if d.hosts.len() > 1 {
                    format!("{} - ", esc(host))
                } else {
                    String::new()
                },
                if t == 1 { "" } else { "s" },
                esc(skew)
            );
            for &c in &d.churn {
                let _ = write!(
                    s,
                    "<th>churn {0}: fault p99 / p99.9</th><th>churn {0}: writer p99</th>",
                    churn_label(c)
                );
            }
            s.push_str("</tr>");
            for scheme in &d.schemes {
                let mut cells = String::new();
                let mut any = false;
                for &c in &d.churn {
                    let m = |f: fn(&Row) -> Option<u64>| {
                        median(d, host, skew, c, t, scheme, |r| f(r).map(|v| v as f64))
                    };
                    let (p99, p999, w99) = (
                        m(|r| r.fault_p99_ns),
                        m(|r| r.fault_p999_ns),
                        m(|r| r.writer_p99_ns),
                    );
                    any |= p99.is_some();
                    let show = |v: Option<f64>| v.map_or("-".into(), ns_label);
                    let _ = write!(
                        cells,
                        "<td>{} / {}</td><td>{}</td>",
                        show(p99),
                        show(p999),
                        show(w99)
                    );
                }
                if any {
                    let _ = write!(
                        s,
                        "<tr><td>{}</td>{cells}</tr>",
                        esc(&d.label(host, scheme))
                    );
                }
            }
            s.push_str("</table>");
        }
    }
    s
}

/// The stalled runs: per churn kind and scheme, the medians of peak bytes (and
/// objects) waiting, growth per ms of stall and the longest writer wait.
pub fn stall_table(d: &Data<'_>) -> String {
    let groups = stalled_groups(d);
    if groups.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "<table><tr><th>scheme</th><th>churn kind</th><th>runs</th><th>peak bytes waiting</th>\
         <th>peak VMAs / nodes / slabs</th><th>growth per ms of stall</th>\
         <th>longest writer wait for mmap_lock</th><th>parks</th></tr>",
    );
    for (kind, scheme, rows) in &groups {
        let med = |f: &dyn Fn(&Row) -> Option<f64>| {
            Summary::of(rows.iter().filter_map(|r| f(r))).map(|x| x.median)
        };
        let count = |f: fn(&Row) -> Option<u64>| {
            med(&|r| f(r).map(|v| v as f64)).map_or("-".into(), format_number)
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {} / {}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            scheme,
            kind,
            rows.len(),
            med(&|r| r.peak_waiting_bytes.map(|v| v as f64)).map_or("-".into(), bytes_label),
            count(|r| r.peak_waiting_vmas),
            count(|r| r.peak_waiting_nodes),
            count(|r| r.peak_waiting_slabs),
            med(&|r| r.stall_growth_bytes_per_ms)
                .map_or("-".into(), |g| format!("{}/ms", bytes_label(g.max(0.0)))),
            med(&|r| r.writer_wait_max_ns.map(|v| v as f64)).map_or("-".into(), ns_label),
            count(|r| r.stalls),
        );
    }
    s.push_str("</table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scheme: &str, churn: f64, p999: u64, max: u64, w50: u64) -> Row {
        Row {
            faults: 1000,
            fault_p99_ns: Some(p999 / 2),
            fault_p999_ns: Some(p999),
            fault_max_ns: Some(max),
            writer_p50_ns: (churn > 0.0).then_some(w50),
            writer_p99_ns: (churn > 0.0).then_some(2 * w50),
            ..Row::example(scheme, 2, churn)
        }
    }

    fn stalled(scheme: &str, peak: u64, vmas: u64, growth: f64, wait: u64) -> Row {
        Row {
            run_id: format!("s-{scheme}"),
            faults: 1000,
            stall_ms: Some(10.0),
            stall_every_ms: Some(100.0),
            stalls: Some(3),
            peak_waiting_bytes: Some(peak),
            peak_waiting_vmas: Some(vmas),
            stall_growth_bytes_per_ms: Some(growth),
            writer_wait_max_ns: Some(wait),
            ..Row::example(scheme, 2, 10.0)
        }
    }

    #[test]
    fn latency_findings_come_from_the_columns() {
        let rows = vec![
            row("typesafe", 0.0, 100, 500, 0),
            row("typesafe", 10.0, 150, 900, 300),
            row("rwlock", 0.0, 80, 400, 0),
            row("rwlock", 10.0, 800, 20_000, 400),
            stalled("deferred", 4 << 20, 100, 2048.0, 200),
            stalled("typesafe", 1 << 20, 0, 0.0, 300),
            stalled("rwlock", 0, 0, 0.0, 10_000_000),
        ];
        let d = Data::new(&rows, &[]);
        // Stalled runs are in no point.
        assert_eq!(d.schemes, ["typesafe", "rwlock"]);
        assert_eq!(d.stalled.len(), 3);
        let f = findings(&d);
        let has = |s: &str| f.iter().any(|x| x.contains(s));
        // typesafe 100 -> 150 (1.5x), rwlock 80 -> 800 (10x).
        assert!(
            has("rwlock 80 ns -> 800 ns (10.0x), typesafe 100 ns -> 150 ns (1.5x)"),
            "{f:?}"
        );
        assert!(
            has("grows most for rwlock (10.0x) and least for typesafe (1.5x)"),
            "{f:?}"
        );
        // rwlock's longest fault (20 µs) outlasts its writers' median hold (400 ns).
        assert!(
            has("longest fault 20.0 µs, writers' median hold of mmap_lock 400 ns"),
            "{f:?}"
        );
        assert!(has("rwlock's readers wait behind writers"), "{f:?}");
        assert!(has("Writer p99 (mmap_lock held"), "{f:?}");
        assert!(
            has("deferred 4.0 MiB (2.0 KiB/ms), typesafe 1.0 MiB (0 B/ms), rwlock 0 B"),
            "{f:?}"
        );
        assert!(has("no VMA of typesafe ever waited"), "{f:?}");
        assert!(
            has("rwlock's longest wait for mmap_lock is 10.0 ms"),
            "{f:?}"
        );
        assert!(
            has("longest waits are 200 ns to 300 ns, well below it"),
            "{f:?}"
        );
        let table = stall_table(&d);
        assert_eq!(table.matches("<tr>").count(), 4, "{table}");
        assert!(latency_table(&d).contains("<td>75 ns / 150 ns</td><td>600 ns</td>"));
    }
}
