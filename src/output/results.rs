//! Reading saved results: CSV files written by `sweep` or `run`, the JSON
//! metadata and the canary timeline beside them. Anything else is refused with
//! the file and line named, and the column where one value is at fault: a value
//! no run can have (not finite, negative, a count above its total, a point with
//! no mms or slots, a valid row that served no faults) refuses the whole file.
//!
//! Rows are identified by their `host` and `run_id`. The same run read twice
//! (one file given twice, or `latest.csv` beside the sweep's own CSV) is
//! counted once, with a note; two rows of one run with different values are
//! refused, unless they are two attempts at it (`attempt`), of which the one a
//! sweep keeps is kept: the last valid attempt, else the last.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::output::canary::{self, Canary};
use crate::output::meta::Meta;
use crate::output::row::Row;

/// What [`read`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Results {
    /// The rows, each run once.
    pub rows: Vec<Row>,
    /// The metadata of each sweep, once.
    pub metas: Vec<Meta>,
    /// The canary timelines of the sweeps that have one, each canary once.
    pub canaries: Vec<Canary>,
    /// One line for each thing dropped (a file given twice, rows read twice,
    /// earlier attempts of a run).
    pub notes: Vec<String>,
}

/// Read and merge `paths` (rows of several machines are told apart by `host`),
/// with the metadata `<stem>.json` and the canary timeline `<stem>.canary.csv`
/// beside each CSV where there is one. Every file is read and checked before
/// anything is returned.
pub fn read(paths: &[PathBuf]) -> Result<Results, Error> {
    let mut out = Results::default();
    let mut seen_files: Vec<PathBuf> = Vec::new();
    let mut kept: HashMap<(String, String), (usize, String)> = HashMap::new();
    let (mut twice, mut superseded) = (0usize, 0usize);
    for path in paths {
        let same = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if seen_files.contains(&same) {
            out.notes.push(format!(
                "'{}' is given more than once: read once",
                path.display()
            ));
            continue;
        }
        seen_files.push(same);
        for (line, row) in read_csv_lines(path)? {
            let at = format!("'{}' line {line}", path.display());
            let id = (row.host.clone(), row.run_id.clone());
            let Some((i, first_at)) = kept.get(&id).cloned() else {
                kept.insert(id, (out.rows.len(), at));
                out.rows.push(row);
                continue;
            };
            let old = &out.rows[i];
            if old.attempt == row.attempt {
                if *old != row {
                    return Err(Error(format!(
                        "{at}: run_id '{}' of host '{}' is also {first_at}, with other values",
                        row.run_id, row.host
                    )));
                }
                twice += 1;
                continue;
            }
            superseded += 1;
            let later = row.attempt > old.attempt;
            let keep_new = match (old.is_measurement(), row.is_measurement()) {
                (false, true) => true,
                (true, false) => false,
                _ => later,
            };
            if keep_new {
                out.rows[i] = row;
                kept.insert(id, (i, at));
            }
        }
        let json = path.with_extension("json");
        if json.exists() {
            let meta = read_meta(&json)?;
            let dup = out
                .metas
                .iter()
                .any(|m| m.host == meta.host && m.started_unix == meta.started_unix);
            if !dup {
                out.metas.push(meta);
            }
        }
        let canaries = canary::path_beside(path);
        if canaries.exists() {
            for (_, c) in read_canaries(&canaries)? {
                let dup = out
                    .canaries
                    .iter()
                    .any(|o| o.host == c.host && o.canary_id == c.canary_id);
                if !dup {
                    out.canaries.push(c);
                }
            }
        }
    }
    if twice > 0 {
        out.notes.push(format!(
            "{twice} row{} read twice (same host, run_id and values as a row read \
             before): counted once",
            plural(twice)
        ));
    }
    if superseded > 0 {
        out.notes.push(format!(
            "{superseded} earlier attempt{} of runs that were run again left out \
             (a run counts once: its last valid attempt)",
            plural(superseded)
        ));
    }
    Ok(out)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn read_meta(json: &Path) -> Result<Meta, Error> {
    let bytes =
        std::fs::read(json).map_err(|e| Error(format!("cannot read '{}': {e}", json.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error(format!(
            "'{}' is not vma-bench metadata: {e}",
            json.display()
        ))
    })
}

/// Read one CSV of rows, every row checked ([`check_row`]).
pub fn read_csv(path: &Path) -> Result<Vec<Row>, Error> {
    Ok(read_csv_lines(path)?.into_iter().map(|(_, r)| r).collect())
}

/// [`read_csv`], with the line of each row.
fn read_csv_lines(path: &Path) -> Result<Vec<(u64, Row)>, Error> {
    let rows = read_records::<Row>(path, &Row::header(), "results", check_row)?;
    if rows.is_empty() {
        return Err(Error(format!(
            "'{}' has a header but no rows",
            path.display()
        )));
    }
    Ok(rows)
}

/// Read a canary timeline, every row checked.
pub fn read_canaries(path: &Path) -> Result<Vec<(u64, Canary)>, Error> {
    read_records::<Canary>(path, &Canary::header(), "canary", check_canary)
}

/// Read `path`, whose header must be `ours`, into records of `T`, each checked
/// by `check` (which names the column at fault).
fn read_records<T: DeserializeOwned>(
    path: &Path,
    ours: &[String],
    what: &str,
    check: fn(&T) -> Result<(), Bad>,
) -> Result<Vec<(u64, T)>, Error> {
    let name = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| Error(format!("cannot read '{name}': {e}")))?;
    let mut reader = csv::Reader::from_reader(file);
    let header = reader
        .headers()
        .map_err(|e| Error(format!("'{name}' line 1: {}", one_line(&e))))?
        .clone();
    if header.is_empty() {
        return Err(Error(format!("'{name}' is empty: no header, no rows")));
    }
    if header.iter().ne(ours.iter().map(String::as_str)) {
        let first_bad = header
            .iter()
            .zip(ours)
            .position(|(a, b)| a != b)
            .map_or_else(
                || format!("{} columns, expected {}", header.len(), ours.len()),
                |i| {
                    format!(
                        "column {} is '{}', expected '{}'",
                        i + 1,
                        &header[i],
                        ours[i]
                    )
                },
            );
        return Err(Error(format!(
            "'{name}' line 1: not a vma-bench {what} header ({first_bad})"
        )));
    }
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        // The record's line when known, else the header's line plus its index.
        let fallback = i as u64 + 2;
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(fallback, |p| p.line());
            Error(format!("'{name}' line {line}: {}", one_line(&e)))
        })?;
        let line = rec.position().map_or(fallback, |p| p.line());
        let value: T = rec.deserialize(Some(&header)).map_err(|e| {
            // The column and the text found there, quoted as it stands.
            let column = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err.field().and_then(|f| {
                    let c = header.get(f as usize)?;
                    Some(match rec.get(f as usize) {
                        Some(text) => format!(", column '{c}', value '{}'", one_line(&text)),
                        None => format!(", column '{c}'"),
                    })
                }),
                _ => None,
            };
            let cause = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err.kind().to_string(),
                _ => one_line(&e),
            };
            Error(format!(
                "'{name}' line {line}{}: {}",
                column.unwrap_or_default(),
                one_line(&cause)
            ))
        })?;
        check(&value).map_err(|Bad(column, why)| {
            Error(format!("'{name}' line {line}, column '{column}': {why}"))
        })?;
        out.push((line, value));
    }
    Ok(out)
}

