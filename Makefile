# ctrkit - build, install, test, bench, demo.
#   make                 release build of every tool
#   sudo make install    PREFIX=/usr/local (DESTDIR for staging)
#   sudo make test       the whole test suite (lint, cargo tests, bats with leak check, cgroup v2 VM)
#   sudo make bench      benchmarks against peer tools, medians and ratios
#   sudo make oci-validation  the whole OCI runtime validation suite against ctr-oci
#   sudo make demo       build, then run the Docker demonstrations with ctrkit
#   make man             regenerate man/*.1 from man/*.1.in and the clap definitions

PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
TOOLS := nsenter-rs cgset layermount netbridge ctr-ps ctr-state ctr-oci
SCRIPTS := $(filter-out scripts/deps.sh scripts/demo.sh scripts/completions.sh,$(wildcard scripts/ctr-* scripts/mkimage-*))
# cargo builds static musl binaries (.cargo/config.toml); CARGO_BUILD_TARGET overrides
BUILD := $(or $(CARGO_TARGET_DIR),target)/$(or $(CARGO_BUILD_TARGET),x86_64-unknown-linux-musl)
RELEASE := $(BUILD)/release
BINDIR := $(DESTDIR)$(PREFIX)/bin
LIBDIR := $(DESTDIR)$(PREFIX)/lib/ctrkit
MANDIR := $(DESTDIR)$(PREFIX)/share/man
# the systemd unit that runs ctr-boot at boot
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system

.PHONY: all build debug install install-files uninstall test lint bench demo man deps clean leak-demo oci-validation

all: build

build:
	$(CARGO) build --release --workspace

debug:
	$(CARGO) build --workspace

deps:
	scripts/deps.sh

install: build
	$(MAKE) install-files

# install what is built in $(RELEASE) (tests use RELEASE=$(BUILD)/debug)
install-files:
	install -d $(BINDIR) $(LIBDIR) $(MANDIR)/man1 $(MANDIR)/man7 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	for t in $(TOOLS); do \
	  install -m 755 $(RELEASE)/$$t $(BINDIR)/$$t && \
	  $(RELEASE)/$$t --generate bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t && \
	  $(RELEASE)/$$t --generate zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t && \
	  $(RELEASE)/$$t --generate fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish \
	  || exit 1; \
	done
	for s in $(SCRIPTS); do install -m 755 $$s $(BINDIR)/ && n=$$(basename $$s) && \
	  scripts/completions.sh bash $$s > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$n && \
	  scripts/completions.sh zsh $$s > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$n && \
	  scripts/completions.sh fish $$s > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$n.fish \
	  || exit 1; \
	done
	for l in scripts/lib*.sh; do install -m 644 $$l $(LIBDIR)/; done
	for p in man/*.1; do install -m 644 $$p $(MANDIR)/man1/; done
	for p in man/*.7; do install -m 644 $$p $(MANDIR)/man7/; done
	install -d $(DESTDIR)$(SYSTEMDDIR)
	sed 's|@BINDIR@|$(PREFIX)/bin|' systemd/ctrkit-boot.service.in > $(DESTDIR)$(SYSTEMDDIR)/ctrkit-boot.service

uninstall:
	for t in $(TOOLS); do rm -f $(BINDIR)/$$t \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; done
	for s in $(SCRIPTS); do n=$$(basename $$s); rm -f $(BINDIR)/$$n \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$n \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$n \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$n.fish; done
	rm -rf $(LIBDIR)
	for p in man/*.1; do rm -f $(MANDIR)/man1/$$(basename $$p); done
	for p in man/*.7; do rm -f $(MANDIR)/man7/$$(basename $$p); done
	rm -f $(DESTDIR)$(SYSTEMDDIR)/ctrkit-boot.service

test: deps
	tests/run-all.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	shellcheck -x scripts/* tests/*.sh tests/vm/*.sh bench/*.sh

bench: deps build
	bench/run.sh

demo: deps build
	scripts/demo.sh

# the whole OCI runtime validation suite (58 files, ~5 min) against ctr-oci; passes at 40
oci-validation: debug
	PATH="$(BUILD)/debug:$$PATH" tests/oci-validation.sh -o /tmp/ctrkit-oci-validation; \
	  n=$$(grep -c PASS /tmp/ctrkit-oci-validation/verdicts.tsv); echo "ctr-oci: $$n of 58 files pass"; [ $$n -ge 40 ]

man: debug
	for t in $(TOOLS); do $(BUILD)/debug/$$t --generate man > man/$$t.1 || exit 1; done

# Shows the leak check failing on purpose: a test that leaks a process, a mount and a cgroup.
leak-demo: debug
	CTRKIT_TEST_LEAK=1 tests/run.sh tests/99-leak-demo.bats; \
	  rc=$$?; [ $$rc -ne 0 ] && echo "leak-demo: the leak check failed the run, as it should" || { echo "leak-demo: the leak check did NOT catch the leak"; exit 1; }

clean:
	$(CARGO) clean
