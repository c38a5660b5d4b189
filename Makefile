# lkops — the everyday commands are `make demo`, `make test` and `make rehearse CAPTURE=DIR`; all do all set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MODULES := lk_preflight lk_backup lk_upgrade lk_defaults_merge lk_resource lk_capture lk_info lk_plan lk_lease
PYTHON  ?= python3
VENV    := .venv
VENV_OK := $(VENV)/.installed
CARGO   ?= cargo
# Debian packages the simulator and the media handling need (xorriso makes and reads ISO9660).
APT_PKGS := xorriso libarchive-tools kconfig-frontends

.PHONY: help build docs test lint demo deps venv clean

help:
	@echo "make demo   - rolling upgrade 9.4.0 -> 9.6.1 on a simulated two-node cluster"
	@echo "make test   - every test: cargo tests, real ansible-playbook runs, Molecule scenarios"
	@echo "make rehearse CAPTURE=DIR - the rolling upgrade rehearsed on a simulated twin of a captured cluster"
	@echo "make build  - portable (glibc 2.17) release binaries into modules/ (the Ansible library path)"
	@echo "make docs   - regenerate modules/<name>.yml from the parameter declarations"
	@echo "make lint   - cargo fmt --check, clippy -D warnings, ansible-lint"

# System packages: installed with apt when missing (CI and fresh machines run as root).
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi

# The controller's Python tools, pinned, in a project-local venv.
$(VENV_OK): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV_OK)

# The modules the playbooks run (ansible.cfg: library = modules) are the portable dist/ binaries
# (glibc 2.17, see the distribution block), the same the collection ships; target/release keeps
# the native lksim the demo, rehearse and Molecule use. Only lksim: native release builds of the
# modules were never used, and their LTO links cost make test about a minute.
build: dist
	$(CARGO) build --release -p lksim --locked
	@for m in $(MODULES); do cp -f $(DIST_DIR)/x86_64/$$m modules/$$m; done
	@ls -l $(addprefix modules/,$(MODULES)) | awk '{print "  " $$5 " bytes  " $$9}'

docs:
	$(CARGO) build --workspace --locked
	@for m in $(MODULES); do target/debug/$$m --doc > modules/$$m.yml; done

# The last line is one plain "tests: N passed, N failed" summing every test binary's result and
# Molecule's (a scenario counts as one test); a failure in one lane still runs the others.
# Three lanes, the slow ones side by side (2 cores; issue 26: make test within 20 minutes):
#  1. Molecule's scenarios (molecule/run: container scenarios two at a time, `local` beside them);
#  2. meanwhile every cargo test a plain `cargo test` runs: unit and property tests, the module
#     contracts against lksim (mostly waiting on lksim's daemons: little CPU), lksim's own;
#  3. then the delivery tests (#[ignore]d by a plain cargo test: real ansible-playbook,
#     collection, dist and Salt runs, the kill soak), DELIVERY_THREADS at a time: an
#     ansible-playbook run leaves about a third of the CPU idle while modules and lksim wait.
DELIVERY_THREADS ?= 3
TEST_ENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" LKOPS_VENV="$(CURDIR)/$(VENV)"
test: deps venv build dist collection salt-venv collection-check
	$(CARGO) build --workspace --locked --tests
	@mkdir -p target; rc=0; rm -f target/test-units.rc; \
	( $(TEST_ENV) $(CARGO) test --workspace --locked --no-fail-fast >target/test-units.log 2>&1; \
	  echo $$? >target/test-units.rc ) & units=$$!; \
	LKOPS_VENV="$(CURDIR)/$(VENV)" ./molecule/run $(SCENARIOS) 2>&1 | tee target/molecule.log; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	wait $$units; cat target/test-units.log; [ "$$(cat target/test-units.rc)" = 0 ] || rc=1; \
	$(TEST_ENV) $(CARGO) test --locked --test delivery --no-fail-fast -- --ignored \
	  --test-threads=$(DELIVERY_THREADS) 2>&1 | tee target/test.log; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || rc=1; \
	awk '/^test result:/ {p += $$4; f += $$6} /^molecule: [0-9]+ passed, [0-9]+ failed$$/ {p += $$2; f += $$4} \
	  END {printf "tests: %d passed, %d failed\n", p, f}' target/molecule.log target/test-units.log target/test.log; \
	exit $$rc

