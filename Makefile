# Thin aliases; the README explains each.
CARGO ?= cargo

.PHONY: setup sweep quick plots test bench loom overhead instructions pairs rcu-costs clean

# What the build needs beyond the Rust toolchain (liburcu-dev, for the urcu RCU
# flavours), installed only when missing; every target that builds runs it first.
setup:
	scripts/setup

sweep: setup
	$(CARGO) run --release -- sweep

plots:
	$(CARGO) run --release -- plot results/latest.csv

quick: setup
	$(CARGO) run --release -- sweep --quick

test: setup
	$(CARGO) test --release

bench: setup
	$(CARGO) bench

loom:
	RUSTFLAGS="--cfg vma_bench_loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --release --test loom

# Instrumentation cost (scripts/overhead): leak, read-only, three builds:
# release (counters, oracle, latency sampling every 256th operation), unsampled
# (--cfg vma_bench_unsampled: the same without sampling) and bare (--cfg
# vma_bench_bare: no counters, no oracle, no sampling). Instructions per fault
# (callgrind), then throughput over alternating rounds: median ratio of each
# build to unsampled at 1 and 2 threads (REPS, DURATION, THREADS override).
overhead: setup
	$(CARGO) build --release
	RUSTFLAGS="--cfg vma_bench_unsampled" CARGO_TARGET_DIR=target/unsampled $(CARGO) build --release
	RUSTFLAGS="--cfg vma_bench_bare" CARGO_TARGET_DIR=target/bare $(CARGO) build --release
	scripts/overhead

# Instructions per fault of every correct scheme, 1 thread, read-only, counted by
# callgrind (independent of the machine's load): the difference between runs of
# 200k and 400k faults, over 200k.
instructions: setup
	$(CARGO) build --release
	scripts/instructions

# Read-only throughput of every model scheme at 1 and 2 threads, alternating
# rounds, medians: ratios to leak and to deferred free under the same RCU, and
# the read section's ns per fault (REPS, DURATION, THREADS override).
pairs: setup
	$(CARGO) build --release
	scripts/pairs

# ns per read_lock + read_unlock and per call_rcu for each RCU flavour, 1 thread.
rcu-costs: setup
	$(CARGO) test --release --lib -- --ignored --nocapture rcu_costs

clean:
	$(CARGO) clean
