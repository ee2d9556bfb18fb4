//! Records what built the binary, for the metadata a sweep writes beside its CSV:
//! the git commit (with `-dirty` if the work tree had changes) and `rustc --version`.

use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    // The commit changes with HEAD's log (every commit, checkout or merge writes
    // it) and the tree's state with the index; watch them where they exist (a
    // missing watched path would rerun this script on every build).
    for what in ["HEAD", "logs/HEAD", "index"] {
        if let Some(p) = run("git", &["rev-parse", "--git-path", what]) {
            if std::path::Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
    let commit = run("git", &["rev-parse", "--short=12", "HEAD"]).map(|c| {
        let dirty = run("git", &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|s| !s.is_empty());
        if dirty {
            format!("{c}-dirty")
        } else {
            c
        }
    });
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = run(&rustc, &["--version"]);
    println!(
        "cargo:rustc-env=VMA_BENCH_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!(
        "cargo:rustc-env=VMA_BENCH_RUSTC={}",
        version.unwrap_or_else(|| "unknown".into())
    );
}