/// A value no run can have: the column at fault and why.
#[derive(Debug)]
pub struct Bad(pub &'static str, pub String);

/// `Err(Bad(column, why))` unless `ok`.
fn ensure(ok: bool, column: &'static str, why: impl FnOnce() -> String) -> Result<(), Bad> {
    if ok {
        Ok(())
    } else {
        Err(Bad(column, why()))
    }
}

/// A finite number, at least `min`.
fn number(v: f64, column: &'static str, min: f64) -> Result<(), Bad> {
    ensure(v.is_finite(), column, || {
        format!("{v} is not a finite number")
    })?;
    ensure(v >= min, column, || format!("{v} is below {min}"))
}

/// A name the project writes: lowercase letters, digits and dashes, at most 64
/// characters (it becomes part of file names and labels).
fn name(v: &str, column: &'static str) -> Result<(), Bad> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ensure(ok, column, || {
        let shown: String = v.chars().take(40).collect();
        format!(
            "'{shown}{}' ({} characters) is not a name (lowercase letters, digits \
             and dashes, at most 64)",
            if shown.len() < v.len() { "..." } else { "" },
            v.chars().count()
        )
    })
}

/// Printable text of at most `max` characters, not empty.
fn text(v: &str, column: &'static str, max: usize) -> Result<(), Bad> {
    let ok = !v.is_empty() && v.chars().count() <= max && !v.chars().any(char::is_control);
    ensure(ok, column, || {
        format!(
            "{} characters{}: not an identifier of at most {max} printable characters",
            v.chars().count(),
            if v.chars().any(char::is_control) {
                ", some of them control characters"
            } else {
                ""
            }
        )
    })
}

