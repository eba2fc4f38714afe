# The C ABI's suite (issue 3): tests/c against the built libowd.so, the exported symbols
# against include/owd.h, memcheck of the example and the tests, the library with the Swift
# toolchain hidden, and `make install` used through pkg-config. Any failure fails make.

C_TESTS     := $(RELEASE)/c-tests
C_TEST_ABI  := $(C_TESTS)/test_abi
C_EXAMPLE   := $(RELEASE)/example-deployments
VALGRIND_SUPP := tests/c/valgrind.supp

.PHONY: test-c test-c-abi test-c-symbols test-c-memcheck test-c-self-contained test-c-install test-c-readme

$(C_TEST_ABI): tests/c/test_abi.c tests/c/harness.h include/owd.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS) -lpthread

# One after the other (even under -j): each prints its own summary.
test-c: $(LIB) $(C_TEST_ABI) $(C_EXAMPLE)
	@$(MAKE) --no-print-directory test-c-abi
	@$(MAKE) --no-print-directory test-c-symbols
	@$(MAKE) --no-print-directory test-c-memcheck
	@$(MAKE) --no-print-directory test-c-self-contained
	@$(MAKE) --no-print-directory test-c-install
	@$(MAKE) --no-print-directory test-c-readme
	@echo "test-c: passed"

test-c-abi: $(C_TEST_ABI)
	@echo "== tests/c/test_abi.c"
	@$(C_TEST_ABI) 2> $(C_TESTS)/test_abi.log || { cat $(C_TESTS)/test_abi.log; exit 1; }

test-c-symbols: $(LIB)
	@echo "== exported symbols = include/owd.h"
	@sh tests/c/check_symbols.sh include/owd.h $(LIB)

test-c-memcheck: $(C_TEST_ABI) $(C_EXAMPLE) | deps
	@echo "== valgrind memcheck"
	@sh tests/c/memcheck.sh $(VALGRIND_SUPP) $(C_EXAMPLE)
	@sh tests/c/memcheck.sh $(VALGRIND_SUPP) $(C_TEST_ABI)

test-c-self-contained: $(LIB) $(C_TEST_ABI) $(C_EXAMPLE)
	@echo "== libowd.so without the Swift toolchain"
	@sh tests/c/self_contained.sh $(LIB) $(C_EXAMPLE) $(C_TEST_ABI)

test-c-install: $(LIB) | deps
	@echo "== make install PREFIX=<tmp> + pkg-config"
	@sh tests/c/install.sh "$(MAKE)" "$(CC)" $(VERSION)

test-c-readme: $(LIB) | deps
	@echo "== README.md's C snippet against make install PREFIX=<tmp>"
	@sh tests/c/readme.sh "$(MAKE)"

TEST_TARGETS += test-c
