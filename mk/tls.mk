# Issue 20: `make bench-tls` (part of `make bench`): owd serve over HTTPS against plain HTTP
# (and plain HTTP with --no-metrics: the counters' cost) in the same run, wrk at 1 and 32
# keep-alive connections; see bench/tls_bench.py. Writes its section of bench/RESULTS.md.
# The tests are tests/serve's (test_tls.py, test_metrics.py, test_packaging.py).
BENCH_TLS_RUNS    ?= 3
BENCH_TLS_SECONDS ?= 5

.PHONY: bench-tls
bench-tls: $(OWD_PROGRAM) $(BENCH_BIN) $(BENCH_VENV)/.installed | bench-deps serve-deps
	$(BENCH_VENV)/bin/python bench/tls_bench.py --owd $(OWD_PROGRAM) --tool $(BENCH_BIN) --dir $(BENCH_DIR) \
	  --runs $(BENCH_TLS_RUNS) --seconds $(BENCH_TLS_SECONDS)

bench: bench-tls
