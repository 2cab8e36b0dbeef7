# Set-up and everyday tasks. `make install` is idempotent; everything runs inside .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)

.PHONY: install test test-fast lint bench eval serve ask clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# the ONNX files the default backend answers with (~/.cache/newsqa; about a minute, once)
	$(PY) -m rag.runtime.export
	touch $@

# every lane (what CI runs): fast, model, server, browser, train, postgres, crash
test: install
	$(PY) -m pytest -q

# the unmarked lane: hash embedder, no servers or browsers, under a minute
FAST := not model and not server and not browser and not train and not postgres and not crash
test-fast: install
	$(PY) -m pytest -q -m "$(FAST)"

# style, formatting, types, and the import contracts in pyproject.toml (no cycles)
lint: install
	$(VENV)/bin/ruff check rag api tests bench
	$(VENV)/bin/ruff format --check rag api tests bench
	$(VENV)/bin/mypy rag api
	$(VENV)/bin/lint-imports

bench: install
	$(PY) bench/ingest_bench.py
	$(PY) bench/query_bench.py
	$(PY) bench/http_bench.py
	$(PY) bench/startup_bench.py

# the SQuAD v1.1 evaluation of the README and docs/performance.md; another file with
# `make eval SQUAD=path/to/dev-v1.1.json`
SQUAD ?= ../shared/data/squad-v1.1-dev/dev-v1.1.tune.json
eval: install
	$(VENV)/bin/rag eval $(SQUAD) --sample 2200 --split report --baselines

serve: install
	$(VENV)/bin/rag serve

ask: install
	$(VENV)/bin/rag ingest seeds/
	$(VENV)/bin/rag ask "$(Q)"

clean:
	rm -rf $(VENV) index build *.egg-info
