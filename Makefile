# Two commands do all the set-up on a fresh machine: `make plan` and `make test`. `make setup` does
# only the set-up: .venv with the program's and the tooling's pinned dependencies, and the policy
# pack's own policies/venv (PulumiPolicy.yaml runs the pack there, as Pulumi runs a published pack
# from its own venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PACK_VENV := policies/venv
PACK_PY := $(PACK_VENV)/bin/python
PACK_STAMP := $(PACK_VENV)/.installed-stamp
SETUP := $(STAMP) $(PACK_STAMP)

.PHONY: setup azure-cli plan test lint typecheck unit bench clean

$(STAMP): requirements.txt requirements-dev.txt policies/requirements.txt policies/constraints.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

# What `pulumi install` in policies/ would do, with the project's pins.
$(PACK_STAMP): policies/requirements.txt policies/constraints.txt constraints.txt
	test -x $(PACK_PY) || $(PYTHON) -m venv $(PACK_VENV)
	$(PACK_PY) -m pip install --quiet --disable-pip-version-check -r policies/requirements.txt -c constraints.txt
	touch $(PACK_STAMP)

# The real Azure CLI the tests parse the runbook's `az` lines with, in its own environment
# (build/azure-cli-<hash of tests/azure-cli.txt>/, never .venv: its ~150 pins clash with ours).
# `make unit` (and so `make test`) creates it first; the tests create it when it is missing. Not part
# of `setup`: the deploy jobs run `make setup` and need no test tools.
azure-cli: $(STAMP)
	$(PY) -m tests.azcli

setup: $(SETUP)

plan: $(SETUP)
	$(PY) -m erdr.plan

# zizmor: GitHub Actions security audit, offline; an accepted finding carries its ignore comment
# and reason in the workflow.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/actionlint -shellcheck $(VENV)/bin/shellcheck -pyflakes= # pinned binaries from pip
	$(VENV)/bin/zizmor --offline --no-progress .
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(VENV)/bin/pyright

# worksteal: each worker starts on its share of the tests (tests/conftest.py puts the slowest
# first) and takes over the rest of another's share when it runs dry (pytest-xdist >= 3.2).
# WORKERS: one more than the reference machine's 2 cores, because many tests wait (on a pack
# server, a subprocess, a fake endpoint's timeout) rather than compute.
WORKERS ?= 3
# compileall first: the project's bytecode, written once (0.4 s) before the tests start their ~450
# Python processes (pytest workers, erdr commands, policy packs, the stand-in pulumi). Where
# PYTHONDONTWRITEBYTECODE is set, as in many CI images, Python would otherwise compile every module
# it imports from this tree in each of them (~0.1 s of CPU per erdr command). It rewrites only what
# changed since the last run.
unit: $(SETUP) azure-cli
	$(PY) -m compileall -q -x '/(\.venv|venv|build)/' __main__.py erdr components model program policies automation tests
	$(VENV)/bin/pytest -n $(WORKERS) --dist worksteal -q

# The three run side by side (pyright and the linters fill the cores while tests wait); each
# line of their output stays whole, and make fails if any of them fails.
test: $(SETUP)
	$(MAKE) --no-print-directory -j3 --output-sync=line lint typecheck unit

# Writes build/bench/benchmarks.md (cp it to docs/ to publish); exits 1 when a target is missed.
bench: $(SETUP)
	$(PY) -m erdr.bench

clean:
	rm -rf $(VENV) $(PACK_VENV) build .pytest_cache