# The random controller-kill test alone (issue 28: 30+ kills, half taking the modules, kills in
# setup and in rollback.yml); `make test` runs it too.
.PHONY: kill-soak
kill-soak: deps venv build
	$(CARGO) build --workspace --locked
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" LKOPS_VENV="$(CURDIR)/$(VENV)" \
	  $(CARGO) test --locked --test delivery -- --ignored --exact --nocapture \
	  playbooks::kills::soak_30_kills_with_modules_in_setup_and_in_rollback_converge_and_nothing_is_lost

lint: venv
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	ANSIBLE_CONFIG=$(CURDIR)/ansible.cfg $(VENV)/bin/ansible-lint --offline playbooks/ tests/ansible/

demo: deps venv build
	./demo/run

clean:
	rm -rf target $(VENV) $(addprefix modules/,$(MODULES)) build

# ==== distribution (issue 10) ==========================================================
# Portable release binaries, the Ansible collection, and the Salt used by the Salt example test.
# Self-contained block: the only edits outside it are `dist collection salt-venv collection-check`
# in test's prerequisites and `build: dist` (modules/ gets the dist binaries). Tool installs are project-local (.cache/, .venv, .venv-salt), pinned, and done
# once: a stamp file per pinned version.
DIST_GLIBC       := 2.17
DIST_DIR         := dist
ZIG_OK           := $(VENV)/.ziglang-installed
COLLECTION_OUT   := build/collection
SALT_VENV        := .venv-salt
SALT_OK          := $(SALT_VENV)/.installed
# zig's and cargo-zigbuild's caches stay in the project too (not ~/.cache).
DIST_ENV         := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
                    XDG_CACHE_HOME="$(CURDIR)/.cache" ZIG_GLOBAL_CACHE_DIR="$(CURDIR)/.cache/zig"

COMPAT_VENV      := .venv-ansible-compat
COMPAT_OK        := $(COMPAT_VENV)/.installed
COLLECTION_TOOLS_OK := $(VENV)/.collection-tools-installed
# ansible-test's pip bootstrap looks for get-pip under $$HOME/.ansible/test/cache/ before it tries
# to download it (from a host this machine cannot reach): tests/collection.rs runs ansible-test with
# HOME here, where collection/dev/get_pip.py (pip from ensurepip) stands in under the name asked for.
ANSIBLE_TEST_HOME := .cache/ansible-test-home

.PHONY: dist dist-tools collection salt-venv clean-dist collection-check collection-tools compat-venv ansible-test-home

# zig and cargo-zigbuild come from PyPI (the `ziglang` wheel ships the whole toolchain, the
# `cargo-zigbuild` wheel the prebuilt tool) into the project's .venv: compiling cargo-zigbuild
# with `cargo install` cost a fresh clone about 2.5 minutes of its test time.
$(ZIG_OK): requirements-dist.txt $(VENV_OK)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dist.txt
	touch $@

dist-tools: $(ZIG_OK)

# x86_64 binaries linked against glibc 2.17 symbols (RHEL 7 and every later distribution).
dist: dist-tools
	$(DIST_ENV) cargo zigbuild --release --locked --target x86_64-unknown-linux-gnu.$(DIST_GLIBC) \
	  $(addprefix --bin ,$(MODULES))
	@mkdir -p $(DIST_DIR)/x86_64
	@for m in $(MODULES); do cp -f target/x86_64-unknown-linux-gnu/release/$$m $(DIST_DIR)/x86_64/$$m; done
	@ls -l $(addprefix $(DIST_DIR)/x86_64/,$(MODULES)) | awk '{printf "  %8d bytes  %s\n", $$5, $$9}'
	@if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then \
	  $(DIST_ENV) cargo zigbuild --release --locked --target aarch64-unknown-linux-gnu.$(DIST_GLIBC) \
	    $(addprefix --bin ,$(MODULES)) && mkdir -p $(DIST_DIR)/aarch64 && \
	  for m in $(MODULES); do cp -f target/aarch64-unknown-linux-gnu/release/$$m $(DIST_DIR)/aarch64/$$m; done; \
	else \
	  echo "  aarch64: skipped - the Rust standard library for aarch64-unknown-linux-gnu is not installed"; \
	  echo "           (rustup target add needs the network; see docs/distribution.md)"; \
	fi

# The Ansible collection tarball, from the dist binaries and whatever playbooks/ holds now.
collection: dist venv
	collection/build.sh $(DIST_DIR)/x86_64 $(COLLECTION_OUT) $(VENV)/bin/ansible-galaxy $(MODULES)

# antsibull-changelog (CHANGELOG.rst from collection/changelogs/) in the project's .venv.
$(COLLECTION_TOOLS_OK): requirements-collection.txt $(VENV_OK)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-collection.txt
	touch $@

