# digitalstate: the two commands are `make demo` and `make test`; everything else is a step.
# Needs only Python 3.11+, git, make and Node.js/npm on the machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ASSETS := src/digitalstate/web/static/govuk/VERSION
PYTEST_ARGS ?=

.PHONY: demo test coverage setup assets lint typecheck lock translations bench clean

demo: setup ## Set everything up and run the demo federation
	$(BIN)/digitalstate demo

test: setup ## Set everything up and run every check and the whole test suite
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	@# pytest keeps each test module and plugin it rewrites for its asserts beside it, only
	@# where Python may write bytecode: with PYTHONDONTWRITEBYTECODE set, each of the four
	@# workers rewrote them all again (half of a worker's collection, 9.1 -> 4.5 s of CPU).
	@# pytest runs without it, and one collection keeps them while mypy runs (one core each).
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest --collect-only -q -n 0 > /dev/null 2>&1 & \
	$(BIN)/mypy; status=$$?; wait; exit $$status
	$(BIN)/lint-imports
	@# Byte-compiled once here, read by every node and CLI process the tests start
	@# (a machine with PYTHONDONTWRITEBYTECODE set would have each compile the package again).
	$(BIN)/python -m compileall -q -j 0 src/digitalstate tests > /dev/null
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest $(PYTEST_ARGS)

coverage: setup ## The whole test suite with line and branch coverage of src/digitalstate
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest --cov --cov-report=term \
	  --cov-report=html:var/coverage $(PYTEST_ARGS)

setup: $(STAMP) $(ASSETS)

$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "digitalstate needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	@# uv, at the lock file's own version, installs the lock file: 13 s against pip's 47 s from
	@# a fresh clone here, byte-compiled as pip would (a machine with PYTHONDONTWRITEBYTECODE
	@# set would otherwise compile every library at each process's start). uv reads neither
	@# pip.conf nor PIP_INDEX_URL, so where pip is given an index of its own (a mirror), or
	@# where uv fails, pip installs the lock file as before.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$$(grep -o '^uv==[^ ;\\]*' requirements/dev.lock)"
	if $(BIN)/python -m pip config list 2>/dev/null | grep -q '\.index-url='; then \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock; \
	else \
	  $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements/dev.lock \
	  || { echo "make setup: uv could not install requirements/dev.lock; pip installs it"; \
	       $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.lock; }; \
	fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(ASSETS): package.json package-lock.json scripts/build_assets.py src/digitalstate/web/sass/govuk-frontend.scss | $(STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python scripts/build_assets.py

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: setup
	$(BIN)/mypy
	$(BIN)/lint-imports

lock: ## Re-resolve the Python lock file from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements/dev.lock --python-version 3.11

LOCALE := src/digitalstate/web/locale
# The languages with a catalogue besides English (the source language).
TRANSLATED := cy

translations: setup ## Extract the pages' texts into the catalogue and update each language's .po
	$(BIN)/pybabel extract -F babel.cfg --project digitalstate --no-wrap --add-location=file \
		--copyright-holder "digitalstate contributors" --sort-by-file \
		-o $(LOCALE)/messages.pot src/digitalstate 2>/dev/null
	for lang in $(TRANSLATED); do \
		$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -l $$lang --init-missing \
			--no-wrap --ignore-obsolete --no-fuzzy-matching || exit 1; \
	done

bench: setup ## Run every benchmark and compare with the targets in bench/targets.toml
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) node_modules src/digitalstate/web/static/govuk var
