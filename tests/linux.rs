//! The `linux` scheme against the real kernel: every fault the harness counts must
//! be a minor fault the kernel counts, replacements must never break a fault, and
//! bad configurations must be refused with a message.
//!
//! The kernel's minor-fault count covers the whole process, so these tests run one
//! at a time (a shared lock) in their own test binary. The count is compared with
//! every page the scheme wrote (`Linux::writes`), which includes the driver's
//! warm-up: even with a zero warm-up, workers run until they see the measuring
//! phase, and with more threads than CPUs that can be many faults the measured
//! `faults` leave out. What else faults during a run: the worker pool's new
//! threads (stacks, thread-local storage, allocator arenas) and the driver's
//! allocations, a few hundred pages; [`SLACK`] leaves room for that, far below the
//! 2x that a write taking two faults would give.
//!
//! `measure` (ignored by default) prints throughput:
//! `cargo test --release --test linux -- --ignored --nocapture measure`.

#![cfg(target_os = "linux")]

use std::sync::Mutex;
use std::time::Duration;

use vma_bench::clock::Untimed;
use vma_bench::model::counters::Counters;
use vma_bench::run::host;
use vma_bench::run::kernel::{self, Linux};
use vma_bench::{drive, Layout, Limit, MapKind, RunConfig, RunResult, Skew, VmaLookup};

/// Minor faults the process may take beyond the harness's own.
const SLACK: u64 = 5_000;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn layout(slots: usize) -> Layout {
    Layout { mms: 1, slots }
}

fn config(threads: usize, churn_pct: f64, skew: Skew, limit: Limit) -> RunConfig {
    RunConfig {
        threads,
        churn_pct,
        churn_kind: vma_bench::ChurnKind::Replace,
        exits_pct: 0.0,
        changes_pct: 0.0,
        forks_pct: 0.0,
        limit,
        warmup: Duration::ZERO,
        skew,
        seed: 7,
        probe: Default::default(),
    }
}

/// What one run gave.
struct Run {
    r: RunResult,
    /// The kernel's minor faults over the whole run.
    kernel: u64,
    /// Pages the scheme wrote over the whole run, warm-up included.
    writes: u64,
}

/// Run `cfg` on a fresh scheme.
fn run(slots: usize, cfg: &RunConfig) -> Run {
    let scheme = Linux::new(layout(slots)).expect("the linux scheme on Linux");
    let before = host::minor_faults().expect("getrusage");
    let r = drive(&scheme, cfg);
    let after = host::minor_faults().expect("getrusage");
    assert_eq!(scheme.errors(), 0, "{:?}", scheme.first_error());
    Run {
        r,
        kernel: after - before,
        writes: scheme.writes(),
    }
}

/// The harness's faults were the kernel's faults: every write the scheme made
/// (the measured faults and the driver's unmeasured warm-up) was a kernel minor
/// fault, and the kernel counted not many more.
fn check_real(run: &Run) {
    let Run { r, kernel, writes } = run;
    let harness = r.totals.faults;
    assert!(harness > 0);
    assert!(harness <= *writes, "{harness} faults but {writes} writes");
    assert_eq!(r.totals.wrong, 0, "writes found a populated page");
    assert!(
        kernel >= writes,
        "kernel counted {kernel} minor faults, the scheme wrote {writes} pages \
         ({harness} measured faults)"
    );
    assert!(
        *kernel <= writes + writes / 100 + SLACK,
        "kernel counted {kernel} minor faults for {writes} writes"
    );
}

#[test]
fn faults_are_kernel_faults() {
    let _g = serial();
    let n = 20_000;
    let cfg = config(2, 0.0, Skew::Uniform, Limit::ops_per_thread(n));
    let run = run(8, &cfg);
    assert_eq!(run.r.totals.faults, 2 * n);
    assert_eq!((run.r.totals.maps, run.r.totals.unmaps), (0, 0));
    check_real(&run);
}

#[test]
fn shared_hot_region_is_never_double_counted() {
    let _g = serial();
    // Ten threads on one 512-page region hold more pages than it has (64 each):
    // threads run out of pages, clear their own and wait for others' releases.
    let n = 5_000;
    let cfg = config(10, 0.0, Skew::Hot, Limit::ops_per_thread(n));
    let run = run(2, &cfg);
    assert_eq!(run.r.totals.faults, 10 * n);
    check_real(&run);
}

