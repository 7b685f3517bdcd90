# The two commands a new user runs: `make serve` and `make test`. Both are idempotent: they
# create .venv if it is missing, install the project when pyproject.toml changed, and prepare
# the embedded default model once.

VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
# The first Python 3.11+ on PATH (macOS's own python3 may be older).
PYTHON  ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
             $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
             && { echo $$p; break; }; done)

.PHONY: serve test lint model tools bench-proxy clean

serve: $(STAMP) model
	$(BIN)/router serve

test: $(STAMP) model tools
	$(BIN)/ruff check router tests benchmarks
	$(BIN)/ruff format --check router tests benchmarks
	$(BIN)/python -m pytest -n auto --maxprocesses 4

# Prometheus (the metrics tests) and bubblewrap (the code sandbox), installed where missing.
tools:
	@sh scripts/test-tools.sh

lint: $(STAMP)
	$(BIN)/ruff check router tests benchmarks
	$(BIN)/ruff format --check router tests benchmarks

model: $(STAMP)
	@$(BIN)/python -m router.modelfiles.embedded

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "router needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $(STAMP)

bench-proxy: $(STAMP)
	$(BIN)/python -m benchmarks.proxy_overhead

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
