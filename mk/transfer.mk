# `owd export` and `owd import` (issue 17, behaviour.md section 16). The rules are tested in
# Swift (Tests/OwdCoreTests/TransferTests.swift, in swift test); the program's subcommands
# in tests/serve/test_transfer.py (make test-serve).
#
#   make bench-import   (part of make bench) owd import against plain SQLite inserts of the
#                       same rows; IMPORT_DEPLOYMENTS (default 1,000,000, each with
#                       IMPORT_COMMANDS commands), IMPORT_ROUNDS rounds; writes its section
#                       of bench/RESULTS.md.
IMPORT_FLOOR       := $(BENCH_DIR)/import_floor
IMPORT_DEPLOYMENTS ?= 1000000
IMPORT_COMMANDS    ?= 1
IMPORT_ROUNDS      ?= 3

.PHONY: bench-import

$(IMPORT_FLOOR): bench/import_floor.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O2 -o $@ $< -lsqlite3

bench-import: $(OWD_PROGRAM) $(IMPORT_FLOOR)
	$(PYTHON) bench/import_bench.py --owd $(OWD_PROGRAM) --floor $(IMPORT_FLOOR) \
	  --deployments $(IMPORT_DEPLOYMENTS) --commands $(IMPORT_COMMANDS) --rounds $(IMPORT_ROUNDS) --dir $(BENCH_DIR)

bench: bench-import
