# Thin aliases; the README explains each.
CARGO ?= cargo

.PHONY: sweep quick plots test bench loom clean

sweep:
	$(CARGO) run --release -- sweep

quick:
	$(CARGO) run --release -- sweep --quick

test:
	$(CARGO) test --release

bench:
	$(CARGO) bench

loom:
	RUSTFLAGS="--cfg vma_bench_loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --release --test loom

clean:
	$(CARGO) clean
