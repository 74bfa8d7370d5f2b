# Two commands do all the set-up on a fresh machine: `make plan` and `make test`. `make setup` does
# only the set-up: .venv with the program's, the policy pack's (policies/PulumiPolicy.yaml runs
# the pack in it) and the tooling's pinned dependencies.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup plan test lint typecheck unit bench clean

$(STAMP): requirements.txt requirements-dev.txt policies/requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

setup: $(STAMP)

plan: $(STAMP)
	$(PY) -m erdr.plan

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/actionlint -shellcheck $(VENV)/bin/shellcheck -pyflakes= # pinned binaries from pip
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(VENV)/bin/pyright

unit: $(STAMP)
	$(VENV)/bin/pytest -n 2 -q

test: lint typecheck unit

# Writes build/bench/benchmarks.md (cp it to docs/ to publish); exits 1 when a target is missed.
bench: $(STAMP)
	$(PY) -m erdr.bench

clean:
	rm -rf $(VENV) build .pytest_cache
