# PostgreSQL stores (issue 18, behaviour.md section 15). Each target starts a throwaway
# cluster (tests/pg/cluster.py: initdb as an unprivileged user under the temporary
# folder, pg_ctl on a free loopback port, removed afterwards) and runs a suite against it
# with OWD_TEST_STORE=postgresql://...: each store the suite opens is a new schema there.
#
#   make test-swift-pg    the OwdCore suite (every section 1-14 rule) on PostgreSQL
#   make test-c-pg        tests/c/test_abi.c on PostgreSQL
#   make test-python-pg   the Python binding's suite on PostgreSQL
#   make test-pg          tests/pg/run.py: two owd serve on one database, a killed server,
#                         pg_terminate_backend mid-run, the SIGKILL crash loop, missing libpq
#   make bench-pg         bench/pg_bench.py (not in make test)
PG_CLUSTER := $(PYTHON) tests/pg/cluster.py run --

.PHONY: test-swift-pg test-c-pg test-python-pg test-pg bench-pg

test-swift-pg: $(MODEL_STAMP) | deps
	$(PG_CLUSTER) $(SWIFT) test --filter OwdCoreTests

test-c-pg: $(C_TEST_ABI) | deps
	@echo "== tests/c/test_abi.c on PostgreSQL"
	@$(PG_CLUSTER) sh -c '$(C_TEST_ABI) 2> $(C_TESTS)/test_abi_pg.log || { cat $(C_TESTS)/test_abi_pg.log; exit 1; }'

test-python-pg: $(LIB) $(PY_VENV)/.installed $(PY_VENV_139)/.ready | deps
	cd bindings/python/tests && OWD_LIBRARY=$(CURDIR)/$(LIB) \
	  OWD_BOTOCORE139_PYTHON=$(CURDIR)/$(PY_VENV_139)/bin/python \
	  $(PYTHON) $(CURDIR)/tests/pg/cluster.py run -- \
	  $(CURDIR)/$(PY_VENV)/bin/python -m pytest -q -p no:cacheprovider --rootdir=. . ; \
	  status=$$?; if [ $$status -eq 5 ]; then echo "test-python-pg: pytest collected no tests"; fi; exit $$status

test-pg: $(LIB) $(OWD_PROGRAM) $(DURABILITY_BIN) | deps
	$(PYTHON) tests/pg/run.py --tool $(DURABILITY_BIN) --owd $(OWD_PROGRAM)

TEST_TARGETS += test-swift-pg test-c-pg test-python-pg test-pg

PG_BENCH_BIN := $(BENCH_DIR)/pg_bench
$(PG_BENCH_BIN): bench/pg_bench.c include/owd.h $(LIB) | deps
	@mkdir -p $(BENCH_DIR)
	$(CC) $(CFLAGS) -I$(shell pg_config --includedir) -o $@ $< $(LDLIBS) -lpq -lpthread

bench-pg: $(PG_BENCH_BIN)
	$(PYTHON) bench/pg_bench.py --tool $(PG_BENCH_BIN)

# `make bench` runs it too.
bench: bench-pg
