# The repository describes itself (issue 12): one version (VERSION, checked against
# include/owd.h, the Makefile, the Python package and CHANGELOG.md), and the contract in
# docs/behaviour.md (a copy of ../shared/spec/behaviour.md, compared where that exists)
# with README and docs pointing only inside the repository.
.PHONY: test-version test-docs

test-version:
	@$(PYTHON) tests/version/check.py --self-test
	@$(PYTHON) tests/version/check.py

test-docs:
	@$(PYTHON) tests/docs/check.py

TEST_TARGETS := test-version test-docs $(TEST_TARGETS)
