//! The binary itself: exit codes and one-line errors.

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

#[test]
fn an_unwritable_out_fails_before_any_run() {
    let (code, _, stderr) = vma_bench(&["sweep", "--quick", "--out", "/proc/no-such-dir"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/proc/no-such-dir"), "{stderr}");
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
