//! Records what built the binary, for the metadata a sweep writes beside its CSV:
//! the git commit (with `-dirty` if the work tree had changes) and `rustc --version`.
//!
//! Also looks for liburcu (userspace RCU: its memb and QSBR flavours). When both
//! are found it links them and sets `cfg(vma_bench_urcu)`, which builds the urcu
//! RCU flavours; otherwise they are compiled out. `VMA_BENCH_NO_URCU=1` builds
//! without them even where liburcu is installed.
//!
//! liburcu is linked from its static archives (`liburcu-memb.a`, `liburcu-qsbr.a`,
//! `liburcu-common.a`; Debian's liburcu-dev ships them) wherever they are
//! installed, and from the shared libraries only where they are not. The reason
//! is the read side: Rust cannot inline liburcu's header-inline
//! `rcu_read_lock()`, so it calls the exported `urcu_memb_read_lock()` /
//! `urcu_memb_read_unlock()`, and in the shared library each of those reaches
//! the thread's reader state through a PLT call to `__tls_get_addr`
//! (general-dynamic TLS), which triples the pair's cost; the archives' objects
//! use local-exec TLS instead, one `%fs`-relative access. `urcu_qsbr_quiescent_state()`
//! and `call_rcu` gain the same way. A C shim around the header-inline read
//! side (initial-exec TLS) would be no faster: it is still two calls out of
//! Rust, and the calls are what remains. `src/rcu/urcu_sys.rs` has the figures.
//!
//! The three archives or the three shared libraries are linked, from one
//! directory, never a mix: each copy of liburcu has its own registry of reader
//! threads and its own call_rcu machinery, so a process with both would end
//! grace periods without waiting for the other copy's readers. The choice is
//! passed on as `VMA_BENCH_URCU_LINK` (`static` or `shared`), which
//! `rcu::urcu_linkage()` reports. Linking the archives makes the crate
//! linkable into executables only (their objects use local-exec TLS), which is
//! all it builds.

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
        if let Some(link) = find_urcu() {
            println!("cargo:rustc-cfg=vma_bench_urcu");
            println!("cargo:rustc-env=VMA_BENCH_URCU_LINK={}", link.name());
            if link == Link::Shared {
                println!(
                    "cargo:warning=liburcu's static archives not found: linking its shared \
                     libraries, where the urcu-memb read side costs about 3x more"
                );
            }
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

/// How liburcu is linked.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Link {
    /// The static archives (`lib*.a`).
    Static,
    /// The shared libraries (`lib*.so`).
    Shared,
}

impl Link {
    fn name(self) -> &'static str {
        match self {
            Link::Static => "static",
            Link::Shared => "shared",
        }
    }

    /// The file name of `lib` in this form.
    fn file(self, lib: &str) -> String {
        match self {
            Link::Static => format!("lib{lib}.a"),
            Link::Shared => format!("lib{lib}.so"),
        }
    }
}

/// Finds liburcu and prints its link flags: the first directory holding all of
/// [`URCU_LIBS`] in one form, looking where pkg-config says `liburcu-memb` and
/// `liburcu-qsbr` are, then in the usual library directories; in that
/// directory the static archives if all are there, else the shared libraries
/// (never a mix: see the file's doc). Linux only (the memb flavour needs
/// `membarrier`).
fn find_urcu() -> Option<Link> {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return None;
    }
    let mut dirs: Vec<String> = ["liburcu-memb", "liburcu-qsbr"]
        .into_iter()
        .filter_map(|module| run("pkg-config", &["--variable=libdir", module]))
        .filter(|dir| !dir.is_empty())
        .collect();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    dirs.extend([
        "/usr/local/lib".to_string(),
        format!("/usr/lib/{arch}-linux-gnu"),
        "/usr/lib64".to_string(),
        "/usr/lib".to_string(),
    ]);
    let has_all = |dir: &str, link: Link| {
        URCU_LIBS
            .iter()
            .all(|lib| std::path::Path::new(dir).join(link.file(lib)).exists())
    };
    let (dir, link) = dirs.iter().find_map(|dir| {
        [Link::Static, Link::Shared]
            .into_iter()
            .find(|&link| has_all(dir, link))
            .map(|link| (dir, link))
    })?;
    println!("cargo:rustc-link-search=native={dir}");
    let kind = match link {
        Link::Static => "static",
        Link::Shared => "dylib",
    };
    for lib in URCU_LIBS {
        println!("cargo:rustc-link-lib={kind}={lib}");
    }
    Some(link)
}
