# The operation table (issue 13): tools/gen_shapes.py generates, from botocore 1.39.17's
# OpsWorks model plus owd's own operations, the Swift operation table and typed requests,
# tests/hardening/shapes.json, the fuzz dictionary and seeds, the Python operation list,
# stub and model, and docs/operations.md (whose examples it runs against the built
# library). This suite fails when any committed file differs from a fresh generation.
# The botocore venv is the Python suite's (mk/python.mk).
.PHONY: test-generated generate
test-generated: $(LIB) .build/venv-botocore139/.ready
	@echo "== generated files = tools/gen_shapes.py's output"
	@.build/venv-botocore139/bin/python tools/gen_shapes.py --check --lib $(LIB)

# Regenerates every file (after a change of the table or of an operation's answer): the
# sources first, then docs/operations.md with the library built from them.
generate: .build/venv-botocore139/.ready
	.build/venv-botocore139/bin/python tools/gen_shapes.py
	@$(MAKE) --no-print-directory build
	.build/venv-botocore139/bin/python tools/gen_shapes.py --lib $(LIB)

TEST_TARGETS += test-generated
