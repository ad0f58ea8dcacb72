# The two set-up commands of the README. Each installs what it needs (idempotent), then runs.
PYTHON ?= python3

.PHONY: demo test install

install:
	$(PYTHON) -m pip install -q -e '.[dev]'

demo: install  ## train the default preset (toy-grid25) and write its report
	$(PYTHON) -m gankit train

test: install  ## the whole test suite (what .ci/run calls), one worker per core (at most 4: memory)
	$(PYTHON) -m pytest -q -n auto --maxprocesses 4
