# Thin aliases; the README explains each.
CARGO ?= cargo

.PHONY: sweep quick plots test bench loom overhead clean

sweep:
	$(CARGO) run --release -- sweep

plots:
	$(CARGO) run --release -- plot results/latest.csv

quick:
	$(CARGO) run --release -- sweep --quick

test:
	$(CARGO) test --release

bench:
	$(CARGO) bench

loom:
	RUSTFLAGS="--cfg vma_bench_loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --release --test loom

# Instrumentation cost: leak, read-only, 2 s runs at 1 and 2 threads, three
# builds alternating: release (counters, oracle, latency sampling every 256th
# operation), unsampled (--cfg vma_bench_unsampled: the same without sampling)
# and bare (--cfg vma_bench_bare: no counters, no oracle, no sampling), 3 runs
# each. Columns: build, threads, faults, faults_per_sec, sample_every.
# Sampling's cost is release against unsampled; the whole instrumentation's,
# release against bare.
overhead:
	$(CARGO) build --release
	RUSTFLAGS="--cfg vma_bench_unsampled" CARGO_TARGET_DIR=target/unsampled $(CARGO) build --release
	RUSTFLAGS="--cfg vma_bench_bare" CARGO_TARGET_DIR=target/bare $(CARGO) build --release
	for i in 1 2 3; do for t in 1 2; do for b in target/release target/unsampled/release target/bare/release; do \
	  $$b/vma-bench run --scheme leak --threads $$t --duration 2 2>/dev/null \
	    | awk -F, -v b=$$b 'NR==1{for(i=1;i<=NF;i++)c[$$i]=i} NR==2{print b","$$c["threads"]","$$c["faults"]","$$c["faults_per_sec"]","$$c["sample_every"]}'; \
	done; done; done

clean:
	$(CARGO) clean