#[test]
fn churn_replaces_mappings_under_faults() {
    let _g = serial();
    let n = 20_000;
    for skew in [Skew::Uniform, Skew::Hot] {
        let cfg = config(2, 5.0, skew, Limit::ops_per_thread(n));
        let run = run(4, &cfg);
        let t = run.r.totals;
        assert!(t.maps > 0, "{skew:?}: no replacement in {n} operations");
        assert_eq!(t.maps, t.unmaps);
        assert_eq!(t.faults + t.maps, 2 * n);
        check_real(&run);
    }
}

#[test]
fn stops_on_a_fault_limit() {
    let _g = serial();
    let cfg = config(2, 1.0, Skew::Uniform, Limit::faults(30_000));
    let run = run(16, &cfg);
    assert!(run.r.totals.faults >= 30_000);
    check_real(&run);
}

/// `(start, end, perms, flags)` of the mapping starting at `start` in
/// /proc/self/smaps.
fn mapping(start: u64) -> Option<(u64, u64, String, String)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let mut found: Option<(u64, u64, String)> = None;
    for line in smaps.lines() {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
            if let Some((s, e, perms)) = found.take() {
                return Some((s, e, perms, flags.trim().to_string()));
            }
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(range), Some(perms)) = (words.next(), words.next()) else {
            continue;
        };
        let Some((s, e)) = range.split_once('-') else {
            continue;
        };
        let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else {
            continue;
        };
        if s == start {
            found = Some((s, e, perms.to_string()));
        }
    }
    None
}

fn assert_regions_are_vmas(scheme: &Linux, slots: usize) {
    for slot in 0..slots {
        let (start, end) = scheme.region(slot).expect("a region per slot");
        let (s, e, perms, flags) = mapping(start).expect("a mapping at each region");
        assert_eq!(
            (s, e),
            (start, end),
            "slot {slot} is not one VMA of its own"
        );
        assert_eq!(perms, "rw-p");
        assert!(
            flags.split_whitespace().any(|f| f == "nh"),
            "slot {slot} allows huge pages: {flags}"
        );
    }
    assert_eq!(scheme.region(slots), None);
}

#[test]
fn each_slot_is_its_own_vma_before_and_after_replacement() {
    let _g = serial();
    let slots = 4;
    let scheme = Linux::new(layout(slots)).expect("the linux scheme on Linux");
    assert_eq!(scheme.label(), "linux");
    assert_eq!(scheme.layout(), layout(slots));
    assert_regions_are_vmas(&scheme, slots);
    let c = Counters::default();
    let l = scheme.layout();
    {
        let mut h = scheme.handle(0);
        for slot in 0..slots {
            for page in 0..100 {
                scheme.fault(&mut h, 0, l.addr(slot, page), &c);
            }
            scheme.replace(&mut h, 0, slot, MapKind::Fresh, &c, &mut Untimed);
            scheme.replace(&mut h, 0, slot, MapKind::Copy, &c, &mut Untimed);
        }
    }
    let t = c.snapshot();
    assert_eq!(
        (t.faults, t.maps, t.unmaps, t.wrong),
        (100 * slots as u64, 2 * slots as u64, 2 * slots as u64, 0)
    );
    assert_eq!(scheme.errors(), 0, "{:?}", scheme.first_error());
    assert_regions_are_vmas(&scheme, slots);
    let (start, _) = scheme.region(0).expect("slot 0");
    drop(scheme);
    assert_eq!(mapping(start), None, "drop left the region mapped");
}

