//! Host probes: what this machine and its kernel say about themselves, from
//! `/proc`, `/sys` and `getrusage`. The kernel's counters a `linux` run samples
//! around its measured interval ([`KernelSample`]: minor faults, the
//! `vma_lock_*` events of `/proc/vmstat`, the `vm_area_struct` slab cache's
//! objects), the limits it is built within (`vm.max_map_count`), and the machine
//! and build facts a sweep records beside its CSV ([`collect_meta`]: host name,
//! CPU model, cores, kernel release, the slab cache's settings). Every probe
//! answers None (or an error message) where the file or call is not there.

use crate::output::meta::{Meta, Params, VmaCache};
use crate::run::sys;

/// The kernel's count of minor faults taken by this process, all threads, since it
/// started (`getrusage(RUSAGE_SELF).ru_minflt`). Subtract two samples to get the
/// faults of an interval.
pub fn minor_faults() -> Result<u64, String> {
    sys::minor_faults().map_err(|e| format!("linux: getrusage failed: {e}"))
}

/// The kernel's per-VMA lock event counts from `/proc/vmstat`. They are
/// **system-wide** (every process on the machine, since boot) and exist only in
/// kernels built with `CONFIG_PER_VMA_LOCK_STATS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VmaLockStats {
    /// `vma_lock_success`: faults handled under the per-VMA lock.
    pub success: u64,
    /// `vma_lock_abort`: lock attempts abandoned (the fault took `mmap_lock`).
    pub abort: u64,
    /// `vma_lock_retry`: faults that must be retried after the per-VMA lock.
    pub retry: u64,
    /// `vma_lock_miss`: lookups that found no VMA or one that failed validation.
    pub miss: u64,
}

impl VmaLockStats {
    /// The counts since the sample `earlier`.
    pub fn since(&self, earlier: &VmaLockStats) -> VmaLockStats {
        VmaLockStats {
            success: self.success.wrapping_sub(earlier.success),
            abort: self.abort.wrapping_sub(earlier.abort),
            retry: self.retry.wrapping_sub(earlier.retry),
            miss: self.miss.wrapping_sub(earlier.miss),
        }
    }
}

/// Read the `vma_lock_*` counters from `/proc/vmstat`: None if the file is not
/// readable or the kernel does not have them (all four must be present).
pub fn vmstat_vma_lock() -> Option<VmaLockStats> {
    parse_vmstat(&std::fs::read_to_string("/proc/vmstat").ok()?)
}

fn parse_vmstat(text: &str) -> Option<VmaLockStats> {
    let (mut success, mut abort, mut retry, mut miss) = (None, None, None, None);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let slot = match name {
            "vma_lock_success" => &mut success,
            "vma_lock_abort" => &mut abort,
            "vma_lock_retry" => &mut retry,
            "vma_lock_miss" => &mut miss,
            _ => continue,
        };
        *slot = value.parse().ok();
    }
    Some(VmaLockStats {
        success: success?,
        abort: abort?,
        retry: retry?,
        miss: miss?,
    })
}

/// The `vm_area_struct` slab cache as the kernel reports it in
/// `/sys/kernel/slab/vm_area_struct` (system-wide: every process's VMAs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabCounts {
    /// `objects`: objects in use (as SLUB counts them: objects held in per-CPU
    /// caches and sheaves count as in use).
    pub objects: u64,
    /// `total_objects`: objects the cache's slabs can hold.
    pub total_objects: u64,
    /// `object_size`: bytes per object.
    pub object_size: u64,
}

/// Read the `vm_area_struct` cache's counts: None where `/sys/kernel/slab` is not
/// readable (not SLUB, no sysfs, not permitted) or the cache is merged away.
pub fn slab_objects() -> Option<SlabCounts> {
    Some(SlabCounts {
        objects: slab_attribute("objects")?,
        total_objects: slab_attribute("total_objects")?,
        object_size: slab_attribute("object_size")?,
    })
}

/// One numeric attribute of the `vm_area_struct` cache
/// (`/sys/kernel/slab/vm_area_struct/<name>`), None where it is not readable.
pub fn slab_attribute(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/sys/kernel/slab/vm_area_struct/{name}"));
    parse_slab_value(&text.ok()?)
}

