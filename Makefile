# Two commands set everything up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export LB_DATA_DIR ?= data

.PHONY: run install ingest serve test eval clean bench soak ttft bench-multiproc

$(BIN)/python:
	@echo "==> [1/2] Virtuelle Umgebung $(VENV) anlegen ..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-installs only when pyproject.toml changed: a second `make run` is fast.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "==> [2/2] Lernbegleiter und Abhängigkeiten installieren (beim ersten Mal einige Minuten) ..."
	$(BIN)/pip install -q -e .
	@echo "==> Installation fertig."
	touch $@

# torch first, pinned: the CPU build lies in pip's find-links; a bare requirement would pull CUDA.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	@echo "==> [Test 1/2] PyTorch (CPU) installieren, etwa 1-3 Minuten ..."
	$(BIN)/pip install -q torch==2.13.0
	@echo "==> [Test 2/2] Test-Extras installieren: pytest, Playwright, sentence-transformers, PostgreSQL-Treiber,"
	@echo "    llama-cpp-python (wird aus dem Quelltext gebaut: 5-15 Minuten ohne weitere Ausgabe, bitte warten) ..."
	$(BIN)/pip install -q -e '.[dev,sentence-transformers,llm,postgres,llm-test]'
	@echo "==> Test-Installation fertig."
	touch $@

install: $(VENV)/.installed

# exit 1 = some files could not be read (reported above, the index keeps what it had): serve anyway;
# exit 2 (invalid settings, unusable index) stops.
ingest: install
	@echo "==> Kursunterlagen aus corpus/ einlesen (nur Geänderte; beim ersten Mal 2-3 Minuten) ..."
	$(BIN)/lernbegleiter ingest corpus/ || [ $$? -eq 1 ]

serve: install
	$(BIN)/lernbegleiter serve

run: ingest serve

test: $(VENV)/.installed-test
	@echo "==> Tests starten (pytest) ..."
	$(BIN)/python -m pytest

eval: $(VENV)/.installed
	$(BIN)/python -m evals.run
	$(BIN)/python -m evals.answer_quality

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

# Widget time to first visible token in Chromium (needs Playwright from the dev extra; uses ./data): ui/widget/measure_ttft.py
ttft: $(VENV)/.installed
	@$(BIN)/python -c "import httpx, playwright" 2>/dev/null || { echo "==> Playwright und httpx installieren (Extra dev) ..."; $(BIN)/pip install -q -e '.[dev]'; }
	$(BIN)/python ui/widget/measure_ttft.py $(TTFT_ARGS)

clean:
	rm -rf $(VENV) data
