# Benchmarks (docs/performance.md). Speed is measured here, never by timed tests.
#   make bench                     N = 1000 projects: generate, fill, validate, consolidate + floors
#   make bench BENCH_ARGS="--consolidate-scale 10000 --wait-quiet 120"   as in docs/performance.md
#   make bench-quick               N = 100: only checks that it runs (CI)
#   make bench-paired              the floor ratios file by file in one process (after make bench)
#   make bench-calc                check on 100 returned files as LibreOffice Calc saves them (after make bench; needs soffice)
#   make bench-sample              where each stage's time goes, sampled by py-spy (after make bench; pip install py-spy)
PY := $(shell [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)
BENCH_ARGS ?=

.PHONY: bench bench-quick bench-paired bench-calc bench-sample

bench:
	$(PY) bench/bench.py $(BENCH_ARGS)

bench-quick:
	$(PY) bench/bench.py --quick $(BENCH_ARGS)

bench-paired:
	$(PY) bench/paired.py --work build/bench/n1000 $(PAIRED_ARGS)

bench-calc:
	$(PY) bench/paired.py --work build/bench/n1000 --files 100 --calc $(PAIRED_ARGS)

bench-sample:
	for stage in generate check write consolidate; do \
		$(PY) bench/sample.py --work build/bench/n1000 --stage $$stage $(SAMPLE_ARGS) || exit 1; done
