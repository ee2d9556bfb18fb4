//! The HTML report: one self-contained file (`index.html`, plots inline) with the
//! metadata, a summary table per skew and churn rate, and sentences that state
//! the main findings, each computed from the rows.

use std::fmt::Write as _;

use crate::output::figure::threads_label;
use crate::output::latency_report::bytes_label;
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
    d.per_host(&mut out, |host, out| host_findings(d, host, out));
    let mut by_threads: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for (k, rs) in d.points() {
        if let Some(s) = summarize(rs, faults_per_sec).filter(|s| s.n > 1) {
            by_threads.entry(k.threads).or_default().push(s.spread());
        }
    }
    out.extend(crate::output::latency_report::findings(d));
    let parts: Vec<String> = by_threads
        .into_iter()
        .filter_map(|(t, v)| {
            let m = Summary::of(v)?.median * 100.0;
            let over = if d.oversubscribed(t).is_empty() {
                ""
            } else {
                " (oversubscribed)"
            };
            Some(format!("{m:.1}% at {}{over}", threads_label(t)))
        })
        .collect();
    if !parts.is_empty() {
        out.push(format!(
            "Run-to-run spread of faults/s, (max - min) / median over the repetitions of a point, \
             median over the points of each thread count: {}. Where spread grows at the cores and \
             not beyond, oversubscription is not its cause: the canary timeline shows the \
             machine's own slow periods, which a run of several threads feels most (its workers \
             wait on each other's cache lines).",
            parts.join(", ")
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

/// The baseline a scheme is compared with: the deferred-free scheme under the
/// same RCU flavour (the kernel before the typesafe patch); for a scheme with
/// no flavour (rwlock, hazard, leak), the first deferred scheme of the rows;
/// None for the real kernel, or where no deferred scheme was run.
pub fn baseline_of(d: &Data<'_>, scheme: &str) -> Option<String> {
    if scheme == "linux" {
        return None;
    }
    let deferred = |l: &String| l == "deferred" || l.starts_with("deferred/");
    match scheme.split_once('/') {
        Some((_, flavour)) => {
            let same = format!("deferred/{flavour}");
            d.schemes.contains(&same).then_some(same)
        }
        None => d.schemes.iter().find(|l| deferred(l)).cloned(),
    }
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
        let parts: Vec<String> = d
            .schemes
            .iter()
            .filter(|s| *s != "linux")
            .filter_map(|s| {
                let base = baseline_of(d, s).filter(|b| b != s)?;
                let b = median_fps(d, host, uniform, 0, t1, &base).filter(|&b| b > 0.0)?;
                let v = median_fps(d, host, uniform, 0, t1, s)?;
                Some(format!("{s} {:.2}x {base}", v / b))
            })
            .collect();
        if !parts.is_empty() {
            out.push(format!(
                "Read-only at {t1} thread{}, against the deferred-free scheme under the same RCU \
                 flavour (the kernel before the typesafe patch; schemes without a flavour against \
                 the first deferred one), medians reach: {}.",
                plural(t1),
                parts.join(", ")
            ));
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

/// A throughput cell: M faults/s, ns per fault per thread, and the ratio to
/// `base` (M faults/s) where there is one.
fn fps_cell(v: f64, threads: usize, base: Option<f64>) -> String {
    let ns = if v > 0.0 {
        format!("{:.0} ns", threads as f64 * 1e9 / v)
    } else {
        "-".into()
    };
    match base.filter(|&b| b > 0.0) {
        Some(b) => format!("{:.2} ({ns}, {:.2}x)", v / 1e6, v / b),
        None => format!("{:.2} ({ns})", v / 1e6),
    }
}

fn summary_tables(d: &Data<'_>) -> String {
    let mut s = String::new();
    for host in &d.hosts {
        for skew in &d.skews {
            for &c in &d.churn {
                let _ = write!(
                    s,
                    "<h3>{}churn {}, {} skew</h3><table><tr><th>scheme</th><th>baseline</th>",
                    if d.hosts.len() > 1 {
                        format!("{} - ", esc(host))
                    } else {
                        String::new()
                    },
                    churn_label(c),
                    esc(skew)
                );
                for &t in &d.threads {
                    let _ = write!(
                        s,
                        "<th>{}{}: M faults/s (ns per fault per thread, x baseline)</th>",
                        threads_label(t),
                        esc(d.oversubscribed(t))
                    );
                }
                s.push_str(
                    "<th>call_rcu per unmap: VMA / index node / slab</th>\
                     <th>peak waiting, at the most threads: bytes (VMAs / nodes / slabs)</th>\
                     <th>wrong</th><th>kernel minflt / fault</th></tr>",
                );
                for scheme in &d.schemes {
                    let base = baseline_of(d, scheme);
                    let mut cells = String::new();
                    let mut any = false;
                    for &t in &d.threads {
                        let v = median_fps(d, host, skew, c, t, scheme);
                        let b = base
                            .as_deref()
                            .and_then(|b| median_fps(d, host, skew, c, t, b));
                        any |= v.is_some();
                        let _ = write!(
                            cells,
                            "<td>{}</td>",
                            v.map_or("-".into(), |v| fps_cell(v, t, b))
                        );
                    }
                    if !any {
                        continue;
                    }
                    let per = |f: fn(&Row) -> Option<f64>| {
                        median_over(d, host, skew, c, scheme, f)
                            .map_or("-".into(), |x| format!("{:.3}", x.median))
                    };
                    let free = format!(
                        "{} / {} / {}",
                        per(|r| r.vma_call_rcu_per_unmap),
                        per(|r| r.node_call_rcu_per_unmap),
                        per(|r| r.slab_call_rcu_per_unmap)
                    );
                    let top = d.threads.last().copied().unwrap_or(1);
                    let peak_rows = d.at(host, skew, c, top, scheme);
                    let med = |f: fn(&Row) -> Option<u64>| {
                        summarize(peak_rows, |r| f(r).map(|v| v as f64)).map(|x| x.median)
                    };
                    let peak = match med(|r| r.peak_waiting_bytes) {
                        Some(b) => format!(
                            "{} ({} / {} / {})",
                            bytes_label(b),
                            med(|r| r.peak_waiting_vmas).map_or("-".into(), format_number),
                            med(|r| r.peak_waiting_nodes).map_or("-".into(), format_number),
                            med(|r| r.peak_waiting_slabs).map_or("-".into(), format_number)
                        ),
                        None => "-".into(),
                    };
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
                        "<tr><td>{}</td><td>{}</td>{cells}<td>{free}</td><td>{peak}</td><td{}>{wrong}</td><td>{minflt}</td></tr>",
                        esc(&d.label(host, scheme)),
                        esc(base.as_deref().unwrap_or("-")),
                        if wrong > 0 { " class=\"bad\"" } else { "" }
                    );
                }
                s.push_str("</table>");
            }
        }
    }
    s
}

/// What each free policy models in the kernel, for the policies present.
const SCHEMES: [(&str, &str); 6] = [
    (
        "rwlock",
        "Linux before 6.4: every fault takes the mm-wide <code>mmap_lock</code> for read, \
         every mmap/munmap takes it for write; a removed VMA is freed at once, since no reader \
         can hold it. It has no per-VMA lock, so every one of its faults counts as a fallback.",
    ),
    (
        "deferred",
        "Linux 6.4 to 6.14, the baseline of every comparison here: a fault walks the index \
         under RCU and takes the VMA's own read lock (<code>lock_vma_under_rcu()</code>); a \
         removed VMA is queued with one <code>call_rcu()</code> and returned to its slab \
         cache after a grace period. One deferred call per unmap, and removed VMAs wait.",
    ),
    (
        "typesafe",
        "Linux 6.15 and later, the patch \"mm: make vma cache SLAB_TYPESAFE_BY_RCU\": a removed \
         VMA goes back to its cache at once and may be handed out again, even to another mm, \
         while an old reader still holds a pointer; only an emptied slab waits for a grace \
         period. Readers validate after locking (detached, <code>vm_mm == mm</code>, address) \
         and fall back to <code>mmap_lock</code> when validation fails.",
    ),
    (
        "hazard",
        "Not a kernel design: the per-VMA lock with hazard pointers in place of RCU. A reader \
         publishes a hazard pointer on every index node of its walk and on the VMA; a writer \
         retires the removed VMA, freed once no hazard pointer names it. The comparison point \
         from the safe-memory-reclamation literature.",
    ),
    (
        "leak",
        "Never frees during a run and has no read section: the read side's ceiling. Under \
         churn every new VMA is fresh memory from the allocator, so there it is no ceiling.",
    ),
    (
        "linux",
        "The real kernel of the machine that ran the sweep (Linux 6.15 or later runs the \
         typesafe design): real page faults on a real anonymous mapping, <code>mmap(MAP_FIXED)</code> \
         or munmap + mmap as churn, one process (one mm). Each fault allocates and zeroes a \
         page, so it is tens to hundreds of times slower than the models' faults; it is drawn in \
         panels of its own scale, and its reclamation counts are not visible from user space.",
    ),
];

/// What each RCU flavour stands for.
const FLAVOURS: [(&str, &str); 4] = [
    (
        "urcu-qsbr",
        "liburcu's QSBR flavour: a free read side, quiescent states reported between \
         operations. The closest to a non-preemptible kernel's <code>rcu_read_lock()</code>, \
         which costs nothing.",
    ),
    (
        "urcu-memb",
        "liburcu's memb flavour: a read-side nesting counter, writers use \
         <code>membarrier()</code>. Close to a preemptible kernel's per-task counter.",
    ),
    (
        "epoch",
        "crossbeam-epoch: a pin with a full fence per read section. What the usual Rust crate \
         costs, more than any kernel read side.",
    ),
    (
        "seize",
        "seize: an enter per read section and batched retires, a modern Rust reclaimer.",
    ),
];

/// The caption under a figure, from its file name: how to read it.
fn caption(file: &str, d: &Data<'_>) -> String {
    let reps = "Each point is the median over the repetitions of a point; its bar spans the \
                slowest and the fastest repetition.";
    let shade = "The shaded region has more worker threads than the machine has cores: there a \
                 reader can be preempted inside its read section, holding up grace periods.";
    let floor = "On log axes a zero cannot be drawn: zeros sit on the dashed floor labelled 0.";
    let rwlock_note = {
        let rw: Vec<&Row> = d
            .measured()
            .iter()
            .copied()
            .filter(|r| r.scheme == "rwlock")
            .collect();
        let all = rw.iter().filter(|r| r.fallbacks == Some(r.faults)).count();
        if rw.is_empty() {
            String::new()
        } else if all == rw.len() {
            format!(
                " rwlock is left out: in every one of its {} runs every fault took mmap_lock \
                 (1,000,000 fallbacks per million faults), having no per-VMA lock.",
                rw.len()
            )
        } else {
            format!(
                " rwlock is left out: it has no per-VMA lock; {all} of its {} runs had every \
                 fault take mmap_lock.",
                rw.len()
            )
        }
    };
    let text = if file.starts_with("throughput_vs_threads") {
        format!(
            "Faults served per second by all workers together, against the number of worker \
             threads; one panel per churn rate (the share of operations that replace a \
             mapping). {reps} {shade} Wide bars at two threads and more come from the \
             machine's slow periods (see the canary timeline), not from the schemes. The real \
             kernel has a panel of its own scale."
        )
    } else if file.starts_with("throughput_vs_churn") {
        format!(
            "Faults served per second against churn, one panel per thread count. {reps} The \
             churn positions are categories, not a scale. The real kernel has a panel of its \
             own scale."
        )
    } else if file.starts_with("reader_outcomes") {
        format!(
            "How faults' lookups ended, per million faults, log scale, against threads: lock \
             aborts (the per-VMA lock was not taken, or validation failed: write-locked, \
             another mm's VMA, wrong address), misses (the VMA was found detached and looked \
             up again), fallbacks (the fault took mmap_lock for read; one per abort). {reps} \
             {shade} {floor}{rwlock_note}"
        )
    } else if file.starts_with("peak_unreclaimed") {
        format!(
            "The most bytes waiting to be reclaimed in any 1 ms sample of a run: removed VMAs, \
             replaced index nodes and emptied typesafe slabs, each times its size; log scale, \
             one panel per churn rate. {reps} {shade} {floor}"
        )
    } else if file.starts_with("free_calls") {
        format!(
            "The figure the typesafe patch is about: free calls per removed mapping, by kind, \
             counted where the call is made, against threads at the highest churn. VMA \
             call_rcu: one per removed VMA before the patch (deferred), none after (typesafe); \
             index-node call_rcu: maple-tree nodes replaced by a store, paid by every scheme \
             that walks under RCU; slab call_rcu: typesafe's emptied slabs waiting a grace \
             period. The last two panels count objects freed at once, with no grace period. \
             Log scale. {reps} {shade} {floor}"
        )
    } else if file.starts_with("latency_vs_threads") {
        format!(
            "Latency percentiles per run against threads, log scale: faults (from entering \
             lock_vma_under_rcu to the unlock, a fallback under mmap_lock included) and \
             writers (mmap_lock held for write). Every Nth operation of each worker is timed \
             (the sample_every column); each sample includes about one clock reading. {reps} \
             {shade}"
        )
    } else if file.starts_with("latency_distribution") {
        format!(
            "Whole latency distributions at one thread and at the cores: each x position is \
             a decade further into the tail (50%, 90%, 99%, ...) and then the largest sample; \
             log-log. {reps}"
        )
    } else if file.starts_with("canary") {
        "The machine's speed over the sweep: the same short read-only run, made before the \
         first run, every few runs and after the last, as a ratio to the sweep's median. Dips \
         are slow periods of the machine (other load, frequency, the host); a run that fell \
         in one (its nearest canary below the dashed threshold) was made again."
            .to_string()
    } else if file.starts_with("stall") {
        "One worker parks inside its read section for a while, again and again (shaded); \
         left: the bytes waiting to be reclaimed in each 1 ms sample, right: the longest a \
         writer waited for mmap_lock in that sample. Deferred frees pile up while the reader \
         holds up grace periods; typesafe's VMAs do not wait; under rwlock the parked reader \
         holds mmap_lock and writers wait instead. Log scale; zeros on the bottom edge."
            .to_string()
    } else {
        String::new()
    };
    esc(&text)
}

/// The anchor of a figure.
fn anchor(file: &str) -> String {
    format!("fig-{}", file.trim_end_matches(".svg"))
}

/// The report, `index.html`: one self-contained file with a table of contents,
/// what the schemes and flavours model, the findings computed from `d`'s rows,
/// the `notes` of reading them, the metadata, a summary table per churn rate
/// and skew, the latency and stall tables, the drawn `svgs` (file name, SVG
/// text) inlined each with a caption, and how to compare machines.
pub fn report_html(
    d: &Data<'_>,
    metas: &[Meta],
    svgs: &[(String, String)],
    notes: &[String],
) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>vma-bench report</title><style>\
         body{font-family:sans-serif;max-width:1500px;margin:auto;padding:1em;line-height:1.4}\
         table{border-collapse:collapse;margin:0.5em 0;font-size:13px}\
         td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}\
         th{background:#eee}td:first-child{text-align:left}.meta td{text-align:left}\
         .bad{background:#fbb}figure{margin:1.5em 0}svg{max-width:100%;height:auto}\
         figcaption{max-width:70em;font-size:15px}dt{font-weight:bold}\
         </style></head><body><h1>vma-bench report</h1>",
    );
    h.push_str(
        "<p>How does a page fault find and lock its VMA (<code>lock_vma_under_rcu()</code>) \
         while other threads mmap and munmap, under each memory-reclamation scheme? Every \
         fault checks its answer; <b>wrong</b> must be 0. <code>linux</code> is the real \
         kernel of the machine.</p>",
    );
    let stalls = crate::output::latency_report::stall_table(d);
    h.push_str("<nav><h2>Contents</h2><ol>");
    let mut toc = vec![
        ("findings", "Findings".to_string()),
        ("schemes", "What the schemes model".to_string()),
    ];
    if !notes.is_empty() {
        toc.push(("notes", "Notes on the rows".into()));
    }
    toc.push(("machine", "Machine and parameters".into()));
    toc.push(("summary", "Summary tables".into()));
    toc.push(("latency", "Latency".into()));
    if !stalls.is_empty() {
        toc.push(("stall", "A stalled reader".into()));
    }
    toc.push(("figures", "Figures".into()));
    toc.push(("compare", "Comparing machines".into()));
    for (id, title) in &toc {
        let _ = write!(h, "<li><a href=\"#{id}\">{title}</a>");
        if *id == "figures" {
            h.push_str("<ol>");
            for (name, _) in svgs {
                let _ = write!(
                    h,
                    "<li><a href=\"#{}\">{}</a></li>",
                    anchor(name),
                    esc(name)
                );
            }
            h.push_str("</ol>");
        }
        h.push_str("</li>");
    }
    h.push_str("</ol></nav><h2 id=\"findings\">Findings</h2><ul>");
    for f in findings(d) {
        let _ = write!(h, "<li>{}</li>", esc(&f));
    }
    h.push_str("</ul><h2 id=\"schemes\">What the schemes model</h2><dl>");
    let policy = |s: &str| s.split('/').next().unwrap_or(s).to_string();
    let policies: Vec<String> = d.schemes.iter().map(|s| policy(s)).collect();
    for (name, what) in SCHEMES {
        if policies.iter().any(|p| p == name) {
            let _ = write!(h, "<dt>{name}</dt><dd>{what}</dd>");
        }
    }
    h.push_str("</dl>");
    let flavours: Vec<&str> = d
        .schemes
        .iter()
        .filter_map(|s| s.split_once('/').map(|x| x.1))
        .collect();
    if !flavours.is_empty() {
        h.push_str(
            "<p>The per-VMA schemes <code>deferred</code> and <code>typesafe</code> run under an \
             RCU flavour (<code>scheme/flavour</code>); the kernel's own read side is almost \
             free, so a flavour whose read side costs more measures that library, not the \
             kernel's schemes. Every comparison is made under one flavour: each scheme against \
             <code>deferred</code> under the same flavour.</p><dl>",
        );
        for (name, what) in FLAVOURS {
            if flavours.contains(&name) {
                let _ = write!(h, "<dt>{name}</dt><dd>{what}</dd>");
            }
        }
        h.push_str("</dl>");
    }
    if d.skews.iter().any(|s| s != "uniform") {
        h.push_str(
            "<p><b>Skew</b> says where faults land. <code>uniform</code>: spread over every \
             mapping of every mm. <code>hot</code>: every thread faults in one mapping per mm, \
             so all readers share one VMA's reference count (<code>vm_refcnt</code>), a cache \
             line bounced between CPUs: the known weak point of per-VMA locks. \
             <code>private</code>: each worker faults and churns its own mappings.</p>",
        );
    }
    if !notes.is_empty() {
        h.push_str("<h2 id=\"notes\">Notes on the rows</h2><ul>");
        for n in notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("<h2 id=\"machine\">Machine and parameters</h2>");
    if metas.is_empty() {
        h.push_str("<p>No metadata file was found beside the CSV.</p>");
    }
    for m in metas {
        h.push_str(&meta_table(m));
    }
    h.push_str(
        "<h2 id=\"summary\">Summary tables</h2><p>Medians over repetitions. Each throughput \
         cell gives M faults/s (all workers together), ns per fault per thread (threads / \
         faults per second), and the ratio to the scheme's baseline at the same point: \
         <code>deferred</code> under the same RCU flavour, the kernel before the typesafe \
         patch (a scheme without a flavour against the first deferred one). call_rcu per \
         unmap: medians over the rows of that churn rate. Peak waiting: bytes (objects times \
         their size) and, in brackets, the objects: removed VMAs, index nodes, emptied \
         slabs.</p>",
    );
    h.push_str(&summary_tables(d));
    h.push_str(
        "<h2 id=\"latency\">Latency</h2><p>Every Nth fault (from the start of the lookup to \
         the unlock) and every Nth writer operation (<code>mmap_lock</code> held for write) of \
         each worker is timed (N: the <code>sample_every</code> column); each sample includes \
         about one clock reading. Distributions per run are in the <code>.latency.csv</code> \
         beside the CSV.</p>",
    );
    h.push_str(&crate::output::latency_report::latency_table(d));
    if !stalls.is_empty() {
        h.push_str(
            "<h2 id=\"stall\">A stalled reader</h2><p>One worker parks inside its read section \
             now and then (the <code>stall_ms</code> and <code>stall_every_ms</code> columns); \
             these runs are in no other table or plot. Medians over repetitions; the timeline of \
             each run is in the <code>.timeline.csv</code> beside the CSV.</p>",
        );
        h.push_str(&stalls);
    }
    h.push_str(
        "<h2 id=\"figures\">Figures</h2><p>Every series keeps its look in every figure: the \
         colour family and the dash say the scheme (typesafe blue and solid, deferred \
         vermillion and orange and dashed, hazard green, rwlock purple, leak grey, the real \
         kernel black), the marker and the shade the RCU flavour (QSBR circle, memb square, \
         epoch triangle, seize diamond). The colours are Okabe and Ito's, safe for colour \
         blindness. Legends sit beside the panels.</p>",
    );
    for (name, svg) in svgs {
        // Inline the SVG element itself (no XML declaration inside HTML).
        let start = svg.find("<svg").unwrap_or(0);
        let _ = write!(
            h,
            "<figure id=\"{}\">{}<figcaption><b>{}</b>: {}</figcaption></figure>",
            anchor(name),
            &svg[start..],
            esc(name),
            caption(name, d)
        );
    }
    h.push_str(
        "<h2 id=\"compare\">Comparing machines</h2><p>Every sweep writes its CSV with the JSON \
         of its machine beside it. To compare machines, copy their CSVs and JSONs into one \
         folder and draw them together:</p><pre>vma-bench plot a.csv b.csv --out plots/compare</pre>\
         <p>Rows are told apart by the <code>host</code> column: each series is labelled \
         <code>scheme @ host</code>, the second machine's markers hollow, and each machine's \
         cores are shaded on the thread axes where its JSON gives them. Rows of one host run \
         with different setups are never pooled. A file that is not a vma-bench CSV, or a \
         malformed line, is refused with the file and line named, and nothing is written.</p>",
    );
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
                row("deferred", 1, 0.0, 100.0 * f, Some(1.0)),
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
        assert!(has("21 measured runs answered correctly"), "{f:?}");
        assert!(
            has("At 10% churn and 2 threads, typesafe made 0 deferred VMA frees per 1000 unmaps against deferred's 1000"),
            "{f:?}"
        );
        // Against deferred, not leak: leak itself is compared too.
        assert!(has("typesafe 0.90x deferred"), "{f:?}");
        assert!(has("leak 1.00x deferred"), "{f:?}");
        // rwlock: median 100 at 1 thread, 40 at 2; typesafe 160 = 4.0x.
        assert!(has("does not scale"), "{f:?}");
        assert!(has("(4.0x rwlock)"), "{f:?}");
        // spread of every point: (3 - 1) / 2 = 100%, told per thread count.
        assert!(has("100.0% at 1 thread, 100.0% at 2 threads."), "{f:?}");
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

        // With measurements beside them: the ratio to the baseline comes from
        // those only.
        let mut rows = rows;
        rows.push(row("deferred", 1, 0.0, 100.0, None));
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
        assert!(has("typesafe 0.50x deferred"), "{f:?}");
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
