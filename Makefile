# lkops — the two commands a newcomer needs are `make demo` and `make test`; both do all set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

MODULES := lk_preflight lk_backup lk_upgrade lk_defaults_merge lk_resource
PYTHON  ?= python3
VENV    := .venv
VENV_OK := $(VENV)/.installed
CARGO   ?= cargo
# Debian packages the simulator and the media handling need (xorriso makes and reads ISO9660).
APT_PKGS := xorriso libarchive-tools

.PHONY: help build docs test lint demo deps venv clean

help:
	@echo "make demo   - rolling upgrade 9.4.0 -> 9.6.1 on a simulated two-node cluster"
	@echo "make test   - every test: cargo tests, real ansible-playbook runs, Molecule scenarios"
	@echo "make build  - release binaries into modules/ (the Ansible library path)"
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

build:
	$(CARGO) build --release --workspace --locked
	@for m in $(MODULES); do cp -f target/release/$$m modules/$$m; done
	@ls -l $(addprefix modules/,$(MODULES)) | awk '{print "  " $$5 " bytes  " $$9}'

docs:
	$(CARGO) build --workspace --locked
	@for m in $(MODULES); do target/debug/$$m --doc > modules/$$m.yml; done

test: deps venv build
	$(CARGO) build --workspace --locked
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" LKOPS_VENV="$(CURDIR)/$(VENV)" \
	  $(CARGO) test --workspace --locked -- --include-ignored

lint: venv
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

demo: deps venv build
	./demo/run

clean:
	rm -rf target $(VENV) $(addprefix modules/,$(MODULES)) build

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
test: molecule
# ---- end molecule -----------------------------------------------------------------------------
