//! Reading saved results: CSV files written by `sweep` or `run`, and the JSON
//! metadata beside them. Anything else is refused with the file and line named.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::output::meta::Meta;
use crate::output::row::Row;

/// Read and merge `paths` (rows of several machines are told apart by `host`),
/// and the metadata `<stem>.json` beside each CSV where there is one.
pub fn read(paths: &[PathBuf]) -> Result<(Vec<Row>, Vec<Meta>), Error> {
    let mut rows = Vec::new();
    let mut metas = Vec::new();
    for path in paths {
        rows.extend(read_csv(path)?);
        let json = path.with_extension("json");
        if json.exists() {
            let bytes = std::fs::read(&json)
                .map_err(|e| Error(format!("cannot read '{}': {e}", json.display())))?;
            let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| {
                Error(format!(
                    "'{}' is not vma-bench metadata: {e}",
                    json.display()
                ))
            })?;
            metas.push(meta);
        }
    }
    Ok((rows, metas))
}

/// Read one CSV of rows.
pub fn read_csv(path: &Path) -> Result<Vec<Row>, Error> {
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
    let ours = Row::header();
    if header.iter().ne(ours.iter().map(String::as_str)) {
        let first_bad = header
            .iter()
            .zip(&ours)
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
            "'{name}' line 1: not a vma-bench results header ({first_bad})"
        )));
    }
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        // The record's line when known, else the header's line plus its index.
        let fallback = i as u64 + 2;
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(fallback, |p| p.line());
            Error(format!("'{name}' line {line}: {}", one_line(&e)))
        })?;
        let line = rec.position().map_or(fallback, |p| p.line());
        let row: Row = rec
            .deserialize(Some(&header))
            .map_err(|e| Error(format!("'{name}' line {line}: {}", one_line(&e))))?;
        if row.threads == 0
            || !row.faults_per_sec.is_finite()
            || row.faults_per_sec < 0.0
            || !row.churn_pct.is_finite()
            || !(0.0..=100.0).contains(&row.churn_pct)
        {
            return Err(Error(format!(
                "'{name}' line {line}: threads {}, churn_pct {} and faults_per_sec {} are not a run's",
                row.threads, row.churn_pct, row.faults_per_sec
            )));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error(format!("'{name}' has a header but no rows")));
    }
    Ok(rows)
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_dir() -> PathBuf {
        std::env::temp_dir().join(format!("vma-bench-results-{}", std::process::id()))
    }

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = test_dir();
        std::fs::create_dir_all(&dir).unwrap();
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

    #[test]
    fn two_hosts_merge_and_bad_files_are_named_with_their_line() {
        let a = Row {
            host: "a".into(),
            ..Row::example("typesafe", 1, 0.0)
        };
        let b = Row {
            host: "b".into(),
            ..Row::example("typesafe", 1, 0.0)
        };
        let pa = write("a.csv", &csv_of(std::slice::from_ref(&a)));
        let pb = write("b.csv", &csv_of(&[b.clone(), b.clone()]));
        let (rows, metas) = read(&[pa, pb]).unwrap();
        assert_eq!(rows, vec![a.clone(), b.clone(), b.clone()]);
        assert!(metas.is_empty());

        let foreign = write("foreign.csv", "name,value\nx,1\n");
        let e = read(&[foreign]).unwrap_err().0;
        assert!(
            e.contains("foreign.csv' line 1") && e.contains("'name'"),
            "{e}"
        );

        let mut lines: Vec<String> = csv_of(&[b.clone(), b.clone(), b])
            .lines()
            .map(str::to_string)
            .collect();
        // The third row (line 4) gets a word where its thread count belongs.
        lines[3] = lines[3].replacen(",1,", ",one,", 1);
        let text = lines.join("\n") + "\n";
        let bad = write("bad.csv", &text);
        let e = read(&[bad]).unwrap_err().0;
        assert!(e.contains("bad.csv' line 4"), "{e}");
        assert!(!e.contains('\n'));

        let mut lines: Vec<String> = csv_of(&[a.clone(), a.clone()])
            .lines()
            .map(str::to_string)
            .collect();
        // A well-formed line whose churn is no percentage (line 3).
        lines[2] = lines[2].replacen(",0.0,", ",250.0,", 1);
        let odd = write("odd.csv", &(lines.join("\n") + "\n"));
        let e = read(&[odd]).unwrap_err().0;
        assert!(e.contains("odd.csv' line 3") && e.contains("250"), "{e}");
        let short = write("short.csv", &(csv_of(std::slice::from_ref(&a)) + "1,2\n"));
        let e = read(&[short]).unwrap_err().0;
        assert!(e.contains("short.csv' line 3"), "{e}");

        let json = write("meta.csv", &csv_of(&[a]));
        write("meta.json", "{not json");
        let e = read(&[json]).unwrap_err().0;
        assert!(e.contains("meta.json"), "{e}");

        let empty = write("empty.csv", "");
        assert!(read(&[empty]).unwrap_err().0.contains("empty"));
        let missing = std::env::temp_dir().join("no-such-vma-bench.csv");
        assert!(read(&[missing])
            .unwrap_err()
            .0
            .contains("no-such-vma-bench.csv"));
        std::fs::remove_dir_all(test_dir()).unwrap();
    }
}
