# `owd export` and `owd import` (issue 17, behaviour.md section 16). The rules are tested in
# Swift (Tests/OwdCoreTests/TransferTests.swift, in swift test); the program's subcommands
# in tests/serve/test_transfer.py (make test-serve).
#
#   make bench-import     (part of make bench) owd import against plain SQLite inserts of the
#                         same rows, measured in the same run; IMPORT_DEPLOYMENTS (default
#                         100,000, each with IMPORT_COMMANDS commands), IMPORT_ROUNDS rounds;
#                         writes its section of bench/RESULTS.md.
#   make bench-import-1m  (not in make bench: minutes, and about 1 GB of files) the issue's size,
#                         1,000,000 deployments with their commands, once, progress shown.
IMPORT_FLOOR       := $(BENCH_DIR)/import_floor
IMPORT_DEPLOYMENTS ?= 100000
IMPORT_COMMANDS    ?= 1
IMPORT_ROUNDS      ?= 3

.PHONY: bench-import bench-import-1m

$(IMPORT_FLOOR): bench/import_floor.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O2 -o $@ $< -lsqlite3

bench-import: $(OWD_PROGRAM) $(IMPORT_FLOOR)
	$(PYTHON) bench/import_bench.py --owd $(OWD_PROGRAM) --floor $(IMPORT_FLOOR) \
	  --deployments $(IMPORT_DEPLOYMENTS) --commands $(IMPORT_COMMANDS) --rounds $(IMPORT_ROUNDS) --dir $(BENCH_DIR)

bench: bench-import

bench-import-1m: $(OWD_PROGRAM) $(IMPORT_FLOOR)
	$(PYTHON) bench/import_bench.py --owd $(OWD_PROGRAM) --floor $(IMPORT_FLOOR) --progress \
	  --deployments 1000000 --commands $(IMPORT_COMMANDS) --rounds 1 --dir $(BENCH_DIR) \
	  --section "## owd import of 1,000,000 deployments (make bench-import-1m)"
