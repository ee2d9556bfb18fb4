//! The HTML report: one self-contained file (`index.html`, plots inline) with the
//! metadata, a summary table per skew and churn rate, and sentences that state
//! the main findings, each computed from the rows.

use std::fmt::Write as _;

use crate::output::meta::Meta;
use crate::output::row::Row;
use crate::output::stats::{churn_label, faults_per_sec, format_number, summarize, Data, Summary};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Median faults/s of one point.
fn median_fps(d: &Data<'_>, host: &str, skew: &str, churn: u64, t: usize, s: &str) -> Option<f64> {
    summarize(d.at(host, skew, churn, t, s), faults_per_sec).map(|x| x.median)
}

/// Median of `f` over every row of a scheme at one churn rate (all threads).
fn median_over(
    d: &Data<'_>,
    host: &str,
    skew: &str,
    churn: u64,
    s: &str,
    f: impl Fn(&Row) -> Option<f64>,
) -> Option<Summary> {
    let rows: Vec<&Row> = d
        .threads
        .iter()
        .flat_map(|&t| d.at(host, skew, churn, t, s).iter().copied())
        .collect();
    summarize(&rows, f)
}

/// `s` for a count other than 1.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Up to three run ids of `rows`, then how many more.
fn some_ids(rows: &[&Row]) -> String {
    let mut ids: Vec<String> = rows.iter().take(3).map(|r| r.run_id.clone()).collect();
    if rows.len() > 3 {
        ids.push(format!("{} more", rows.len() - 3));
    }
    ids.join(", ")
}

/// The sentence saying which rows are not measurements and were kept out of
/// every figure and finding (None if there are none).
pub fn left_out_note(d: &Data<'_>) -> Option<String> {
    let left: Vec<&Row> = d.left_out().collect();
    if left.is_empty() {
        return None;
    }
    let (absent, empty): (Vec<&Row>, Vec<&Row>) = left.iter().partition(|r| r.joined < r.threads);
    let mut why = Vec::new();
    if !absent.is_empty() {
        why.push(format!(
            "{} in which some worker never took part in the measured phase ({})",
            absent.len(),
            some_ids(&absent)
        ));
    }
    if !empty.is_empty() {
        why.push(format!(
            "{} that served no faults ({})",
            empty.len(),
            some_ids(&empty)
        ));
    }
    Some(format!(
        "{} run{} left out of every figure and finding, not being measurements: {}.",
        left.len(),
        plural(left.len()),
        why.join("; ")
    ))
}