/// `a` and `b` agree to a millionth (relative).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-12)
}

/// The values of the CSV's name columns that a run can have (the run layer's
/// `Skew`, `ChurnKind`, `FaultWork` and RCU `Flavour` names; `tests/cli.rs`
/// holds these lists against those types).
pub const SKEWS: [&str; 3] = ["uniform", "hot", "private"];
/// See [`SKEWS`].
pub const CHURN_KINDS: [&str; 2] = ["replace", "unmap-map"];
/// See [`SKEWS`].
pub const FAULT_WORKS: [&str; 2] = ["light", "page"];
/// See [`SKEWS`]; a scheme without an RCU has `none`.
pub const RCUS: [&str; 5] = ["none", "epoch", "seize", "urcu-memb", "urcu-qsbr"];

/// `v` is one of `known`.
fn one_of(v: &str, known: &[&str], column: &'static str) -> Result<(), Bad> {
    ensure(known.contains(&v), column, || {
        format!("'{v}' is none of {}", known.join(", "))
    })
}

/// Refuse values no run can have, naming the column.
pub fn check_row(r: &Row) -> Result<(), Bad> {
    text(&r.run_id, "run_id", 128)?;
    text(&r.host, "host", 255)?;
    name(&r.scheme, "scheme")?;
    name(&r.rcu, "rcu")?;
    name(&r.churn_kind, "churn_kind")?;
    name(&r.skew, "skew")?;
    name(&r.fault_work, "fault_work")?;
    one_of(&r.skew, &SKEWS, "skew")?;
    one_of(&r.churn_kind, &CHURN_KINDS, "churn_kind")?;
    one_of(&r.fault_work, &FAULT_WORKS, "fault_work")?;
    one_of(&r.rcu, &RCUS, "rcu")?;
    ensure(
        r.sample_every > 0 || r.fault_samples == 0 && r.writer_samples == 0,
        "sample_every",
        || "0 with operations timed: a sampling rate of 0 times nothing".into(),
    )?;
    ensure(r.threads > 0, "threads", || "0 threads".into())?;
    ensure(r.mms > 0, "mms", || "a point with no address space".into())?;
    ensure(r.slots > 0, "slots", || "a point with no mapping".into())?;
    number(r.churn_pct, "churn_pct", 0.0)?;
    ensure(r.churn_pct <= 100.0, "churn_pct", || {
        format!("{} is not a percentage", r.churn_pct)
    })?;
    number(r.exits_pct, "exits_pct", 0.0)?;
    ensure(r.churn_pct + r.exits_pct <= 100.0, "exits_pct", || {
        format!(
            "{} with churn_pct {}: together more than 100%",
            r.exits_pct, r.churn_pct
        )
    })?;
    number(r.forks_pct, "forks_pct", 0.0)?;
    ensure(
        r.churn_pct + r.exits_pct + r.changes_pct + r.forks_pct <= 100.0,
        "forks_pct",
        || {
            format!(
                "{} with churn_pct {}, exits_pct {} and changes_pct {}: together more than 100%",
                r.forks_pct, r.churn_pct, r.exits_pct, r.changes_pct
            )
        },
    )?;
    number(r.changes_pct, "changes_pct", 0.0)?;
    ensure(
        r.churn_pct + r.exits_pct + r.changes_pct <= 100.0,
        "changes_pct",
        || {
            format!(
                "{} with churn_pct {} and exits_pct {}: together more than 100%",
                r.changes_pct, r.churn_pct, r.exits_pct
            )
        },
    )?;
    number(r.warmup_s, "warmup_s", 0.0)?;
    if let Some(s) = r.requested_s {
        number(s, "requested_s", 0.0)?;
        ensure(s > 0.0, "requested_s", || "0 seconds requested".into())?;
    }
    ensure(r.requested_faults != Some(0), "requested_faults", || {
        "0 faults requested".into()
    })?;
    number(r.duration_s, "duration_s", 0.0)?;
    number(r.faults_per_sec, "faults_per_sec", 0.0)?;
    ensure(r.joined <= r.threads, "joined", || {
        format!("{} workers joined a run of {} threads", r.joined, r.threads)
    })?;
    ensure(!r.valid || r.joined == r.threads, "valid", || {
        format!(
            "a valid run in which {} of {} workers joined",
            r.joined, r.threads
        )
    })?;
    ensure(!r.valid || r.faults > 0, "valid", || {
        "a valid run that served no faults".into()
    })?;
    if r.faults == 0 {
        ensure(r.faults_per_sec == 0.0, "faults_per_sec", || {
            format!("{} faults per second with 0 faults", r.faults_per_sec)
        })?;
    } else {
        ensure(r.duration_s > 0.0, "duration_s", || {
            format!("{} faults in 0 seconds", r.faults)
        })?;
        let rate = r.faults as f64 / r.duration_s;
        ensure(close(r.faults_per_sec, rate), "faults_per_sec", || {
            format!("{} is not faults / duration_s = {rate}", r.faults_per_sec)
        })?;
    }
    let overran = r.requested_s.is_some_and(|s| r.duration_s > 2.0 * s);
    ensure(r.overran == overran, "overran", || {
        format!(
            "{} for {} s measured of {} requested",
            r.overran,
            r.duration_s,
            r.requested_s.map_or("none".into(), |s| format!("{s} s"))
        )
    })?;
    if let Some(c) = r.canary_ratio {
        number(c, "canary_ratio", 0.0)?;
    }
    ensure(!r.slow || r.canary_ratio.is_some(), "slow", || {
        "a run in a slow period without a canary_ratio".into()
    })?;
    // Every fault operation is served (faults) or answered "no mapping" (segv).
    let answered = r.faults.saturating_add(r.segv);
    let at_most = |v: Option<u64>, column: &'static str| {
        ensure(!matches!(v, Some(v) if v > answered), column, || {
            format!(
                "{} is above faults + segv = {answered}",
                v.unwrap_or_default()
            )
        })
    };
    at_most(r.lock_success, "lock_success")?;
    at_most(r.fallbacks, "fallbacks")?;
    at_most(Some(r.wrong), "wrong")?;
    // One abort per fault at most: an abort ends in the fallback.
    at_most(r.lock_abort, "lock_abort")?;
    at_most(Some(r.fault_samples), "fault_samples")?;
    for (kind, ps) in [
        (
            "fault",
            [
                r.fault_p50_ns,
                r.fault_p90_ns,
                r.fault_p99_ns,
                r.fault_p999_ns,
                r.fault_max_ns,
            ],
        ),
        (
            "writer",
            [
                r.writer_p50_ns,
                r.writer_p90_ns,
                r.writer_p99_ns,
                r.writer_p999_ns,
                r.writer_max_ns,
            ],
        ),
    ] {
        let given: Vec<u64> = ps.iter().flatten().copied().collect();
        ensure(
            given.windows(2).all(|w| w[0] <= w[1]),
            "percentiles",
            || format!("{kind} percentiles out of order: {given:?} (p50, p90, p99, p99.9, max)"),
        )?;
    }
    if let Some(n) = r.requested_faults {
        ensure(answered <= n, "faults", || {
            format!("faults + segv = {answered}, above the {n} requested")
        })?;
    }
    for (per, count, column) in [
        (
            r.vma_call_rcu_per_unmap,
            r.vma_call_rcu,
            "vma_call_rcu_per_unmap",
        ),
        (
            r.node_call_rcu_per_unmap,
            r.node_call_rcu,
            "node_call_rcu_per_unmap",
        ),
        (
            r.slab_call_rcu_per_unmap,
            r.slab_call_rcu,
            "slab_call_rcu_per_unmap",
        ),
    ] {
        let Some(per) = per else { continue };
        number(per, column, 0.0)?;
        ensure(r.unmaps > 0, column, || {
            format!("{per} per unmap with no unmaps")
        })?;
        let expect = count.map(|c| c as f64 / r.unmaps as f64);
        ensure(expect.is_some_and(|e| close(per, e)), column, || {
            format!(
                "{per} is not the count over unmaps ({})",
                expect.map_or("no count".into(), |e| e.to_string())
            )
        })?;
    }
    if let Some(mean) = r.mean_waiting_bytes {
        number(mean, "mean_waiting_bytes", 0.0)?;
        if let Some(peak) = r.peak_waiting_bytes {
            ensure(mean <= peak as f64, "mean_waiting_bytes", || {
                format!("{mean} is above the peak, {peak}")
            })?;
        }
    }
    Ok(())
}

