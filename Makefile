# owd: `make demo` and `make test` work on a fresh machine (they install what is missing).
PREFIX  ?= /usr/local
SWIFT   ?= swift
CC      ?= cc
PYTHON  ?= python3
# The version is written once, in VERSION (tests/version/check.py checks the header against it).
VERSION := $(shell cat $(CURDIR)/VERSION)
SONAME  := libowd.so.0
LDCONFIG ?= ldconfig
# make install runs ldconfig for these prefixes only (and never with DESTDIR).
LDCONFIG_PREFIXES ?= /usr /usr/local

RELEASE := .build/release
LIB     := $(RELEASE)/libowd.so
CFLAGS  ?= -O2 -g
CFLAGS  += -Wall -Wextra -Werror -std=gnu11 -Iinclude
LDLIBS  := -L$(RELEASE) -lowd -ljansson -Wl,-rpath,$(CURDIR)/$(RELEASE)
SOURCES := $(shell find Sources include -name '*.swift' -o -name '*.c' -o -name '*.h') Package.swift owd.map

# Every suite adds its target here (see mk/*.mk); `make test` runs them all.
TEST_TARGETS := test-swift

.PHONY: all build deps demo test test-swift install clean print-version
all: build

# System packages: jansson and SQLite headers, valgrind for the C tests; libmicrohttpd,
# libcrypto (OpenSSL) and libcurl for the owd program only (libowd.so links none of them).
deps:
	@missing=""; \
	[ -f /usr/include/jansson.h ] || missing="$$missing libjansson-dev"; \
	[ -f /usr/include/sqlite3.h ] || missing="$$missing libsqlite3-dev"; \
	[ -f /usr/include/microhttpd.h ] || missing="$$missing libmicrohttpd-dev"; \
	[ -f /usr/include/openssl/hmac.h ] || missing="$$missing libssl-dev"; \
	[ -n "$$(ls /usr/include/curl/curl.h /usr/include/*/curl/curl.h 2>/dev/null)" ] || missing="$$missing libcurl4-openssl-dev"; \
	command -v valgrind >/dev/null || missing="$$missing valgrind"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# A self-contained release libowd.so: Swift's runtime linked in statically, only owd_*
# exported, SONAME libowd.so.0 (SwiftPM makes no symlink: we do).
build: $(LIB)
$(LIB): $(SOURCES) | deps
	$(SWIFT) build -c release --product owd -Xswiftc -static-stdlib \
	  -Xlinker --version-script=$(CURDIR)/owd.map -Xlinker -soname=$(SONAME)
	ln -sf libowd.so $(RELEASE)/$(SONAME)
	@touch $(LIB)

$(RELEASE)/example-deployments: examples/c/deployments.c include/owd.h $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

demo: $(RELEASE)/example-deployments
	@echo "== examples/c/deployments.c"
	@$(RELEASE)/example-deployments
	@if [ -f examples/python/deployments.py ]; then \
	  echo "== examples/python/deployments.py"; \
	  OWD_LIBRARY=$(CURDIR)/$(LIB) PYTHONPATH=bindings/python $(PYTHON) examples/python/deployments.py; \
	fi
	@# The whole loop: owd serve, two owd agents, a deployment through boto3 (mk/agent.mk).
	@$(MAKE) --no-print-directory demo-agent

test-swift: | deps
	$(SWIFT) test

install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libowd.so.$(VERSION)
	ln -sf libowd.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libowd.so
	install -m 0644 include/owd.h $(DESTDIR)$(PREFIX)/include/owd.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' owd.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/owd.pc
	@# The loader's cache covers the system's folders only: elsewhere ldconfig does nothing
	@# useful, and for a staged DESTDIR install it would touch the running system.
	@case " $(LDCONFIG_PREFIXES) " in *" $(PREFIX) "*) \
	  if [ -z "$(DESTDIR)" ]; then echo "$(LDCONFIG)"; $(LDCONFIG); fi ;; esac

clean:
	rm -rf .build .build-* build bindings/python/build

-include mk/*.mk

print-version:
	@echo $(VERSION)

# Runs every suite (each one also works alone: make test-python, ...), even after one has
# failed, then prints one summary line per suite, and fails when any failed.
test:
	+@$(PYTHON) tests/run_suites.py --make "$(MAKE)" $(TEST_TARGETS)
