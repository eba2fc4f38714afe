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
$(OWD_PROGRAM): $(SOURCES) $(shell find model -type f) bindings/python/opsworks_deployments/data/opsworks/2013-02-18/service-2.sdk-extras.json | deps
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
	cd tests/serve && OWD_PROGRAM=$(CURDIR)/$(OWD_PROGRAM) OWD_GO_CACHE=$(CURDIR)/.build/go-cache \
	  $(CURDIR)/$(SERVE_VENV)/bin/python -m pytest -q -p no:cacheprovider --rootdir=. . ; \
	  status=$$?; if [ $$status -eq 5 ]; then echo "test-serve: pytest collected no tests"; fi; exit $$status

TEST_TARGETS += test-serve
