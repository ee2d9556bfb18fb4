//! The binary itself: exit codes, one-line errors naming the flag and the value,
//! and a generated `--help` for every subcommand.

use std::process::Command;

fn vma_bench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vma-bench"))
        .args(args)
        .output()
        .expect("runs");
    let text = |b: Vec<u8>| String::from_utf8(b).expect("utf-8");
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

#[test]
fn bad_values_exit_2_with_one_line_naming_the_value() {
    for (args, bad) in [
        (
            &["run", "--scheme", "typesafe", "--threads", "0"][..],
            "'0'",
        ),
        (
            &["run", "--scheme", "typesafe", "--churn", "150"][..],
            "'150'",
        ),
        (&["run", "--scheme", "no-such"][..], "'no-such'"),
        (&["sweep", "--frobnicate"][..], "'--frobnicate'"),
    ] {
        let (code, stdout, stderr) = vma_bench(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(bad) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

/// `args` is refused: exit status 2, nothing on stdout, one line on stderr that
/// holds every one of `named` (the flag, the value).
fn refused(args: &[&str], named: &[&str]) {
    let (code, stdout, stderr) = vma_bench(args);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert!(stdout.is_empty(), "{args:?}: {stdout}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("vma-bench: error: "),
        "{args:?}: {stderr}"
    );
    for n in named {
        assert!(stderr.contains(n), "{args:?}: {stderr} does not name {n}");
    }
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
}

#[test]
fn a_flag_given_twice_is_refused() {
    refused(
        &["run", "--scheme", "leak", "--scheme", "typesafe"],
        &["--scheme", "multiple times"],
    );
    refused(
        &["sweep", "--reps", "1", "--reps", "2"],
        &["--reps", "multiple times"],
    );
    refused(
        &["run", "--scheme", "leak", "--until-wrong", "--until-wrong"],
        &["--until-wrong", "multiple times"],
    );
}

#[test]
fn a_negative_value_is_understood_and_refused_either_way() {
    for args in [
        &["run", "--scheme", "leak", "--duration=-1"][..],
        &["run", "--scheme", "leak", "--duration", "-1"][..],
    ] {
        refused(args, &["--duration", "'-1'", "0.001..=3600"]);
    }
    refused(
        &["sweep", "--seed", "-1"],
        &["--seed", "'-1'", "whole number"],
    );
    refused(&["sweep", "--churn", "1,-2"], &["--churn", "'-2'"]);
}

#[test]
fn a_stray_word_is_refused_by_name() {
    refused(
        &["run", "--scheme", "leak", "--until-wrong", "extra"],
        &["'extra'"],
    );
    refused(&["schemes", "extra"], &["'extra'"]);
    refused(&["frobnicate"], &["'frobnicate'"]);
    refused(&["plot", "--frob", "a.csv"], &["'--frob'"]);
}

#[test]
fn a_missing_value_or_argument_is_named() {
    refused(&["run", "--scheme", "leak", "--threads"], &["--threads"]);
    refused(&["run"], &["--scheme"]);
    refused(&["plot"], &["FILE.csv"]);
    refused(&["completions"], &["SHELL"]);
}

#[test]
fn values_are_range_checked_and_names_come_from_the_registry() {
    refused(
        &["run", "--scheme", "leak", "--churn", "NaN"],
        &["--churn", "'NaN'"],
    );
    refused(&["sweep", "--churn", "0,inf"], &["--churn", "'inf'"]);
    refused(&["sweep", "--warmup", "3601"], &["--warmup", "'3601'"]);
    refused(
        &["run", "--scheme", "leak", "--slots", "65537"],
        &["--slots", "'65537'"],
    );
    refused(
        &["sweep", "--schemes", "typesafe,nope"],
        &["--schemes", "'nope'"],
    );
    refused(
        &["run", "--scheme", "leak", "--skew", "cold"],
        &["--skew", "'cold'"],
    );
    refused(&["completions", "nosh"], &["'nosh'"]);
}

#[test]
fn lists_refuse_empty_items_and_repeats() {
    refused(
        &["sweep", "--threads", "1,,2"],
        &["--threads", "'1,,2'", "empty"],
    );
    refused(&["sweep", "--threads", "1,"], &["--threads", "empty"]);
    refused(
        &["sweep", "--skew", "hot,hot"],
        &["--skew", "'hot' is listed twice"],
    );
    refused(
        &["sweep", "--schemes", "leak,typesafe,leak"],
        &["--schemes", "'leak' is listed twice"],
    );
}

/// Every subcommand answers `--help` (exit 0, on stdout) with every flag it
/// had before the command line moved to clap; so do `help` and `--version`.
#[test]
fn every_subcommand_has_help_listing_its_flags() {
    let flags: [(&str, &[&str]); 5] = [
        (
            "run",
            &[
                "--scheme",
                "--threads",
                "--churn",
                "--exits",
                "--duration",
                "--warmup",
                "--faults",
                "--until-wrong",
                "--mms",
                "--slots",
                "--skew",
                "--seed",
                "--widen",
            ],
        ),
        (
            "sweep",
            &[
                "--quick",
                "--schemes",
                "--threads",
                "--churn",
                "--skew",
                "--reps",
                "--duration",
                "--warmup",
                "--mms",
                "--slots",
                "--seed",
                "--out",
            ],
        ),
        ("plot", &["--out", "FILE.csv"]),
        ("schemes", &["--all"]),
        ("completions", &["bash"]),
    ];
    for (sub, flags) in flags {
        for help in [&[sub, "--help"][..], &[sub, "-h"][..], &["help", sub][..]] {
            let (code, stdout, stderr) = vma_bench(help);
            assert_eq!(code, 0, "{help:?}: {stderr}");
            assert!(
                stdout.contains(&format!("Usage: vma-bench {sub}")),
                "{help:?}: {stdout}"
            );
            for f in flags {
                assert!(stdout.contains(f), "{help:?} does not list {f}: {stdout}");
            }
        }
    }
    for top in [&["--help"][..], &[][..]] {
        let (code, stdout, _) = vma_bench(top);
        assert_eq!(code, 0, "{top:?}");
        for sub in ["schemes", "run", "sweep", "plot", "completions"] {
            assert!(
                stdout.contains(sub),
                "{top:?} does not list {sub}: {stdout}"
            );
        }
    }
    let (code, stdout, _) = vma_bench(&["--version"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("vma-bench 0."), "{stdout}");
}

#[test]
fn completions_know_the_subcommands_and_flags() {
    let (code, stdout, stderr) = vma_bench(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    for word in ["vma-bench", "sweep", "--until-wrong", "--schemes"] {
        assert!(stdout.contains(word), "bash completions lack {word}");
    }
}

#[test]
fn an_unwritable_out_fails_before_any_run() {
    refused(
        &["sweep", "--quick", "--out", "/proc/no-such-dir"],
        &["/proc/no-such-dir"],
    );
    // The results folder takes files, the plots folder cannot be made (a file
    // is in its place): refused before the first run, so no CSV is written.
    let dir = std::env::temp_dir().join(format!("vma-bench-cli-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plots"), "not a folder").unwrap();
    let out = dir.to_str().unwrap();
    refused(&["sweep", "--quick", "--out", out], &["plots"]);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "no CSV, no probe left: {left:?}");
    // An existing folder that takes no file (even for root) is named, before
    // any run.
    if cfg!(target_os = "linux") {
        refused(
            &["sweep", "--quick", "--out", "/proc/self"],
            &["cannot write in output folder '/proc/self'"],
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `plot a.csv a.csv` counts the runs once and says so in one line.
#[test]
fn plot_of_one_file_twice_notes_it_and_counts_once() {
    let dir = std::env::temp_dir().join(format!("vma-bench-cli-twice-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (code, row, stderr) = vma_bench(&[
        "run",
        "--scheme",
        "leak",
        "--threads",
        "1",
        "--faults",
        "5000",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let csv = dir.join("a.csv");
    std::fs::write(&csv, row).unwrap();
    let (csv, plots) = (csv.to_str().unwrap(), dir.join("plots"));
    let (code, stdout, stderr) = vma_bench(&["plot", csv, csv, "--out", plots.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("note:") && stderr.contains("more than once"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(stdout.trim()).unwrap();
    assert!(
        html.contains("Every one of the 1 measured runs"),
        "counted once"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_succeeds_and_prints_header_and_row() {
    let (code, stdout, _) = vma_bench(&[
        "run",
        "--scheme",
        "typesafe",
        "--threads",
        "2",
        "--faults",
        "10000",
    ]);
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 2);
}

#[cfg(target_os = "linux")]
#[test]
fn linux_refuses_what_one_process_cannot_be() {
    for (args, bad) in [
        (&["run", "--scheme", "linux", "--mms", "2"][..], "--mms 2"),
        (
            &["run", "--scheme", "linux", "--widen", "1"][..],
            "--widen 1",
        ),
        (
            &[
                "sweep",
                "--schemes",
                "linux",
                "--mms",
                "3",
                "--out",
                "/proc/x",
            ][..],
            "--mms 3",
        ),
    ] {
        let (code, stdout, stderr) = vma_bench(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(bad), "{args:?}: {stderr}");
    }
}

/// `MemTotal` of /proc/meminfo in bytes, where readable.
fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// --mms and --slots each in range but together more than the machine can
/// hold: refused before any run, by run and by sweep, with the estimate and
/// the machine's memory, exit 2 and no backtrace.
#[test]
fn sizes_that_cannot_fit_are_refused_before_any_run() {
    // 1024 x 65536 VMAs need more than 15 GiB: refused on machines with less
    // than twice that (on a larger one the run would be made: not tried here).
    if !matches!(mem_total(), Some(t) if t < 30 << 30) {
        eprintln!("skipped: this machine has 30 GiB or more, or no /proc/meminfo");
        return;
    }
    let huge = ["--mms", "1024", "--slots", "65536"];
    let named = [
        "--mms 1024 with --slots 65536",
        "needs at least",
        "MiB",
        "half of this machine's",
    ];
    let mut run = vec!["run", "--scheme", "typesafe"];
    run.extend(huge);
    refused(&run, &named);
    let dir = std::env::temp_dir().join(format!("vma-bench-cli-huge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut sweep = vec![
        "sweep",
        "--quick",
        "--schemes",
        "leak",
        "--out",
        dir.to_str().unwrap(),
    ];
    sweep.extend(huge);
    refused(&sweep, &named);
    assert!(!dir.exists(), "refused before anything was written");
}

/// The real kernel's map count is checked before any run, by run and sweep.
#[cfg(target_os = "linux")]
#[test]
fn linux_mappings_beyond_the_map_count_are_refused_before_any_run() {
    let Some(max) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&m| m < 2 * 65536)
    else {
        eprintln!("skipped: vm.max_map_count allows 65536 slots");
        return;
    };
    let named = ["--slots 65536", "vm.max_map_count", &max.to_string()];
    refused(&["run", "--scheme", "linux", "--slots", "65536"], &named);
    let dir = std::env::temp_dir().join(format!("vma-bench-cli-maps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.to_str().unwrap();
    refused(
        &[
            "sweep",
            "--quick",
            "--schemes",
            "linux",
            "--slots",
            "65536",
            "--out",
            out,
        ],
        &named,
    );
    assert!(!dir.exists(), "refused before anything was written");
}

/// The output layer's lists of the name columns' values (it reads CSVs without
/// the run layer) are the run layer's names, every one.
#[test]
fn the_csv_checks_know_every_name_a_run_writes() {
    use vma_bench::output::results::{CHURN_KINDS, FAULT_WORKS, RCUS, SKEWS};
    use vma_bench::schemes::Flavour;
    use vma_bench::{ChurnKind, FaultWork, Skew};
    let names = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        names(SKEWS.to_vec()),
        names(Skew::ALL.iter().map(|s| s.name()).collect())
    );
    assert_eq!(
        names(CHURN_KINDS.to_vec()),
        names(ChurnKind::ALL.iter().map(|k| k.name()).collect())
    );
    assert_eq!(
        names(FAULT_WORKS.to_vec()),
        names(FaultWork::ALL.iter().map(|w| w.name()).collect())
    );
    let mut rcus =
        vec![
            vma_bench::schemes::SchemeId::kernel_like(vma_bench::schemes::Policy::Leak).rcu_name(),
        ];
    rcus.extend(Flavour::ALL.iter().map(|f| f.name()));
    assert_eq!(names(RCUS.to_vec()), names(rcus));
}

#[test]
fn runs_that_could_measure_nothing_or_not_what_was_asked_are_refused() {
    // No operation left for faults: a --faults run would never end.
    refused(
        &[
            "run", "--scheme", "leak", "--churn", "100", "--faults", "10",
        ],
        &["--churn 100", "--exits 0"],
    );
    refused(
        &["run", "--scheme", "typesafe", "--exits", "100"],
        &["--exits 100"],
    );
    // Points are keyed in thousandths of a percent.
    refused(
        &["run", "--scheme", "leak", "--churn", "0.0005"],
        &["--churn 0.0005", "0.001"],
    );
    refused(
        &[
            "run",
            "--scheme",
            "leak",
            "--faults",
            "10",
            "--duration",
            "1",
        ],
        &["--faults", "--duration"],
    );
    // Sweep flags no swept scheme would use.
    refused(
        &[
            "sweep",
            "--schemes",
            "leak",
            "--rcu",
            "epoch",
            "--reps",
            "1",
        ],
        &["--rcu epoch"],
    );
}

#[test]
fn a_completion_script_that_cannot_be_written_is_an_error_not_a_panic() {
    let out = Command::new(env!("CARGO_BIN_EXE_vma-bench"))
        .args(["completions", "bash"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("vma-bench: error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
