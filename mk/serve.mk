# `owd serve` and `owd model install` (issue 15): the owd program, and its suite against
# the real aws CLI, boto3, botocore's signer, raw sockets and the Go SDK (tests/serve).
#
#   make build          also builds .build/release/owd (product owd-program, static stdlib)
#   make test-serve     (in make test) tests/serve with pytest
#   make install        also installs $(PREFIX)/bin/owd

OWD_PROGRAM  := $(RELEASE)/owd
SERVE_VENV   := .build/venv-serve
SERVE_TESTS  := $(wildcard tests/serve/*.py tests/serve/*.go)

.PHONY: test-serve install-program serve-deps

build: $(OWD_PROGRAM)
install: install-program

# SwiftPM makes no executable named like the library product: it is built as owd-program
# and placed here as owd.
MODEL_FILES := $(shell find model -type f) bindings/python/opsworks_deployments/data/opsworks/2013-02-18/service-2.sdk-extras.json
# SwiftPM does not see the files files.S includes with .incbin: when one changed, make
# files.S look changed too (mtime only), or the program and the tests keep the old model.
MODEL_STAMP := .build/model-embedded.stamp
$(MODEL_STAMP): $(MODEL_FILES)
	@mkdir -p $(@D)
	@touch Sources/COwdModel/files.S $@
test-swift: $(MODEL_STAMP)

$(OWD_PROGRAM): $(SOURCES) $(MODEL_FILES) $(MODEL_STAMP) | deps
	$(SWIFT) build -c release --product owd-program -Xswiftc -static-stdlib
	cp $(RELEASE)/owd-program $@.tmp && mv -f $@.tmp $@

install-program: $(OWD_PROGRAM)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(OWD_PROGRAM) $(DESTDIR)$(PREFIX)/bin/owd

# The aws CLI v1 and boto3 from PyPI, with the current botocore (which has no OpsWorks).
$(SERVE_VENV)/.ready:
	rm -rf $(SERVE_VENV)
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install -q --upgrade pip
	$(SERVE_VENV)/bin/pip install -q pytest awscli boto3
	@touch $@

# The Go SDK (v1, with service/opsworks) and its compiler, for tests/serve/test_go_sdk.py.
serve-deps:
	@missing=""; \
	command -v go >/dev/null || missing="$$missing golang-go"; \
	[ -d /usr/share/gocode/src/github.com/aws/aws-sdk-go/service/opsworks ] || missing="$$missing golang-github-aws-aws-sdk-go-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

test-serve: $(OWD_PROGRAM) $(LIB) $(SERVE_VENV)/.ready | serve-deps
	@echo "== make install-program: the program in PREFIX/bin, self-contained"
	@rm -rf .build/serve-install && $(MAKE) --no-print-directory -s install-program PREFIX=$(CURDIR)/.build/serve-install
	@.build/serve-install/bin/owd --help | grep -q 'owd serve\|serve ' || { echo "installed owd does not run"; exit 1; }
	@! ldd .build/serve-install/bin/owd | grep -q 'libswift' || { echo "installed owd needs Swift's runtime"; exit 1; }
	@echo "== libowd.so gains no dependency from the program (libmicrohttpd, libcrypto, libcurl)"
	@! readelf -d $(LIB) | grep NEEDED | grep -E 'microhttpd|crypto|ssl|curl' || { echo "libowd.so links the program's libraries"; exit 1; }
	@readelf -d $(OWD_PROGRAM) | grep NEEDED | grep -q 'libcurl' || { echo "the owd program does not link libcurl (owd agent)"; exit 1; }
	@echo "== tests/serve"
	cd tests/serve && OWD_PROGRAM=$(CURDIR)/$(OWD_PROGRAM) OWD_GO_CACHE=$(CURDIR)/.build/go-cache \
	  $(CURDIR)/$(SERVE_VENV)/bin/python -m pytest -q -p no:cacheprovider --rootdir=. . ; \
	  status=$$?; if [ $$status -eq 5 ]; then echo "test-serve: pytest collected no tests"; fi; exit $$status

TEST_TARGETS += test-serve

# `make bench-serve` (part of `make bench`): owd serve against the libmicrohttpd stub and
# moto_server, with wrk; see bench/serve_bench.py. Writes its section of bench/RESULTS.md.
SERVE_STUB   := $(BENCH_DIR)/serve_stub
SERVE_INPROC := $(BENCH_DIR)/serve_inproc

$(SERVE_STUB): bench/serve_stub.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lmicrohttpd -lpthread

$(SERVE_INPROC): bench/serve_inproc.c include/owd.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

.PHONY: bench-serve bench-deps
bench-deps:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# moto_server needs moto's server extra (Flask), beyond what bench.mk's venv has.
$(BENCH_VENV)/.moto-server: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/pip install -q 'moto[server]'
	@touch $@

bench-serve: $(OWD_PROGRAM) $(SERVE_STUB) $(SERVE_INPROC) $(BENCH_BIN) $(BENCH_VENV)/.moto-server | bench-deps
	$(BENCH_VENV)/bin/python bench/serve_bench.py --owd $(OWD_PROGRAM) --stub $(SERVE_STUB) \
	  --inproc $(SERVE_INPROC) --tool $(BENCH_BIN) --dir $(BENCH_DIR)

bench: bench-serve

# The fuzz target for the request path above the HTTP library (Sources/OwdServeFuzz):
# built in fuzz/'s scratch path with the same compiler flags (nothing rebuilt twice), plus
# linker flags that keep libFuzzer's driver, which the program finds at run time.
#   make fuzz-serve        FUZZ_SECONDS (default 300) after replaying fuzz/serve/regressions
#   make test-fuzz-serve   (in make test) the corpus and regressions, then FUZZ_TEST_SECONDS
SERVE_FUZZ     := $(FUZZ_SCRATCH)/release/owd-serve-fuzz
SERVE_FUZZ_ENV := SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0
SERVE_FUZZ_FLAGS := -max_len=70000 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1

.PHONY: fuzz-serve test-fuzz-serve

$(SERVE_FUZZ): $(SOURCES) | deps
	$(SWIFT) build -c release --scratch-path $(FUZZ_SCRATCH) --product owd-serve-fuzz \
	  -Xswiftc -sanitize=fuzzer -Xswiftc -sanitize=address \
	  -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
	  -Xlinker -u -Xlinker LLVMFuzzerRunDriver -Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver
	@touch $@

define run-fuzz-serve
	@echo "== owd-serve-fuzz: fuzz/serve corpus and regressions replayed"
	@$(SERVE_FUZZ_ENV) OWD_SERVE_REPLAY=1 $(SERVE_FUZZ) fuzz/serve/corpus/* $(wildcard fuzz/serve/regressions/*)
	@echo "== owd-serve-fuzz: $(1) s"
	@mkdir -p $(FUZZ_SCRATCH)/corpus-serve $(FUZZ_SCRATCH)/artifacts-serve
	@$(SERVE_FUZZ_ENV) $(SERVE_FUZZ) $(SERVE_FUZZ_FLAGS) -max_total_time=$(1) \
	  -artifact_prefix=$(FUZZ_SCRATCH)/artifacts-serve/ -dict=fuzz/serve/serve.dict \
	  $(FUZZ_SCRATCH)/corpus-serve fuzz/serve/corpus > $(FUZZ_SCRATCH)/fuzz-serve.log 2>&1 \
	  || { grep -v -e '^#' -e NEW_FUNC $(FUZZ_SCRATCH)/fuzz-serve.log | tail -60; \
	       echo "owd-serve-fuzz found a crash: see $(FUZZ_SCRATCH)/artifacts-serve/"; exit 1; }
	@grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' $(FUZZ_SCRATCH)/fuzz-serve.log | tr '\n' ' '; echo
endef

fuzz-serve: $(SERVE_FUZZ)
	$(call run-fuzz-serve,$(FUZZ_SECONDS))

test-fuzz-serve: $(SERVE_FUZZ)
	$(call run-fuzz-serve,$(FUZZ_TEST_SECONDS))

TEST_TARGETS += test-fuzz-serve

# make test builds the benchmark programs (it does not run them): a change of the ABI that
# leaves one behind fails here, not at the next `make bench`.
.PHONY: test-bench-builds
test-bench-builds: $(BENCH_BIN) $(SERVE_STUB) $(SERVE_INPROC)
	@echo "bench: passed: $(notdir $^) build"

TEST_TARGETS += test-bench-builds