/// Refuse canary values no run can have, naming the column.
fn check_canary(c: &Canary) -> Result<(), Bad> {
    text(&c.canary_id, "canary_id", 128)?;
    text(&c.host, "host", 255)?;
    ensure(c.threads > 0, "threads", || "0 threads".into())?;
    number(c.at_s, "at_s", 0.0)?;
    number(c.duration_s, "duration_s", 0.0)?;
    number(c.faults_per_sec, "faults_per_sec", 0.0)?;
    ensure(!c.valid || c.faults > 0, "valid", || {
        "a valid canary that served no faults".into()
    })?;
    if let Some(r) = c.ratio {
        number(r, "ratio", 0.0)?;
    }
    Ok(())
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vma-bench-results-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn csv_of(rows: &[Row]) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in rows {
            w.serialize(r).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    /// A measurement of `host` with its own run id.
    fn row(host: &str, id: &str) -> Row {
        Row {
            host: host.into(),
            run_id: id.into(),
            ..Row::example("typesafe", 1, 0.0)
        }
    }

    #[test]
    fn two_hosts_merge_and_bad_files_are_named_with_their_line() {
        let dir = test_dir("merge");
        let a = row("a", "1-0");
        let (b0, b1) = (row("b", "1-0"), row("b", "1-1"));
        let pa = write(&dir, "a.csv", &csv_of(std::slice::from_ref(&a)));
        let pb = write(&dir, "b.csv", &csv_of(&[b0.clone(), b1.clone()]));
        let res = read(&[pa, pb]).unwrap();
        // Run ids repeat across hosts: a row is its host and run id.
        assert_eq!(res.rows, vec![a.clone(), b0.clone(), b1.clone()]);
        assert!(res.metas.is_empty() && res.notes.is_empty());

        let foreign = write(&dir, "foreign.csv", "name,value\nx,1\n");
        let e = read(&[foreign]).unwrap_err().0;
        assert!(
            e.contains("foreign.csv' line 1") && e.contains("'name'"),
            "{e}"
        );

        let mut lines: Vec<String> = csv_of(&[b0.clone(), b1.clone(), row("b", "1-2")])
            .lines()
            .map(str::to_string)
            .collect();
        // The third row (line 4) gets a word where its thread count belongs.
        lines[3] = lines[3].replacen(",1,", ",one,", 1);
        let text = lines.join("\n") + "\n";
        let bad = write(&dir, "bad.csv", &text);
        let e = read(&[bad]).unwrap_err().0;
        assert!(
            e.contains("bad.csv' line 4, column 'threads', value 'one'"),
            "{e}"
        );
        assert!(!e.contains('\n'));

        let short = write(
            &dir,
            "short.csv",
            &(csv_of(std::slice::from_ref(&a)) + "1,2\n"),
        );
        let e = read(&[short]).unwrap_err().0;
        assert!(e.contains("short.csv' line 3"), "{e}");

        let json = write(&dir, "meta.csv", &csv_of(std::slice::from_ref(&a)));
        write(&dir, "meta.json", "{not json");
        let e = read(&[json]).unwrap_err().0;
        assert!(e.contains("meta.json"), "{e}");

        let empty = write(&dir, "empty.csv", "");
        assert!(read(&[empty]).unwrap_err().0.contains("empty"));
        let missing = std::env::temp_dir().join("no-such-vma-bench.csv");
        assert!(read(&[missing])
            .unwrap_err()
            .0
            .contains("no-such-vma-bench.csv"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Every kind of value no run can have, each in the third row (line 4) of
    /// an otherwise good file: refused, naming the file, the line and the
    /// column, and the value where there is one.
    #[test]
    fn values_no_run_can_have_are_refused_naming_file_line_and_column() {
        let dir = test_dir("values");
        let good = Row {
            unmaps: 40,
            maps: 40,
            vma_call_rcu: Some(40),
            vma_call_rcu_per_unmap: Some(1.0),
            lock_success: Some(1000),
            fallbacks: Some(0),
            peak_waiting_bytes: Some(100),
            mean_waiting_bytes: Some(50.0),
            ..row("h", "x")
        };
        type Edit = fn(&mut Row);
        let cases: [(Edit, &str, &str); 19] = [
            (
                |r| r.vma_call_rcu_per_unmap = Some(f64::INFINITY),
                "vma_call_rcu_per_unmap",
                "inf",
            ),
            (
                |r| r.vma_call_rcu_per_unmap = Some(-5.0),
                "vma_call_rcu_per_unmap",
                "-5",
            ),
            (
                |r| r.vma_call_rcu_per_unmap = Some(2.0),
                "vma_call_rcu_per_unmap",
                "count over unmaps",
            ),
            (|r| r.faults_per_sec = f64::NAN, "faults_per_sec", "NaN"),
            (
                |r| r.faults_per_sec = 3e6,
                "faults_per_sec",
                "faults / duration_s",
            ),
            (|r| r.duration_s = -1.0, "duration_s", "-1"),
            (|r| r.lock_success = Some(1001), "lock_success", "1001"),
            (|r| r.wrong = 2000, "wrong", "2000"),
            (|r| r.mms = 0, "mms", "no address space"),
            (|r| r.slots = 0, "slots", "no mapping"),
            (|r| r.joined = 2, "joined", "2 workers"),
            (
                |r| {
                    r.faults = 0;
                    r.faults_per_sec = 0.0;
                },
                "valid",
                "no faults",
            ),
            (
                |r| {
                    r.valid = false;
                    r.faults = 0;
                },
                "faults_per_sec",
                "with 0 faults",
            ),
            (|r| r.skew = "u".repeat(300), "skew", "300 characters"),
            (|r| r.skew = "../x".into(), "skew", "not a name"),
            (
                |r| {
                    r.churn_pct = 10.0;
                    r.exits_pct = 95.0;
                },
                "exits_pct",
                "100%",
            ),
            (|r| r.duration_s = 0.01, "overran", "false"),
            (
                |r| r.mean_waiting_bytes = Some(500.0),
                "mean_waiting_bytes",
                "peak",
            ),
            (|r| r.requested_faults = Some(10), "faults", "10 requested"),
        ];
        for (edit, column, says) in cases {
            let mut bad = good.clone();
            bad.run_id = "y".into();
            edit(&mut bad);
            if bad.duration_s == 0.01 {
                // Keep faults_per_sec consistent: only `overran` is wrong.
                bad.faults_per_sec = bad.faults as f64 / bad.duration_s;
            }
            let mut third = good.clone();
            third.run_id = "z".into();
            let text = csv_of(&[good.clone(), third, bad]);
            let p = write(&dir, "bad.csv", &text);
            let e = read(&[p]).unwrap_err().0;
            assert!(
                e.contains(&format!("bad.csv' line 4, column '{column}'")) && e.contains(says),
                "{column}: {e}"
            );
            assert!(!e.contains('\n') && e.len() < 300, "{e}");
        }
        // A whole number that is negative: named by its column.
        let text = csv_of(std::slice::from_ref(&good)).replacen(",1000,", ",-1000,", 1);
        let p = write(&dir, "neg.csv", &text);
        let e = read(&[p]).unwrap_err().0;
        assert!(e.contains("neg.csv' line 2, column 'faults'"), "{e}");
        // The good row is read back as written.
        let p = write(&dir, "good.csv", &csv_of(std::slice::from_ref(&good)));
        assert_eq!(read(&[p]).unwrap().rows, vec![good]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The same run read twice is counted once, with a note; two different
    /// rows under one run id are refused; of two attempts at a run, the last
    /// valid one is kept.
    #[test]
    fn the_same_run_is_never_counted_twice() {
        let dir = test_dir("twice");
        let rows = [row("h", "7-0"), row("h", "7-1")];
        let a = write(&dir, "a.csv", &csv_of(&rows));
        let res = read(&[a.clone(), a.clone()]).unwrap();
        assert_eq!(res.rows, rows);
        assert_eq!(res.notes.len(), 1, "{:?}", res.notes);
        assert!(res.notes[0].contains("more than once"), "{:?}", res.notes);
        // A copy under another name (latest.csv beside sweep-<t>.csv).
        let copy = write(&dir, "copy.csv", &csv_of(&rows));
        let res = read(&[a.clone(), copy]).unwrap();
        assert_eq!(res.rows, rows);
        assert!(
            res.notes[0].starts_with("2 rows read twice"),
            "{:?}",
            res.notes
        );
        // One run id with other values.
        let other = Row {
            faults: 2000,
            faults_per_sec: 2e6,
            ..rows[1].clone()
        };
        let clash = write(&dir, "clash.csv", &csv_of(&[other]));
        let e = read(&[a.clone(), clash]).unwrap_err().0;
        assert!(
            e.contains("clash.csv' line 2") && e.contains("'7-1'") && e.contains("a.csv' line 3"),
            "{e}"
        );
        // Attempts: an invalid first attempt and a valid second, in either order;
        // a valid first and an invalid second keep the first.
        let invalid = Row {
            valid: false,
            joined: 0,
            faults: 0,
            faults_per_sec: 0.0,
            ..row("h", "8-0")
        };
        let again = Row {
            attempt: 1,
            ..row("h", "8-0")
        };
        for order in [[&invalid, &again], [&again, &invalid]] {
            let p = write(
                &dir,
                "attempts.csv",
                &csv_of(&[order[0].clone(), order[1].clone()]),
            );
            let res = read(&[p]).unwrap();
            assert_eq!(res.rows, vec![again.clone()]);
            assert!(
                res.notes[0].contains("1 earlier attempt"),
                "{:?}",
                res.notes
            );
        }
        let worse = Row {
            attempt: 2,
            ..invalid.clone()
        };
        let p = write(&dir, "worse.csv", &csv_of(&[again.clone(), worse]));
        assert_eq!(read(&[p]).unwrap().rows, vec![again]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
