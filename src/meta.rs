//! What a sweep records beside its CSV so that it can be reproduced: the machine,
//! the build and every parameter. Written as JSON (`sweep-<time>.json`).

use serde::{Deserialize, Serialize};

/// The host kernel's `vm_area_struct` slab cache settings, from
/// `/sys/kernel/slab/vm_area_struct` (each None where that attribute is absent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VmaCache {
    /// `object_size`: bytes per VMA.
    pub object_size: Option<u64>,
    /// `destroy_by_rcu`: 1 when the cache is SLAB_TYPESAFE_BY_RCU.
    pub destroy_by_rcu: Option<u64>,
    /// `sheaf_capacity`: objects per per-CPU sheaf (kernels with sheaves).
    pub sheaf_capacity: Option<u64>,
}

/// The sweep's parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Scheme names.
    pub schemes: Vec<String>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Churn percentages.
    pub churn_pct: Vec<f64>,
    /// Skews.
    pub skews: Vec<String>,
    /// Repetitions of every point.
    pub reps: u32,
    /// Measured seconds per run.
    pub duration_s: f64,
    /// Warm-up seconds per run.
    pub warmup_s: f64,
    /// Address spaces (models; `linux` always has 1).
    pub mms: usize,
    /// Mappings per address space.
    pub slots: usize,
    /// Seed of repetition 0 (repetition `r` uses `seed + r`).
    pub seed: u64,
}

/// Everything recorded beside a sweep's CSV.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The CSV this describes (file name, same folder).
    pub csv: String,
    /// Host name.
    pub host: String,
    /// `git rev-parse --short HEAD` when the binary was built (`-dirty` if the
    /// tree had uncommitted changes).
    pub git_commit: String,
    /// `rustc --version` of the build.
    pub rustc: String,
    /// Whether the binary was an optimised build.
    pub release: bool,
    /// CPU model (`/proc/cpuinfo`), where readable.
    pub cpu_model: Option<String>,
    /// CPUs available to this process.
    pub cores: usize,
    /// Operating system.
    pub os: String,
    /// Kernel release (`/proc/sys/kernel/osrelease`), where readable.
    pub kernel: Option<String>,
    /// The host kernel's VMA cache, where readable.
    pub vm_area_struct: Option<VmaCache>,
    /// The sweep's parameters.
    pub params: Params,
    /// Sweep start, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Sweep end (0 while it runs or if it was interrupted).
    pub finished_unix: u64,
    /// Runs planned.
    pub runs_planned: usize,
    /// Runs written to the CSV.
    pub runs_done: usize,
    /// Whether the sweep was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// Notes (a scheme skipped, and why).
    pub notes: Vec<String>,
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// This machine's host name (`unknown` where it cannot be read).
pub fn host() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn vma_cache() -> Option<VmaCache> {
    let read = crate::linux::slab_attribute;
    let c = VmaCache {
        object_size: read("object_size"),
        destroy_by_rcu: read("destroy_by_rcu"),
        sheaf_capacity: read("sheaf_capacity"),
    };
    (c != VmaCache::default()).then_some(c)
}

impl Meta {
    /// The machine and build facts, with `params`; the caller fills in the rest.
    pub fn collect(params: Params) -> Meta {
        Meta {
            host: host(),
            git_commit: env!("VMA_BENCH_GIT_COMMIT").to_string(),
            rustc: env!("VMA_BENCH_RUSTC").to_string(),
            release: !cfg!(debug_assertions),
            cpu_model: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS.to_string(),
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            vm_area_struct: vma_cache(),
            params,
            ..Meta::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_fills_the_build_facts_and_round_trips() {
        let m = Meta::collect(Params {
            reps: 3,
            ..Params::default()
        });
        assert!(!m.rustc.is_empty() && !m.git_commit.is_empty() && m.cores >= 1);
        assert!(
            m.rustc.starts_with("rustc") || m.rustc == "unknown",
            "{}",
            m.rustc
        );
        let json = serde_json::to_string(&m).unwrap();
        let back: Meta = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }
}
