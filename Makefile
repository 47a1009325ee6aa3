# caseline: `make demo` runs the main job, `make test` the whole suite.
# Every target creates the virtual environment first when it is missing.

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.caseline-installed

.PHONY: venv up down status test unit demo bench lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

up: venv
	$(BIN)/caseline up

down: venv
	$(BIN)/caseline down

status: venv
	$(BIN)/caseline status

test: venv
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest tests/unit

demo: venv
	$(BIN)/caseline demo

bench: venv
	$(BIN)/caseline bench kit

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy shared services caseline

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