/// The first number of a slab attribute (`"1033 N0=1033"` is 1033).
fn parse_slab_value(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// The kernel's counters at one instant: sample before and after a measured
/// interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelSample {
    /// [`minor_faults`]: this process's minor faults.
    pub minflt: u64,
    /// [`vmstat_vma_lock`]: system-wide, if the kernel has it.
    pub vma_lock: Option<VmaLockStats>,
    /// [`slab_objects`]: system-wide, if readable.
    pub slab: Option<SlabCounts>,
}

impl KernelSample {
    /// Read everything now. Fails only if the minor-fault count cannot be read.
    pub fn take() -> Result<KernelSample, String> {
        Ok(KernelSample {
            minflt: minor_faults()?,
            vma_lock: vmstat_vma_lock(),
            slab: slab_objects(),
        })
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// This machine's host name (`unknown` where it cannot be read).
pub fn hostname() -> String {
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
    let read = slab_attribute;
    let c = VmaCache {
        object_size: read("object_size"),
        destroy_by_rcu: read("destroy_by_rcu"),
        sheaf_capacity: read("sheaf_capacity"),
    };
    (c != VmaCache::default()).then_some(c)
}

/// The machine and build facts for a sweep's metadata, with `params`; the caller
/// fills in the rest (the CSV's name, times and run counts, notes).
pub fn collect_meta(params: Params) -> Meta {
    Meta {
        host: hostname(),
        git_commit: env!("VMA_BENCH_GIT_COMMIT").to_string(),
        rustc: env!("VMA_BENCH_RUSTC").to_string(),
        release: !cfg!(debug_assertions),
        cpu_model: cpu_model(),
        cores: Some(std::thread::available_parallelism().map_or(1, |n| n.get())),
        os: std::env::consts::OS.to_string(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        vm_area_struct: vma_cache(),
        params,
        ..Meta::default()
    }
}

/// The machine's memory in bytes (`MemTotal` in `/proc/meminfo`), where readable.
pub fn mem_total_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_total(&text)
}

/// The memory available for new work in bytes (`MemAvailable` in
/// `/proc/meminfo`), where readable.
pub fn mem_available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text, "MemAvailable:")
}

fn parse_meminfo_total(text: &str) -> Option<u64> {
    parse_meminfo(text, "MemTotal:")
}

/// The value of the `/proc/meminfo` line starting with `key`, in bytes.
fn parse_meminfo(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `vm.max_map_count`: the most mappings a process may have, where readable.
pub fn max_map_count() -> Option<usize> {
    read_trimmed("/proc/sys/vm/max_map_count")?.parse().ok()
}

/// The mappings this process has now (lines of `/proc/self/maps`), where
/// readable.
pub fn mappings_in_use() -> Option<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(maps.lines().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vmstat() {
        let text = "nr_free_pages 5\nvma_lock_success 10\nvma_lock_abort 2\n\
                    vma_lock_retry 1\nvma_lock_miss 3\n";
        let s = parse_vmstat(text).expect("all four present");
        assert_eq!((s.success, s.abort, s.retry, s.miss), (10, 2, 1, 3));
        let later = VmaLockStats { success: 15, ..s };
        assert_eq!(later.since(&s).success, 5);
        assert_eq!(parse_vmstat("nr_free_pages 5\nvma_lock_success 10\n"), None);
    }

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       24576000 kB\nMemFree:        100 kB\n";
        assert_eq!(parse_meminfo_total(text), Some(24_576_000 * 1024));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn parses_slab_values() {
        assert_eq!(parse_slab_value("1033 N0=1033\n"), Some(1033));
        assert_eq!(parse_slab_value("192\n"), Some(192));
        assert_eq!(parse_slab_value(""), None);
    }

    #[test]
    fn collect_fills_the_build_facts_and_round_trips() {
        let m = collect_meta(Params {
            reps: 3,
            ..Params::default()
        });
        assert!(!m.rustc.is_empty() && !m.git_commit.is_empty() && m.cores >= Some(1));
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
