# Two commands set everything up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export LB_DATA_DIR ?= data

.PHONY: run install ingest serve test eval clean bench soak bench-multiproc

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-installs only when pyproject.toml changed: a second `make run` is fast.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# torch first, pinned: the CPU build lies in pip's find-links; a bare requirement would pull CUDA.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,sentence-transformers,llm,postgres,llm-test]'
	touch $@

install: $(VENV)/.installed

# exit 1 = some files could not be read (reported above, the index keeps what it had): serve anyway;
# exit 2 (invalid settings, unusable index) stops.
ingest: install
	$(BIN)/lernbegleiter ingest corpus/ || [ $$? -eq 1 ]

serve: install
	$(BIN)/lernbegleiter serve

run: ingest serve

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

eval: $(VENV)/.installed
	$(BIN)/python -m evals.run

# Performance benchmarks (~20 min on an idle 2-core machine with E5, longer when shared; BENCH_QUICK=1: a few minutes): evals/results/bench.md + .json
bench: $(VENV)/.installed
	$(BIN)/python -c "import httpx, reportlab, psycopg" 2>/dev/null || $(BIN)/pip install -q -e '.[dev,postgres]'
	$(BIN)/python -m bench.run

# Multi-process load alone (part of `make bench`): serve --workers 1 and 2 on chroma run + PostgreSQL + redis-server
# (Debian packages postgresql, redis-server), ~25 min: evals/results/bench-multiproc.md + .json
bench-multiproc: $(VENV)/.installed
	$(BIN)/python -c "import httpx, psycopg" 2>/dev/null || $(BIN)/pip install -q -e '.[dev,postgres]'
	$(BIN)/python -m bench.multiproc

# Soak: 50 concurrent chat streams for 10 min against a real server (SOAK_SECONDS=120 to shorten; not part of `make test`): evals/results/soak.md + .json
soak: $(VENV)/.installed
	$(BIN)/python -c "import httpx" 2>/dev/null || $(BIN)/pip install -q -e '.[dev]'
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) data
