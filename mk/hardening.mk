# Hardening (issue 8): libFuzzer targets for owd_call_json, the bad-input matrix and
# injection tests, and the suites under sanitizers. See fuzz/ and tests/hardening/.
#
#   make fuzz            each fuzz target for FUZZ_SECONDS (default 300) after replaying
#                        the regressions; new inputs go to .build-fuzz/corpus-<target>
#   make test-fuzz       (in make test) the regressions, then each target for
#                        FUZZ_TEST_SECONDS (default 25)
#   make test-badinput   (in make test) tests/hardening/badinput.c against the release library
#   make sanitize        the Swift tests and the C tests under AddressSanitizer (+ UBSan for
#                        all C code: Swift has no -sanitize=undefined on Linux, its own
#                        arithmetic and bounds checks trap), the threaded tests under
#                        ThreadSanitizer
#
# Every sanitizer build has its own scratch path (.build-fuzz, .build-asan, .build-tsan).

SWIFT_BIN    := $(dir $(realpath $(shell command -v $(SWIFT))))
SAN_CC       ?= $(SWIFT_BIN)clang
SAN_CFLAGS   := -g -O1 -fno-omit-frame-pointer -fuse-ld=lld -Wall -Wextra -Werror -std=gnu11 -Iinclude
HARD_DIR     := .build/hardening
# The request shapes, generated with the Swift table from the one operation table by
# tools/gen_shapes.py (checked current by make test-generated).
SHAPES_JSON  := tests/hardening/shapes.json
# The Swift runtime's crash backtracer fights the sanitizers' own reports: off.
SAN_ENV      := SWIFT_BACKTRACE=enable=no

FUZZ_SECONDS      ?= 300
FUZZ_TEST_SECONDS ?= 25
FUZZ_TARGETS      := raw structured
FUZZ_SCRATCH      := .build-fuzz
FUZZ_LIB          := $(FUZZ_SCRATCH)/release/libowd.so
FUZZ_FLAGS        := -max_len=140000 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1
FUZZ_ENV          := $(SAN_ENV) OWD_FUZZ_SHAPES=$(SHAPES_JSON) ASAN_OPTIONS=quarantine_size_mb=64:detect_leaks=1

ASAN_SCRATCH := .build-asan
ASAN_LIB     := $(ASAN_SCRATCH)/debug/libowd.so
TSAN_SCRATCH := .build-tsan
TSAN_LIB     := $(TSAN_SCRATCH)/debug/libowd.so
# UBSan in trapping mode for the C targets: needs no runtime in the Swift-linked test runner.
UBSAN_XCC    := -Xcc -fsanitize=undefined -Xcc -fsanitize-trap=undefined

.PHONY: fuzz test-fuzz test-badinput sanitize sanitize-swift-asan sanitize-c-asan sanitize-tsan

# --- fuzzing ---------------------------------------------------------------------------
# The library with ASan and libFuzzer's coverage (swiftc's -sanitize=fuzzer alone does not
# instrument a whole-module build: the coverage kinds are named).
$(FUZZ_LIB): $(SOURCES) | deps
	$(SWIFT) build -c release --scratch-path $(FUZZ_SCRATCH) --product owd \
	  -Xswiftc -sanitize=fuzzer -Xswiftc -sanitize=address \
	  -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table
	@touch $@