/// The findings, as sentences computed from the measurements (a sentence whose
/// numbers are missing is left out). Wrong answers are counted in every row,
/// measurement or not: a wrong answer is never dropped.
pub fn findings(d: &Data<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let rows = d.rows();
    let measured = d.measured();
    let wrong: u64 = rows.iter().map(|r| r.wrong).sum();
    let bad: Vec<&Row> = rows.iter().filter(|r| r.wrong > 0).collect();
    if wrong == 0 && measured.is_empty() {
        out.push(
            "No run measured anything: no row has every worker in the measured phase and \
             faults served, so no run can be said to have answered correctly."
                .into(),
        );
    } else if wrong == 0 {
        out.push(format!(
            "Every one of the {} measured runs answered correctly: wrong = 0 in every row, \
             and every one served faults.",
            measured.len()
        ));
    } else {
        let mut names: Vec<&str> = bad.iter().map(|r| r.scheme.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        out.push(format!(
            "{wrong} wrong answers in {} of {} runs, from: {}.",
            bad.len(),
            rows.len(),
            names.join(", ")
        ));
    }
    out.extend(left_out_note(d));
    let overran: Vec<&Row> = measured.iter().copied().filter(|r| r.overran).collect();
    if !overran.is_empty() {
        out.push(format!(
            "{} run{} measured more than twice the time requested (a busy machine): kept, \
             flagged overran ({}).",
            overran.len(),
            plural(overran.len()),
            some_ids(&overran)
        ));
    }
    let slow: Vec<&Row> = measured.iter().copied().filter(|r| r.slow).collect();
    if !slow.is_empty() {
        out.push(format!(
            "{} run{} fell in a slow period of the machine even after being run again (canary \
             ratio below the sweep's threshold): kept, flagged slow ({}).",
            slow.len(),
            plural(slow.len()),
            some_ids(&slow)
        ));
    }
    let retried = measured.iter().filter(|r| r.attempt > 0).count();
    if retried > 0 {
        out.push(format!(
            "{retried} run{} counted from a later attempt: the first was not valid or fell in \
             a slow period.",
            plural(retried)
        ));
    }
    out.extend(canary_finding(d));
    for host in &d.hosts {
        let pre = if d.hosts.len() > 1 {
            format!("On {host}: ")
        } else {
            String::new()
        };
        let first = out.len();
        host_findings(d, host, &mut out);
        for f in &mut out[first..] {
            f.insert_str(0, &pre);
        }
    }
    let (mut within, mut over) = (Vec::new(), Vec::new());
    for (k, rs) in d.points() {
        if let Some(s) = summarize(rs, faults_per_sec).filter(|s| s.n > 1) {
            match d.cores_of(&k.host) {
                Some(c) if k.threads <= c => within.push(s.spread()),
                Some(_) => over.push(s.spread()),
                // A machine whose cores are unknown is on neither side.
                None => {}
            }
        }
    }
    out.extend(crate::output::latency_report::findings(d));
    let med = |v: Vec<f64>| Summary::of(v).map(|s| s.median * 100.0);
    if let Some(w) = med(within) {
        out.push(format!(
            "Run-to-run spread, (max - min) / median over repetitions, median over points: {w:.1}% with \
             threads <= cores{}.",
            med(over).map_or(String::new(), |o| format!(", {o:.1}% oversubscribed"))
        ));
    }
    out
}

/// The canary over the sweeps' timelines: how steady the machine was.
fn canary_finding(d: &Data<'_>) -> Option<String> {
    let canaries = d.canaries();
    let valid: Vec<_> = canaries.iter().filter(|c| c.valid).collect();
    let fps = Summary::of(valid.iter().map(|c| c.faults_per_sec))?;
    let ratios = Summary::of(valid.iter().filter_map(|c| c.ratio))?;
    Some(format!(
        "Canary runs, the machine's speed over the sweep{}: {} runs, median {:.2} M faults/s; \
         each over its sweep's median ranges {:.2} to {:.2}{}.",
        if d.hosts.len() > 1 { "s" } else { "" },
        fps.n,
        fps.median / 1e6,
        ratios.min,
        ratios.max,
        if valid.len() < canaries.len() {
            format!(" ({} not valid)", canaries.len() - valid.len())
        } else {
            String::new()
        }
    ))
}

/// The typesafe and deferred labels over the same flavour (the first flavour
/// both were run over; `typesafe` and `deferred` alone where rows name none).
fn pair(d: &Data<'_>) -> (String, String) {
    d.schemes
        .iter()
        .filter_map(|s| s.strip_prefix("typesafe"))
        .find(|rest| d.schemes.contains(&format!("deferred{rest}")))
        .map_or(("typesafe".into(), "deferred".into()), |rest| {
            (format!("typesafe{rest}"), format!("deferred{rest}"))
        })
}

/// The sentences about one origin's rows.
fn host_findings(d: &Data<'_>, host: &str, out: &mut Vec<String>) {
    let uniform = d.skews.first().map_or("uniform", String::as_str);
    let top = d.churn.last().copied().unwrap_or(0);
    let t = d.threads_at_cores();
    // typesafe and deferred over the same flavour: the kernel after and before
    // the patch.
    let (ts_label, def_label) = pair(d);
    let (ts_label, def_label) = (ts_label.as_str(), def_label.as_str());
    let per_k = |s: &str| {
        summarize(d.at(host, uniform, top, t, s), |r| r.vma_call_rcu_per_unmap)
            .map(|x| x.median * 1000.0)
    };
    if let (Some(ts), Some(rcu), true) = (per_k(ts_label), per_k(def_label), top > 0) {
        out.push(format!(
            "At {} churn and {t} thread{}, {ts_label} made {ts:.0} deferred VMA frees per 1000 \
             unmaps against {def_label}'s {rcu:.0} (medians over repetitions): it saved {:.0} per \
             thousand unmaps.",
            churn_label(top),
            plural(t),
            rcu - ts
        ));
    }
    if let Some(&t1) = d.threads.first() {
        if let Some(leak) = median_fps(d, host, uniform, 0, t1, "leak").filter(|&l| l > 0.0) {
            let parts: Vec<String> = d
                .schemes
                .iter()
                .filter(|s| *s != "leak" && *s != "linux")
                .filter_map(|s| {
                    median_fps(d, host, uniform, 0, t1, s).map(|v| format!("{s} {:.2}x", v / leak))
                })
                .collect();
            if !parts.is_empty() {
                out.push(format!(
                    "Read-only at {t1} thread{}, against leak's {:.2} M faults/s (the no-reclamation \
                     ceiling), medians reach: {}.",
                    plural(t1),
                    leak / 1e6,
                    parts.join(", ")
                ));
            }
        }
    }
    if let (Some(&t1), Some(&c)) = (d.threads.first(), d.churn.iter().find(|&&c| c > 0)) {
        if let (Some(a), Some(b), Some(ts), true) = (
            median_fps(d, host, uniform, c, t1, "rwlock"),
            median_fps(d, host, uniform, c, t, "rwlock"),
            median_fps(d, host, uniform, c, t, ts_label),
            t > t1,
        ) {
            let how = if b < a {
                "The mm-wide lock does not scale"
            } else {
                "The mm-wide lock"
            };
            out.push(format!(
                "{how}: at {} churn rwlock's median goes from {:.2} M faults/s at {t1} thread{} to \
                 {:.2} at {t} threads, where {ts_label} makes {:.2}{}.",
                churn_label(c),
                a / 1e6,
                plural(t1),
                b / 1e6,
                ts / 1e6,
                if b > 0.0 {
                    format!(" ({:.1}x rwlock)", ts / b)
                } else {
                    String::new()
                }
            ));
        }
    }
    if d.skews.iter().any(|s| s == "hot") {
        if let (Some(u), Some(h)) = (
            median_fps(d, host, uniform, 0, t, ts_label).filter(|&u| u > 0.0),
            median_fps(d, host, "hot", 0, t, ts_label),
        ) {
            out.push(format!(
                "Hot skew: read-only {ts_label} at {t} thread{} makes {:.2} M faults/s (median), \
                 {:.2}x its {uniform} {:.2}.",
                plural(t),
                h / 1e6,
                h / u,
                u / 1e6
            ));
        }
    }
    let peak = |s: &str, th: usize| {
        summarize(d.at(host, uniform, top, th, s), |r| {
            r.peak_waiting_bytes.map(|v| v as f64)
        })
        .map(|x| x.median)
    };
    if let (Some(&tmax), true) = (d.threads.last(), top > 0) {
        if tmax > t {
            if let (Some(a), Some(b)) = (peak(def_label, t), peak(def_label, tmax)) {
                let how = if b > a {
                    "Oversubscription delays grace periods"
                } else {
                    "Oversubscription"
                };
                out.push(format!(
                    "{how}: at {} churn the median peak of {def_label}'s bytes waiting to be \
                     reclaimed is {} at {t} thread{} and {} at {tmax}; {ts_label}'s is {}.",
                    churn_label(top),
                    format_number(a),
                    plural(t),
                    format_number(b),
                    peak(ts_label, tmax).map_or("-".into(), format_number)
                ));
            }
        }
    }
    let kernel: Vec<&Row> = d
        .points()
        .filter(|(k, _)| k.host == host && k.scheme == "linux")
        .flat_map(|(_, rs)| rs.iter().copied())
        .collect();
    if let Some(ratio) = Summary::of(
        kernel
            .iter()
            .filter(|r| r.faults > 0)
            .filter_map(|r| r.kernel_minflt.map(|k| k as f64 / r.faults as f64)),
    ) {
        let one = d
            .threads
            .first()
            .and_then(|&t1| Some((t1, median_fps(d, host, uniform, 0, t1, "linux")?)));
        let verdict = if ratio.min >= 1.0 {
            "at least one kernel fault for every harness fault in every run"
        } else {
            "fewer kernel faults than harness faults in some runs"
        };
        out.push(format!(
            "The real kernel (linux, one process = one mm){}: the kernel counted {:.3} to {:.3} minor \
             faults per harness fault over {} runs (median {:.3}): {verdict}.",
            one.map_or(String::new(), |(t1, v)| format!(
                " makes {:.2} M faults/s read-only at {t1} thread{} (median)",
                v / 1e6,
                plural(t1)
            )),
            ratio.min,
            ratio.max,
            ratio.n,
            ratio.median
        ));
    }
}

/// `a, b, c`.
fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn meta_table(m: &Meta) -> String {
    let mut s = String::from("<table class=\"meta\">");
    let mut row = |k: &str, v: String| {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    };
    let p = &m.params;
    row("host", m.host.clone());
    row("results file", m.csv.clone());
    row("git commit", m.git_commit.clone());
    row("rustc", m.rustc.clone());
    row(
        "CPU",
        m.cpu_model.clone().unwrap_or_else(|| "unknown".into()),
    );
    row("cores", m.cores.map_or("unknown".into(), |c| c.to_string()));
    row(
        "kernel",
        format!("{} {}", m.os, m.kernel.clone().unwrap_or_default()),
    );
    row(
        "host vm_area_struct cache",
        m.vm_area_struct
            .as_ref()
            .map_or("not readable".into(), |c| {
                let o = |v: Option<u64>| v.map_or("?".into(), |v| v.to_string());
                format!(
                    "object size {} B, destroy_by_rcu {}, sheaf capacity {}",
                    o(c.object_size),
                    o(c.destroy_by_rcu),
                    o(c.sheaf_capacity)
                )
            }),
    );
    for s in &p.studies {
        row(
            &format!("study {}", s.name),
            format!(
                "schemes {}; rcu {}; threads {}; churn % {}; kinds {}; skews {}; fault work {}",
                s.schemes.join(", "),
                s.rcus.join(", "),
                joined(&s.threads),
                joined(&s.churn_pct),
                s.churn_kinds.join(", "),
                s.skews.join(", "),
                s.fault_works.join(", ")
            ),
        );
    }
    row(
        "repetitions, duration, warm-up",
        format!(
            "{} (interleaved), {} s, {} s",
            p.reps, p.duration_s, p.warmup_s
        ),
    );
    row(
        "address spaces, mappings, seed",
        format!(
            "{} mms (linux: 1), {} mappings each, seed {}",
            p.mms, p.slots, p.seed
        ),
    );
    if let Some(c) = &p.canary {
        row(
            "canary",
            format!(
                "{} read-only at {} thread{}, {} s after {} s of warm-up, before the first run, \
                 every {} runs and after the last; a run whose canary ratio is below {} is run \
                 again ({} attempts at most)",
                c.scheme,
                c.threads,
                plural(c.threads),
                c.duration_s,
                c.warmup_s,
                c.every,
                c.threshold,
                c.attempts
            ),
        );
    }
    row(
        "runs",
        format!(
            "{} of {}{}",
            m.runs_done,
            m.runs_planned,
            if m.interrupted { " (interrupted)" } else { "" }
        ),
    );
    for n in &m.notes {
        row("note", n.clone());
    }
    s.push_str("</table>");
    s
}

fn summary_tables(d: &Data<'_>) -> String {
    let mut s = String::new();
    for host in &d.hosts {
        for skew in &d.skews {
            for &c in &d.churn {
                let _ = write!(
                    s,
                    "<h3>{}churn {}, {} skew</h3><table><tr><th>scheme</th>",
                    if d.hosts.len() > 1 {
                        format!("{} - ", esc(host))
                    } else {
                        String::new()
                    },
                    churn_label(c),
                    esc(skew)
                );
                for t in &d.threads {
                    let _ = write!(s, "<th>{t} threads: median M faults/s (x leak)</th>");
                }
                s.push_str(
                    "<th>free calls / unmap</th><th>wrong</th><th>kernel minflt / fault</th></tr>",
                );
                for scheme in &d.schemes {
                    let mut cells = String::new();
                    let mut any = false;
                    for &t in &d.threads {
                        let v = median_fps(d, host, skew, c, t, scheme);
                        let leak = median_fps(d, host, skew, c, t, "leak");
                        any |= v.is_some();
                        let _ = write!(
                            cells,
                            "<td>{}</td>",
                            match (v, leak) {
                                (Some(v), Some(l)) if l > 0.0 =>
                                    format!("{:.2} ({:.2}x)", v / 1e6, v / l),
                                (Some(v), _) => format!("{:.2}", v / 1e6),
                                _ => "-".into(),
                            }
                        );
                    }
                    if !any {
                        continue;
                    }
                    let free = median_over(d, host, skew, c, scheme, |r| r.vma_call_rcu_per_unmap)
                        .map_or("-".into(), |x| format!("{:.3}", x.median));
                    let wrong: u64 = d
                        .threads
                        .iter()
                        .flat_map(|&t| d.at(host, skew, c, t, scheme).iter())
                        .map(|r| r.wrong)
                        .sum();
                    let minflt = median_over(d, host, skew, c, scheme, |r| {
                        let k = r.kernel_minflt? as f64;
                        (r.faults > 0).then(|| k / r.faults as f64)
                    })
                    .map_or("-".into(), |x| format!("{:.3}", x.median));
                    let _ = write!(
                        s,
                        "<tr><td>{}</td>{cells}<td>{free}</td><td{}>{wrong}</td><td>{minflt}</td></tr>",
                        esc(&d.label(host, scheme)),
                        if wrong > 0 { " class=\"bad\"" } else { "" }
                    );
                }
                s.push_str("</table>");
            }
        }
    }
    s
}

/// The report, `index.html`: one self-contained file with the metadata, a
/// summary table per churn rate and skew, the findings computed from `d`'s
/// rows, the `notes` of reading them, and the drawn `svgs` (file name, SVG
/// text) inlined.
pub fn report_html(
    d: &Data<'_>,
    metas: &[Meta],
    svgs: &[(String, String)],
    notes: &[String],
) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>vma-bench report</title><style>\
         body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}\
         table{border-collapse:collapse;margin:0.5em 0;font-size:13px}\
         td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}\
         th{background:#eee}td:first-child{text-align:left}.meta td{text-align:left}\
         .bad{background:#fbb}figure{margin:1em 0}svg{max-width:100%;height:auto}\
         </style></head><body><h1>vma-bench report</h1>",
    );
    h.push_str(
        "<p>Page-fault VMA lookup (<code>lock_vma_under_rcu</code>) under mmap/munmap churn, per \
         reclamation scheme. Every fault checks its answer; <b>wrong</b> must be 0. \
         <code>linux</code> is the real kernel of the machine: one process is one mm (its rows have \
         mms = 1), and its free calls, reader outcomes and unreclaimed objects are not observable from \
         user space (empty in the CSV, left out of those plots); its <code>kernel_minflt</code> column \
         is the kernel's own count of the faults.</p><h2>Findings</h2><ul>",
    );
    for f in findings(d) {
        let _ = write!(h, "<li>{}</li>", esc(&f));
    }
    h.push_str("</ul>");
    if !notes.is_empty() {
        h.push_str("<h2>Notes on the rows</h2><ul>");
        for n in notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("<h2>Machine and parameters</h2>");
    if metas.is_empty() {
        h.push_str("<p>No metadata file was found beside the CSV.</p>");
    }
    for m in metas {
        h.push_str(&meta_table(m));
    }
    h.push_str("<h2>Summary</h2><p>Medians over repetitions; x leak is the ratio to the no-reclamation \
                scheme at the same point; free calls / unmap and kernel minflt / fault are medians over \
                the rows of that churn rate.</p>");
    h.push_str(&summary_tables(d));
    h.push_str(
        "<h2>Latency</h2><p>Every Nth fault (from the start of the lookup to the unlock) and \
         every Nth writer operation (<code>mmap_lock</code> held for write) of each worker is \
         timed (N: the <code>sample_every</code> column); each sample includes about one clock \
         reading. Distributions per run are in the <code>.latency.csv</code> beside the CSV.</p>",
    );
    h.push_str(&crate::output::latency_report::latency_table(d));
    let stalls = crate::output::latency_report::stall_table(d);
    if !stalls.is_empty() {
        h.push_str(
            "<h2>A stalled reader</h2><p>One worker parks inside its read section now and then \
             (the <code>stall_ms</code> and <code>stall_every_ms</code> columns); these runs are \
             in no other table or plot. Medians over repetitions; the timeline of each run is in \
             the <code>.timeline.csv</code> beside the CSV.</p>",
        );
        h.push_str(&stalls);
    }
    h.push_str("<h2>Plots</h2>");
    for (name, svg) in svgs {
        // Inline the SVG element itself (no XML declaration inside HTML).
        let start = svg.find("<svg").unwrap_or(0);
        let _ = write!(
            h,
            "<figure>{}<figcaption>{}</figcaption></figure>",
            &svg[start..],
            esc(name)
        );
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scheme: &str, threads: usize, churn: f64, fps: f64, free: Option<f64>) -> Row {
        Row {
            faults: 1000,
            faults_per_sec: fps,
            vma_call_rcu_per_unmap: free,
            ..Row::example(scheme, threads, churn)
        }
    }

    #[test]
    fn findings_come_from_the_numbers_and_skip_what_is_missing() {
        let mut rows = Vec::new();
        for rep in 0..3 {
            let f = 1.0 + rep as f64;
            rows.extend([
                row("leak", 1, 0.0, 100.0 * f, Some(0.0)),
                row("typesafe", 1, 0.0, 90.0 * f, Some(0.0)),
                row("rwlock", 1, 10.0, 50.0 * f, Some(1.0)),
                row("rwlock", 2, 10.0, 20.0 * f, Some(1.0)),
                row("typesafe", 2, 10.0, 80.0 * f, Some(0.0)),
                row("deferred", 2, 10.0, 60.0 * f, Some(1.0)),
            ]);
        }
        let meta = Meta {
            host: "example".into(),
            cores: Some(2),
            ..Meta::default()
        };
        let d = Data::new(&rows, std::slice::from_ref(&meta));
        let f = findings(&d);
        let has = |s: &str| f.iter().any(|x| x.contains(s));
        assert!(has("18 measured runs answered correctly"), "{f:?}");
        assert!(
            has("At 10% churn and 2 threads, typesafe made 0 deferred VMA frees per 1000 unmaps against deferred's 1000"),
            "{f:?}"
        );
        assert!(has("typesafe 0.90x"), "{f:?}");
        // rwlock: median 100 at 1 thread, 40 at 2; typesafe 160 = 4.0x.
        assert!(has("does not scale"), "{f:?}");
        assert!(has("(4.0x rwlock)"), "{f:?}");
        // spread of every point: (3 - 1) / 2 = 100%.
        assert!(has("100.0% with threads <= cores"), "{f:?}");
        assert!(!has("real kernel") && !has("Hot skew"), "{f:?}");

        // Without deferred, no free-call comparison; a wrong answer is counted.
        rows.retain(|r| r.scheme != "deferred");
        rows[0].wrong = 2;
        let f = findings(&Data::new(&rows, &[meta]));
        assert!(!f.iter().any(|x| x.contains("VMA frees")), "{f:?}");
        assert!(
            f[0].starts_with("2 wrong answers in 1 of 15 runs, from: leak"),
            "{f:?}"
        );
    }

    /// Rows that are not measurements are kept out of every figure and
    /// finding and said so; a sweep of such rows only is never called correct;
    /// overran and slow rows are kept and flagged.
    #[test]
    fn rows_that_measured_nothing_are_left_out_and_said_so() {
        let starved = Row {
            run_id: "s-1".into(),
            joined: 0,
            valid: false,
            faults: 0,
            faults_per_sec: 0.0,
            ..row("typesafe", 1, 0.0, 0.0, None)
        };
        let rows = vec![
            starved.clone(),
            Row {
                run_id: "s-2".into(),
                ..starved
            },
        ];
        let d = Data::new(&rows, &[]);
        let f = findings(&d);
        assert!(f[0].starts_with("No run measured anything"), "{f:?}");
        assert!(!f.iter().any(|x| x.starts_with("Every one of")), "{f:?}");
        assert!(
            f[1].starts_with("2 runs left out of every figure")
                && f[1].contains("2 in which some worker never took part")
                && f[1].contains("s-1, s-2"),
            "{f:?}"
        );
        assert_eq!(
            f.len(),
            2,
            "no finding from rows that are not measurements: {f:?}"
        );

        // With measurements beside them: the ratio to leak comes from those only.
        let mut rows = rows;
        rows.push(row("leak", 1, 0.0, 100.0, None));
        rows.push(Row {
            overran: true,
            slow: true,
            canary_ratio: Some(0.5),
            attempt: 2,
            run_id: "t-1".into(),
            ..row("typesafe", 1, 0.0, 50.0, None)
        });
        let d = Data::new(&rows, &[]);
        let f = findings(&d);
        let has = |s: &str| f.iter().any(|x| x.contains(s));
        assert!(
            has("Every one of the 2 measured runs answered correctly"),
            "{f:?}"
        );
        assert!(has("typesafe 0.50x"), "{f:?}");
        assert!(
            has("1 run measured more than twice the time requested") && has("(t-1)"),
            "{f:?}"
        );
        assert!(has("1 run fell in a slow period"), "{f:?}");
        assert!(has("1 run counted from a later attempt"), "{f:?}");
        assert_eq!(
            left_out_note(&d).as_deref(),
            Some(
                "2 runs left out of every figure and finding, not being measurements: 2 in \
                 which some worker never took part in the measured phase (s-1, s-2)."
            )
        );
    }
}
