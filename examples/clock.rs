//! What the latency samples' clock costs on this machine: `cargo run --release
//! --example clock`. Prints the clock's declared resolution
//! (`clock_getres(CLOCK_MONOTONIC)`), the kernel's clocksource, the cost of one
//! reading (`vma_bench::clock::now`, 10 million back to back) and the smallest
//! and median non-zero step between two back-to-back readings (its effective
//! resolution). Timings: run it on a quiet machine.

use std::time::Instant;

use vma_bench::clock::{now, ns_between};

fn main() {
    let mut res = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_getres writes one timespec into the valid pointer we pass.
    let rc = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC, &mut res) };
    if rc == 0 {
        println!(
            "clock_getres(CLOCK_MONOTONIC): {} ns",
            res.tv_sec * 1_000_000_000 + res.tv_nsec
        );
    }
    let source =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    if let Ok(s) = source {
        println!("clocksource: {}", s.trim());
    }
    const N: u32 = 10_000_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t0 = Instant::now();
        let mut last = now();
        for _ in 0..N {
            last = std::hint::black_box(now());
        }
        std::hint::black_box(last);
        best = best.min(t0.elapsed().as_nanos() as f64 / f64::from(N));
    }
    println!("one reading: {best:.1} ns (best of 5 x {N} back to back)");
    let mut steps: Vec<u64> = (0..1_000_000)
        .map(|_| {
            let a = now();
            let b = now();
            ns_between(a, b)
        })
        .filter(|&d| d > 0)
        .collect();
    steps.sort_unstable();
    if let (Some(min), Some(med)) = (steps.first(), steps.get(steps.len() / 2)) {
        println!("step between two readings: smallest {min} ns, median {med} ns");
    }
}
