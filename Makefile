# Everything runs inside .venv, created on first use, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup test lint format bench report sample snapshot lock clean

help:  ## Show this help
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## Create .venv with the project and its dev tools

test: $(STAMP)  ## Lint and format check (ruff), then the test suite
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/ruff format --check pipeline tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)  ## Lint and format check only
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/ruff format --check pipeline tests benchmarks

format: $(STAMP)  ## Format the code with ruff
	$(BIN)/ruff format pipeline tests benchmarks

bench: $(STAMP)  ## Run the benchmarks (working-time engine, evaluation)
	$(BIN)/python -m benchmarks.bench_calendar
	$(BIN)/python -m benchmarks.bench_evaluate

SAMPLE_MONTH ?= 2026-10

report: $(STAMP)  ## Load the sample data, evaluate it, render the monthly report (en, nl; html, pdf)
	$(BIN)/sla customers data/sample/customers.csv
	$(BIN)/sla load data/sample/tickets.csv data/sample/events.csv
	$(BIN)/sla report monthly --month $(SAMPLE_MONTH) --lang en,nl --format html,pdf --out reports

sample: $(STAMP)  ## Regenerate the committed sample data (seeded, deterministic)
	$(BIN)/sla demo-data --out data/sample --tickets 10000 --customers 2500 --seed 7

snapshot: $(STAMP)  ## Regenerate the golden report files (review the diff before committing)
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest tests/test_report_golden.py

lock:  ## Re-resolve the newest allowed versions into constraints.txt (then run make test)
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	head -3 constraints.txt > constraints.new
	.lock-venv/bin/pip freeze --exclude-editable >> constraints.new
	mv constraints.new constraints.txt
	rm -rf .lock-venv

clean:  ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
