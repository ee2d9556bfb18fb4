//! Records what built the binary, for the metadata a sweep writes beside its CSV:
//! the git commit (with `-dirty` if the work tree had changes) and `rustc --version`.
//!
//! Also looks for liburcu (userspace RCU: its memb and QSBR flavours). When both
//! are found it links them and sets `cfg(vma_bench_urcu)`, which builds the urcu
//! RCU flavours; otherwise they are compiled out. `VMA_BENCH_NO_URCU=1` builds
//! without them even where liburcu is installed.

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
    println!("cargo:rerun-if-env-changed=VMA_BENCH_NO_URCU");
    if std::env::var_os("VMA_BENCH_NO_URCU").is_none() {
        if find_urcu() {
            println!("cargo:rustc-cfg=vma_bench_urcu");
        } else {
            // Nothing is watched for a library that may appear later (a missing
            // path would rerun this script on every build): the next source
            // change or commit looks again, or `touch build.rs`.
            println!(
                "cargo:warning=liburcu not found: the urcu RCU flavours are compiled out \
                 (scripts/setup installs liburcu-dev; then touch build.rs)"
            );
        }
    }
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

/// The liburcu libraries the urcu flavours call: the two flavours and the
/// call_rcu / queue code they share.
const URCU_LIBS: [&str; 3] = ["urcu-memb", "urcu-qsbr", "urcu-common"];

/// Finds liburcu and prints its link flags: through pkg-config (`liburcu-memb`,
/// `liburcu-qsbr`), else by looking for the shared libraries in the usual
/// library directories. Linux only (the memb flavour needs `membarrier`).
fn find_urcu() -> bool {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return false;
    }
    if let Some(libs) = run("pkg-config", &["--libs", "liburcu-memb", "liburcu-qsbr"]) {
        for flag in libs.split_whitespace() {
            if let Some(dir) = flag.strip_prefix("-L") {
                println!("cargo:rustc-link-search=native={dir}");
            } else if let Some(lib) = flag.strip_prefix("-l") {
                println!("cargo:rustc-link-lib=dylib={lib}");
            }
        }
        return true;
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = format!("/usr/lib/{arch}-linux-gnu");
    let dirs = ["/usr/local/lib", &multiarch, "/usr/lib64", "/usr/lib"];
    let has_all = |dir: &str| {
        URCU_LIBS.iter().all(|lib| {
            std::path::Path::new(dir)
                .join(format!("lib{lib}.so"))
                .exists()
        })
    };
    let Some(dir) = dirs.into_iter().find(|dir| has_all(dir)) else {
        return false;
    };
    println!("cargo:rustc-link-search=native={dir}");
    for lib in URCU_LIBS {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    true
}
