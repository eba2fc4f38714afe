# Benchmarks (issue 7): `make bench`, not part of `make test`. See bench/run.py.
# Builds three stores (10,000, 100,000 and 1,000,000 deployments) through the real API once
# and keeps them in .build/bench/ (OWD_BENCH_REBUILD=1 builds them anew), then measures and
# writes bench/RESULTS.md and bench/query-time.png.
BENCH_DIR  := .build/bench
BENCH_BIN  := $(BENCH_DIR)/owd_bench
BENCH_VENV := .build/bench-venv
BENCH_RUNS ?= 15

$(BENCH_BIN): bench/owd_bench.c include/owd.h $(LIB)
	@mkdir -p $(BENCH_DIR)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS) -lsqlite3

# boto3 and moto (its mock of CodeDeploy) for (8), orjson for (8c), matplotlib for the picture.
$(BENCH_VENV)/.installed: mk/bench.mk
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q boto3 'moto[codedeploy]' matplotlib orjson
	@touch $@

.PHONY: bench
bench: $(LIB) $(BENCH_BIN) $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/run.py --tool $(BENCH_BIN) --lib $(LIB) --dir $(BENCH_DIR) --runs $(BENCH_RUNS)
