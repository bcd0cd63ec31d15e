# Every target bootstraps the pinned virtualenv on first use (and again when a requirements file changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= production
REQUIREMENTS := requirements.txt requirements-dev.txt policy/requirements.txt worker/requirements.txt constraints.txt

.PHONY: preview test test-fast lint drill audit bench dlq docs clean

$(VENV)/.installed: $(REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

preview: $(VENV)/.installed  ## offline preview of the stack with the policy gate
	$(PY) -m preview --stack $(STACK) $(ARGS)

test: lint  ## the whole test suite (lint, formatting, import contracts, every test)
	$(PY) -m pytest --durations=15 $(ARGS)

test-fast: lint  ## everything but the slow tests (moto server, subprocesses, the drill)
	$(PY) -m pytest -m "not slow" $(ARGS)

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	PYTHONPATH=.:policy $(VENV)/bin/lint-imports

drill: $(VENV)/.installed  ## the incident drill on a local AWS (moto server), with the incident replayed
	$(PY) -m sandbox.drill --replay-incident $(ARGS)

audit: $(VENV)/.installed  ## read the deployed pipeline (AWS, or moto via AWS_ENDPOINT_URL) and check it
	$(PY) -m audit --stack $(STACK) $(ARGS)

bench: $(VENV)/.installed  ## the benchmarks (ratios measured in one run)
	$(PY) -m bench.policy
	$(PY) -m bench.worker

dlq: $(VENV)/.installed  ## dead-letter triage: make dlq ARGS="summary"
	$(PY) -m dlq $(ARGS)

docs: $(VENV)/.installed  ## regenerate docs/reference/ and the import-contract blocks from the code
	$(PY) docs/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
