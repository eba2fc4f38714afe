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
	+$(MAKE) --no-print-directory bench-group

# (10) Group commit (issue 19): durable creates from 1, 8 and 32 threads, and through 1, 8
# and 32 owd serve connections, against plain SQLite's one-writer floor, on the disk as it is and with every sync made 2 ms slower
# (bench/slow_sync.c, preloaded). Writes its own section of bench/RESULTS.md.
# BENCH_GROUP_BASELINE=<git revision> also measures that revision's library (built from
# `git archive` in .build/bench/baseline-<rev>), for "1 writer: no slower than before".
BENCH_SHIM           := $(BENCH_DIR)/slow_sync.so
BENCH_GROUP_SECONDS  ?= 3
BENCH_GROUP_ROUNDS   ?= 3
BENCH_GROUP_BASELINE ?=
BENCH_BASELINE_DIR   := $(BENCH_DIR)/baseline-$(BENCH_GROUP_BASELINE)
BENCH_BASELINE_LIB   := $(if $(BENCH_GROUP_BASELINE),$(BENCH_BASELINE_DIR)/$(LIB))

$(BENCH_SHIM): bench/slow_sync.c
	@mkdir -p $(BENCH_DIR)
	$(CC) -O2 -Wall -Wextra -Werror -shared -fPIC -o $@ $< -ldl

$(BENCH_BASELINE_DIR)/$(LIB):
	rm -rf $(BENCH_BASELINE_DIR) && mkdir -p $(BENCH_BASELINE_DIR)
	git archive $(BENCH_GROUP_BASELINE) | tar -x -C $(BENCH_BASELINE_DIR)
	$(MAKE) -C $(BENCH_BASELINE_DIR) build

# Through owd serve too (wrk, SigV4 signing from the bench venv's botocore: bench-serve's
# helpers). $(RELEASE)/owd is mk/serve.mk's OWD_PROGRAM (defined after this file is read).
.PHONY: bench-group
bench-group: $(LIB) $(BENCH_BIN) $(BENCH_SHIM) $(BENCH_BASELINE_LIB) $(RELEASE)/owd $(BENCH_VENV)/.installed | bench-deps
	$(BENCH_VENV)/bin/python bench/group.py --tool $(BENCH_BIN) --shim $(BENCH_SHIM) --dir $(BENCH_DIR) --owd $(RELEASE)/owd \
	  --seconds $(BENCH_GROUP_SECONDS) --rounds $(BENCH_GROUP_ROUNDS) \
	  $(if $(BENCH_GROUP_BASELINE),--baseline-lib $(BENCH_BASELINE_LIB) --baseline-rev $(BENCH_GROUP_BASELINE))

# Agent protocol (issue 16, section 14): CreateDeployment -> successful with a no-op hook on
# 1 and 10 agents (p50, p99, against a floor of the same calls back to back) and commands/s
# through one server with 10 agents. Simulated agents, one process each (stdlib Python,
# SigV4), then real `owd agent` processes (--real-agents). Writes its section of bench/RESULTS.md.
BENCH_AGENT_ROUNDS ?= 200
BENCH_AGENT_BURST  ?= 50

.PHONY: bench-agent
bench-agent: $(RELEASE)/owd
	$(PYTHON) bench/agent_protocol_bench.py --owd $(RELEASE)/owd --rounds $(BENCH_AGENT_ROUNDS) --burst $(BENCH_AGENT_BURST) --real-agents

bench: bench-agent
