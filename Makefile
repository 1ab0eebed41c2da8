# vrkit — two commands on a fresh machine: `make demo` and `make test`.
# TORCH_SPEC selects the torch build installed first (CPU wheel by default; e.g.
# TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu124" on GPU machines).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/vrkit demo --out demo_out

test: $(STAMP)
	$(BIN)/ruff check vrkit tests bench
	$(BIN)/python -m pytest -q -n 2 tests

lint: $(STAMP)
	$(BIN)/ruff check vrkit tests bench

bench: $(STAMP)
	$(BIN)/python bench/cog_generate.py
	$(BIN)/python bench/cog_render.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache .ruff_cache
