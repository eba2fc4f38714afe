# Durability suite (issue 5): crash, processes, threads, refusal, upgrade, permissions,
# cross-process visibility and busy tests against one store file. See tests/durability/.
DURABILITY_BIN := .build/durability/owd-durability

$(DURABILITY_BIN): tests/durability/owd_durability.c include/owd.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -pthread -o $@ $< $(LDLIBS)

.PHONY: test-durability
test-durability: $(LIB) $(DURABILITY_BIN)
	$(PYTHON) tests/durability/run.py --tool $(DURABILITY_BIN)

TEST_TARGETS += test-durability