collection-tools: $(COLLECTION_TOOLS_OK)

# The oldest supported ansible-core (meta/runtime.yml requires_ansible) in a venv of its own.
$(COMPAT_OK): requirements-compat.txt
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-compat.txt
	touch $@

compat-venv: $(COMPAT_OK)

ansible-test-home: venv collection/dev/get_pip.py
	@pip=$$($(VENV)/bin/python -c 'import types; from ansible_test._internal.python_requirements import get_venv_packages as p; print(p(types.SimpleNamespace(version="3"))["pip"])') && \
	mkdir -p $(ANSIBLE_TEST_HOME)/.ansible/test/cache && \
	cp -f collection/dev/get_pip.py $(ANSIBLE_TEST_HOME)/.ansible/test/cache/get_pip_$$(echo $$pip | tr . _).py

# What tests/collection.rs needs besides the tarball: ansible-test's pip stand-in, the old
# ansible-core, antsibull-changelog.
collection-check: collection ansible-test-home compat-venv collection-tools

# Salt for the Salt example test only, in its own venv (about a minute; salt pins its own deps).
$(SALT_OK): requirements-salt.txt
	$(PYTHON) -m venv $(SALT_VENV)
	$(SALT_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-salt.txt
	touch $@

salt-venv: $(SALT_OK)

# What this block builds and installs (the pinned tools in .cache/ stay; `make clean` keeps them too).
clean-dist:
	rm -rf $(DIST_DIR) $(COLLECTION_OUT) $(SALT_VENV) $(COMPAT_VENV) $(ANSIBLE_TEST_HOME)
# ==== end of distribution block =================================================================

# ---- bench (issue 11) — BEGIN. Not part of `make test`. ---------------------------------------
# `make bench` writes bench/RESULTS.md (~15 min; BENCH_QUICK=1 make bench for a ~5 min check run).
# Bench-only Debian packages: hyperfine (timings), strace (process counts), perf (profiles).
BENCH_APT_PKGS := hyperfine strace linux-perf
BENCH_EXAMPLES := sha256_bench lcdstatus_parse_bench bench_timing_wrap
.PHONY: bench bench-deps
bench-deps:
	@$(MAKE) --no-print-directory deps APT_PKGS="$(BENCH_APT_PKGS)"
bench: deps bench-deps venv build
	$(CARGO) build --release --locked $(addprefix --example ,$(BENCH_EXAMPLES))
	LKOPS_VENV="$(abspath $(VENV))" $(PYTHON) bench/run
# ---- bench (issue 11) — END --------------------------------------------------------------------
# ---- molecule (issue 9) -----------------------------------------------------------------------
# Molecule scenarios on clusters of containers (molecule/README.md). Without a container engine
# only `local` runs and one line names the skipped scenarios; LKOPS_REQUIRE_DOCKER=1 (.ci/run)
# turns that into a failure. `make molecule SCENARIOS="default local"` runs a subset.
SCENARIOS ?=
APT_PKGS += debootstrap
.PHONY: molecule molecule-images
molecule: deps venv build
	LKOPS_VENV="$(CURDIR)/$(VENV)" ./molecule/run $(SCENARIOS)
molecule-images:
	./molecule/images/build --python
# ---- end molecule -----------------------------------------------------------------------------
# ---- rehearse (issue 18) ----------------------------------------------------------------------
# `make rehearse CAPTURE=DIR`: the rolling upgrade rehearsed on a simulated twin of a captured
# cluster (playbooks/capture.yml writes DIR = lk_capture_dir/<cluster>); report in
# build/rehearsal/report/rehearsal.{md,html}. REHEARSE_ARGS passes more -e to the rehearsal,
# e.g. REHEARSE_ARGS="-e lk_target_version=9.6.1 -e lk_allow_reinstall=true".
CAPTURE ?=
REHEARSE_ARGS ?=
.PHONY: rehearse
rehearse: deps venv build
	@test -n "$(CAPTURE)" || { echo "usage: make rehearse CAPTURE=DIR (one cluster's capture, e.g. tests/fixtures/captures/lksim-2node-9.4.0)" >&2; exit 2; }
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_CONFIG="$(CURDIR)/ansible.cfg" \
	  $(VENV)/bin/ansible-playbook playbooks/rehearse.yml -e lk_capture="$(abspath $(CAPTURE))" $(REHEARSE_ARGS)
# ---- end rehearse -----------------------------------------------------------------------------
