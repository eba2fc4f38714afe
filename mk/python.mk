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
	$(PY_VENV)/bin/pip install -q pytest boto3 orjson mypy moto
	@touch $@

# botocore 1.39.17 (the last model before 1.40.19 dropped OpsWorks), with the boto3 that
# pairs with it and moto 5.1.11 (its last release with an OpsWorks backend of its own).
$(PY_VENV_139)/.ready: mk/python.mk
	rm -rf $(PY_VENV_139)
	$(PYTHON) -m venv $(PY_VENV_139)
	$(PY_VENV_139)/bin/pip install -q --upgrade pip
	$(PY_VENV_139)/bin/pip install -q botocore==1.39.17 boto3==1.39.17 moto==5.1.11 pytest
	@touch $@

# Reinstalled whenever the package or the library changes (the wheel bundles libowd.so).
$(PY_VENV)/.installed: $(PY_VENV)/.ready $(LIB) $(PY_SOURCES) VERSION
	rm -rf bindings/python/build
	$(PY_VENV)/bin/pip install -q --force-reinstall --no-deps ./bindings/python
	@touch $@

$(PY_VENV_139)/.installed: $(PY_VENV_139)/.ready $(LIB) $(PY_SOURCES) VERSION
	rm -rf bindings/python/build
	$(PY_VENV_139)/bin/pip install -q --force-reinstall --no-deps ./bindings/python
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

# mock_opsworks's sample suite (bindings/python/tests_mock), written as moto users write
# tests, on the current botocore and on botocore 1.39.17, each with moto from PyPI: no AWS
# variable, an empty HOME (nothing real to read), --strict-markers (the plugin registers
# its marker), the plugin loaded through its pytest11 entry point.
MOCK_ENV := env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN \
  -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_DEFAULT_REGION -u AWS_REGION -u AWS_DATA_PATH \
  -u AWS_CONFIG_FILE -u AWS_SHARED_CREDENTIALS_FILE -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_OPSWORKS -u OWD_LIBRARY
define run-mock-suite
	home=$$(mktemp -d) && cd bindings/python/tests_mock && $(MOCK_ENV) HOME=$$home \
	  $(CURDIR)/$(1)/bin/python -m pytest -q -p no:cacheprovider --strict-markers --rootdir=. . ; \
	  status=$$?; rm -rf $$home; if [ $$status -eq 5 ]; then echo "$@: pytest collected no tests"; fi; exit $$status
endef

.PHONY: test-mock test-mock-botocore139
test-mock: $(PY_VENV)/.installed
	$(call run-mock-suite,$(PY_VENV))

test-mock-botocore139: $(PY_VENV_139)/.installed
	$(call run-mock-suite,$(PY_VENV_139))

TEST_TARGETS += test-mock test-mock-botocore139
