//! The README's CSV table ("Reading the CSV") against the CSV itself: every
//! column `Row::header()` derives from the `Row` struct is documented there, and
//! every column the table documents is a real one. The two lists are
//! independent (one from the struct, one from the prose), so a column added
//! without documentation, or a documented column that was renamed or removed,
//! fails this test.

use std::collections::BTreeSet;

/// The lines of the README section whose heading is `heading`, up to the next
/// heading of the same or a higher level.
fn section<'a>(readme: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = readme.lines().skip_while(|l| l.trim_end() != heading);
    assert!(lines.next().is_some(), "README has no `{heading}` section");
    lines.take_while(|l| !l.starts_with("## ")).collect()
}

/// The code spans (`like_this`) in `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The code spans in the first column of the section's table, in order (the
/// header row and the separator row are skipped).
fn documented_columns(readme: &str) -> Vec<String> {
    let table: Vec<&str> = section(readme, "## Reading the CSV")
        .into_iter()
        .filter(|l| l.starts_with('|'))
        .collect();
    assert!(table.len() > 2, "no table in `Reading the CSV`");
    assert!(
        table[1]
            .trim_matches('|')
            .split('|')
            .all(|c| c.trim().starts_with("---")),
        "the table's second line is not its separator: {}",
        table[1]
    );
    table[2..]
        .iter()
        .flat_map(|row| {
            let first = row.split('|').nth(1).unwrap_or_default();
            code_spans(first).into_iter().map(str::to_string)
        })
        .collect()
}

#[test]
fn the_csv_table_documents_every_column_and_only_the_columns() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md beside Cargo.toml");
    let documented = documented_columns(&readme);
    let header = vma_bench::Row::header();
    let real: BTreeSet<&str> = header.iter().map(String::as_str).collect();
    let named: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
    let undocumented: Vec<&str> = real.difference(&named).copied().collect();
    assert!(
        undocumented.is_empty(),
        "CSV columns the README's table does not document: {undocumented:?}"
    );
    let unknown: Vec<&str> = named.difference(&real).copied().collect();
    assert!(
        unknown.is_empty(),
        "the README's table documents columns the CSV does not have: {unknown:?}"
    );
    let mut seen = BTreeSet::new();
    let twice: Vec<&str> = documented
        .iter()
        .map(String::as_str)
        .filter(|c| !seen.insert(*c))
        .collect();
    assert!(twice.is_empty(), "documented more than once: {twice:?}");
}

/// The parsing the test relies on, on a table whose answer is known.
#[test]
fn the_table_parser_reads_first_column_code_spans_only() {
    let text = "# x\n\n## Reading the CSV\n\nprose `not_a_column`\n\n\
                | column | unit | meaning |\n|---|---|---|\n\
                | **group** | | about `linux` |\n| `a`, `b` | ns | `c` is elsewhere |\n\
                | `d` | | |\n\n## Next\n\n| `e` | | |\n";
    assert_eq!(documented_columns(text), ["a", "b", "d"]);
}
