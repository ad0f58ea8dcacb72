# The two set-up commands of the README. Each installs what it needs (idempotent), then runs.
PYTHON ?= python3

.PHONY: demo test lint install

install:
	$(PYTHON) -m pip install -q -e '.[dev]'

demo: install  ## train the default preset (toy-grid25) and write its report
	$(PYTHON) -m gankit train

lint: install  ## ruff (its rules in pyproject.toml) over the package, the tests and the benchmarks
	$(PYTHON) -m ruff check src tests benchmarks

test: lint  ## lint, then the whole test suite (what .ci/run calls), one worker per core (at most 4: memory)
	$(PYTHON) -m pytest -q -n auto --maxprocesses 4
