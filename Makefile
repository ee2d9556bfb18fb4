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

# Instrumentation cost: leak, read-only, with counters and oracle (release) and
# without (--cfg vma_bench_bare), alternating, 3 runs each of 2 s at 1 and 2 threads.
overhead:
	$(CARGO) build --release
	RUSTFLAGS="--cfg vma_bench_bare" CARGO_TARGET_DIR=target/bare $(CARGO) build --release
	for i in 1 2 3; do for t in 1 2; do for b in target/release target/bare/release; do \
	  $$b/vma-bench run --scheme leak --threads $$t --duration 2 | tail -1 | cut -d, -f3,4,15 | sed "s|^|$$b,|"; \
	done; done; done

clean:
	$(CARGO) clean