$(FUZZ_SCRATCH)/fuzz-raw: fuzz/fuzz_owd.c include/owd.h $(FUZZ_LIB)
	$(SAN_CC) $(SAN_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< -L$(FUZZ_SCRATCH)/release -lowd -ljansson -Wl,-rpath,$(CURDIR)/$(FUZZ_SCRATCH)/release

$(FUZZ_SCRATCH)/fuzz-structured: fuzz/fuzz_owd.c include/owd.h $(FUZZ_LIB)
	$(SAN_CC) $(SAN_CFLAGS) -DOWD_FUZZ_STRUCTURED -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< -L$(FUZZ_SCRATCH)/release -lowd -ljansson -Wl,-rpath,$(CURDIR)/$(FUZZ_SCRATCH)/release

FUZZ_BINS := $(addprefix $(FUZZ_SCRATCH)/fuzz-,$(FUZZ_TARGETS))

# $(call run-fuzz,target,seconds): regressions replayed once each, then fuzzing from the
# seed corpus (new inputs kept in .build-fuzz/corpus-<target>, never in the repo).
define run-fuzz
	@echo "== fuzz-$(1): fuzz/regressions replayed"
	@$(FUZZ_ENV) $(FUZZ_SCRATCH)/fuzz-$(1) $(FUZZ_FLAGS) fuzz/regressions/* > $(FUZZ_SCRATCH)/regressions-$(1).log 2>&1 \
	  || { cat $(FUZZ_SCRATCH)/regressions-$(1).log; exit 1; }
	@echo "== fuzz-$(1): $(2) s"
	@mkdir -p $(FUZZ_SCRATCH)/corpus-$(1) $(FUZZ_SCRATCH)/artifacts-$(1)
	@$(FUZZ_ENV) $(FUZZ_SCRATCH)/fuzz-$(1) $(FUZZ_FLAGS) -max_total_time=$(2) \
	  -artifact_prefix=$(FUZZ_SCRATCH)/artifacts-$(1)/ -dict=fuzz/owd.dict \
	  $(FUZZ_SCRATCH)/corpus-$(1) fuzz/corpus/seed > $(FUZZ_SCRATCH)/fuzz-$(1).log 2>&1 \
	  || { grep -v -e '^#' -e NEW_FUNC $(FUZZ_SCRATCH)/fuzz-$(1).log | tail -60; \
	       echo "fuzz-$(1) found a crash: see $(FUZZ_SCRATCH)/artifacts-$(1)/"; exit 1; }
	@grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' $(FUZZ_SCRATCH)/fuzz-$(1).log | tr '\n' ' '; echo

endef

test-fuzz: $(FUZZ_BINS) $(SHAPES_JSON)
	$(foreach t,$(FUZZ_TARGETS),$(call run-fuzz,$(t),$(FUZZ_TEST_SECONDS)))
	@echo "test-fuzz: passed"

fuzz: $(FUZZ_BINS) $(SHAPES_JSON)
	$(foreach t,$(FUZZ_TARGETS),$(call run-fuzz,$(t),$(FUZZ_SECONDS)))
	@echo "fuzz: no crash in $(words $(FUZZ_TARGETS)) targets x $(FUZZ_SECONDS) s"

# --- the bad-input matrix and injection -------------------------------------------------
$(HARD_DIR)/badinput: tests/hardening/badinput.c include/owd.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS) -lsqlite3

test-badinput: $(HARD_DIR)/badinput $(SHAPES_JSON)
	@echo "== tests/hardening/badinput.c"
	@mkdir -p $(HARD_DIR)/scratch
	@$(HARD_DIR)/badinput $(SHAPES_JSON) $(HARD_DIR)/scratch 2> $(HARD_DIR)/badinput.log \
	  || { head -c 20000 $(HARD_DIR)/badinput.log; exit 1; }

TEST_TARGETS += test-badinput test-fuzz

# --- sanitizers ------------------------------------------------------------------------
sanitize: sanitize-swift-asan sanitize-c-asan sanitize-tsan
	@echo "sanitize: clean (ASan+UBSan: Swift tests, C tests, bad-input matrix; TSan: threaded tests)"

sanitize-swift-asan: | deps
	@echo "== swift test under AddressSanitizer (C targets with UBSan)"
	$(SAN_ENV) LSAN_OPTIONS=suppressions=$(CURDIR)/tests/hardening/lsan.supp \
	  $(SWIFT) test --scratch-path $(ASAN_SCRATCH) -Xswiftc -sanitize=address $(UBSAN_XCC)

$(ASAN_LIB): $(SOURCES) | deps
	$(SWIFT) build --scratch-path $(ASAN_SCRATCH) --product owd -Xswiftc -sanitize=address $(UBSAN_XCC)
	@touch $@

# The C programs built with ASan+UBSan and linked against the ASan library.
ASAN_LINK := -L$(ASAN_SCRATCH)/debug -lowd -ljansson -Wl,-rpath,$(CURDIR)/$(ASAN_SCRATCH)/debug
$(ASAN_SCRATCH)/c/%: | $(ASAN_SCRATCH)/c
$(ASAN_SCRATCH)/c:
	@mkdir -p $@

sanitize-c-asan: $(ASAN_LIB) $(SHAPES_JSON) | $(ASAN_SCRATCH)/c
	@echo "== C tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	$(SAN_CC) $(SAN_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -o $(ASAN_SCRATCH)/c/badinput \
	  tests/hardening/badinput.c $(ASAN_LINK) -lsqlite3
	@mkdir -p $(ASAN_SCRATCH)/c/scratch
	$(SAN_ENV) $(ASAN_SCRATCH)/c/badinput $(SHAPES_JSON) $(ASAN_SCRATCH)/c/scratch 2> $(ASAN_SCRATCH)/c/badinput.log \
	  || { head -c 20000 $(ASAN_SCRATCH)/c/badinput.log; exit 1; }
	$(SAN_CC) $(SAN_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -o $(ASAN_SCRATCH)/c/example \
	  examples/c/deployments.c $(ASAN_LINK)
	$(SAN_ENV) $(ASAN_SCRATCH)/c/example > /dev/null
	@if [ -f tests/c/test_abi.c ]; then \
	  echo "$(SAN_CC) ... tests/c/test_abi.c (ASan+UBSan)"; \
	  $(SAN_CC) $(SAN_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -o $(ASAN_SCRATCH)/c/test_abi \
	    tests/c/test_abi.c $(ASAN_LINK) -lpthread && \
	  $(SAN_ENV) $(ASAN_SCRATCH)/c/test_abi 2> $(ASAN_SCRATCH)/c/test_abi.log \
	    || { tail -c 20000 $(ASAN_SCRATCH)/c/test_abi.log; exit 1; }; \
	fi

# ThreadSanitizer: the threaded Swift tests, and the C tests (their thread tests) against a
# TSan build of the library.
# The TSan runtime intercepts libdispatch and Blocks: the test runner must link them.
SWIFT_LIBDIR := $(realpath $(SWIFT_BIN)../lib/swift/linux)
TSAN_LINK := -Xlinker -ldispatch -Xlinker -lBlocksRuntime
TSAN_SWIFT_FILTER ?= visibleFromEveryThread|EdgeCase|[Tt]hread|[Cc]oncurren
$(TSAN_LIB): $(SOURCES) | deps
	$(SWIFT) build --scratch-path $(TSAN_SCRATCH) --product owd -Xswiftc -sanitize=thread $(TSAN_LINK)
	@touch $@

sanitize-tsan: $(TSAN_LIB) | deps
	@echo "== threaded tests under ThreadSanitizer"
	$(SAN_ENV) $(SWIFT) test --scratch-path $(TSAN_SCRATCH) -Xswiftc -sanitize=thread $(TSAN_LINK) --filter '$(TSAN_SWIFT_FILTER)'
	@mkdir -p $(TSAN_SCRATCH)/c
	@if [ -f tests/c/test_abi.c ]; then \
	  $(SAN_CC) $(SAN_CFLAGS) -fsanitize=thread -o $(TSAN_SCRATCH)/c/test_abi tests/c/test_abi.c \
	    -L$(TSAN_SCRATCH)/debug -lowd -ljansson -lpthread -Wl,-rpath,$(CURDIR)/$(TSAN_SCRATCH)/debug \
	    -L$(SWIFT_LIBDIR) -ldispatch -lBlocksRuntime -Wl,-rpath,$(SWIFT_LIBDIR) && \
	  $(SAN_ENV) TSAN_OPTIONS=halt_on_error=1 $(TSAN_SCRATCH)/c/test_abi 2> $(TSAN_SCRATCH)/c/test_abi.log \
	    || { tail -c 20000 $(TSAN_SCRATCH)/c/test_abi.log; exit 1; }; \
	fi
