# The Python binding (bindings/python): its pytest suites, and a conformance check of
# every response they produce against botocore 1.39.17's real OpsWorks model.
PY_VENV      := .build/venv-python
PY_VENV_139  := .build/venv-botocore139
PY_SOURCES   := $(shell find bindings/python -name '*.py' -o -name '*.json' -o -name '*.toml' | grep -v /build/)

# Remade when this file changes (e.g. a package added to the list below).
$(PY_VENV)/.ready: mk/python.mk
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install -q --upgrade pip
	$(PY_VENV)/bin/pip install -q pytest boto3 orjson mypy
	@touch $@

$(PY_VENV_139)/.ready:
	rm -rf $(PY_VENV_139)
	$(PYTHON) -m venv $(PY_VENV_139)
	$(PY_VENV_139)/bin/pip install -q botocore==1.39.17
	@touch $@

# Reinstalled whenever the package or the library changes (the wheel bundles libowd.so).
$(PY_VENV)/.installed: $(PY_VENV)/.ready $(LIB) $(PY_SOURCES) VERSION
	rm -rf bindings/python/build
	$(PY_VENV)/bin/pip install -q --force-reinstall --no-deps ./bindings/python
	@touch $@

# pytest's exit code 5 (nothing collected) fails too: any non-zero status fails make.
# Run from outside the source tree so that the installed package is the one tested.
.PHONY: test-python
test-python: $(LIB) $(PY_VENV)/.installed $(PY_VENV_139)/.ready
	cd bindings/python/tests && OWD_LIBRARY=$(CURDIR)/$(LIB) \
	  OWD_BOTOCORE139_PYTHON=$(CURDIR)/$(PY_VENV_139)/bin/python \
	  $(CURDIR)/$(PY_VENV)/bin/python -m pytest -q -p no:cacheprovider --rootdir=. . ; \
	  status=$$?; if [ $$status -eq 5 ]; then echo "test-python: pytest collected no tests"; fi; exit $$status

TEST_TARGETS += test-python