#[test]
fn bad_layouts_are_refused_with_a_message() {
    let _g = serial();
    for mms in [0, 2, 64] {
        let e = Linux::new(Layout { mms, slots: 4 }).expect_err("mms != 1");
        assert!(e.contains("--mms") && e.contains(&mms.to_string()), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
    let e = Linux::new(layout(0)).expect_err("no slots");
    assert!(e.contains("--slots 0"), "{e}");
    let e = Linux::new(layout(1 << 20)).expect_err("past vm.max_map_count");
    assert!(e.contains("max_map_count"), "{e}");
}

#[test]
fn kernel_counters_are_readable() {
    let _g = serial();
    kernel::available().expect("Linux");
    let a = host::KernelSample::take().expect("getrusage");
    // Populate fresh memory through the allocator: faults the count must see.
    let v = vec![1u8; 64 << 20];
    let b = host::KernelSample::take().expect("getrusage");
    assert_eq!(v.iter().map(|&x| x as usize).sum::<usize>(), 64 << 20);
    assert!(b.minflt > a.minflt, "{a:?} {b:?}");
    if let Some(s) = b.slab {
        assert!(s.object_size > 0 && s.objects <= s.total_objects, "{s:?}");
    }
    if let (Some(x), Some(y)) = (a.vma_lock, b.vma_lock) {
        // System-wide counts only grow.
        assert!(y.success >= x.success, "{x:?} {y:?}");
    }
}

/// Throughput and the kernel's fault ratio, printed (no assertion on time).
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn measure() {
    let _g = serial();
    let secs = std::env::var("LINUX_MEASURE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    println!(
        "slab before: {:?}\nvmstat vma_lock: {:?}",
        host::slab_objects(),
        host::vmstat_vma_lock()
    );
    println!(
        "threads churn% skew     Mfaults/s     faults     writes  kernel_minflt  \
         kernel/faults  kernel/writes   maps"
    );
    for skew in [Skew::Uniform, Skew::Hot] {
        for threads in [1, 2] {
            for churn in [0.0, 1.0] {
                let cfg = config(
                    threads,
                    churn,
                    skew,
                    Limit::time(Duration::from_secs_f64(secs)),
                );
                let Run { r, kernel, writes } = run(64, &cfg);
                let f = r.totals.faults;
                println!(
                    "{threads:>7} {churn:>6} {:<8} {:>9.3} {f:>10} {writes:>10} {kernel:>14} \
                     {:>14.4} {:>14.4} {:>6}",
                    skew.name(),
                    r.faults_per_sec() / 1e6,
                    kernel as f64 / f as f64,
                    kernel as f64 / writes as f64,
                    r.totals.maps
                );
                assert_eq!(r.totals.wrong, 0);
            }
        }
    }
    println!("slab after: {:?}", host::slab_objects());
}

/// The CSV row of a `linux` run: the kernel's minor faults over the measured
/// interval cover the harness's faults, and the columns user space cannot see
/// are empty, not 0.
#[test]
fn a_linux_row_proves_its_faults_and_leaves_the_invisible_empty() {
    let _g = serial();
    let spec = vma_bench::RunSpec {
        scheme: vma_bench::SchemeId::kernel_like(vma_bench::schemes::Policy::Linux),
        config: RunConfig {
            warmup: Duration::from_millis(20),
            ..config(
                2,
                1.0,
                Skew::Uniform,
                Limit::time(Duration::from_millis(200)),
            )
        },
        layout: layout(8),
        work: vma_bench::FaultWork::Page,
        settings: Default::default(),
        widen: 0,
    };
    let row = vma_bench::run_row(&spec).expect("linux runs on Linux");
    assert_eq!((row.scheme.as_str(), row.mms), ("linux", 1));
    assert!(row.faults > 0 && row.wrong == 0, "{row:?}");
    let kernel = row.kernel_minflt.expect("getrusage is readable");
    assert!(
        kernel >= row.faults,
        "kernel {kernel} < harness {}",
        row.faults
    );
    assert!(kernel <= row.faults + row.faults / 100 + SLACK, "{row:?}");
    assert_eq!(
        (
            row.lock_success,
            row.vma_call_rcu,
            row.vma_freed_now,
            row.reused
        ),
        (None, None, None, None)
    );
    assert_eq!(
        (row.peak_waiting_bytes, row.vma_call_rcu_per_unmap),
        (None, None)
    );
    assert!(row.valid && row.joined == 2, "{row:?}");
    // Slab counts come in pairs: both where the cache is readable, else neither.
    assert_eq!(
        row.slab_objects_before.is_some(),
        row.slab_objects_after.is_some()
    );
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(&row).unwrap();
    let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    let line = text.lines().nth(1).unwrap();
    assert!(line.contains(",,,,,,,"), "empty cells, not zeros: {line}");
}

#[test]
fn the_floor_loop_makes_one_kernel_fault_per_page_it_writes() {
    let _g = serial();
    if kernel::available().is_err() {
        eprintln!("skipped: the linux scheme cannot run here");
        return;
    }
    let faults = 20_000;
    let floor = vma_bench::run::floor::touch_loop(16, faults, 7).unwrap();
    assert_eq!(floor.faults, faults);
    // The kernel's count and the loop's are independent tallies: every page
    // written is fresh (the loop checks it read zero), so each is one fault.
    assert!(
        floor.minflt >= faults && floor.minflt <= faults + SLACK,
        "{} pages written, {} minor faults",
        faults,
        floor.minflt
    );
}
