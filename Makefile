# Set-up and everyday tasks. `make install` is idempotent; everything runs inside .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)

.PHONY: install torch-cpu test test-fast lint bench eval serve ask clean

install: $(VENV)/.installed node_modules/.installed

# the JavaScript linter (biome, pinned in package-lock.json), for `make lint`
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(MAKE) --no-print-directory torch-cpu VENV=$(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	# the ONNX files the default backend answers with (~/.cache/newsqa; about a minute, once)
	$(PY) -m rag.runtime.export
	touch $@

# torch's CPU-only build, asked for by name: on Linux, PyPI's torch is the CUDA build (it pulls
# gigabytes of nvidia-* wheels); PyTorch's CPU index serves the `+cpu` one. Where that index is out
# of reach, pip's own indexes and find-links (a mirror, a wheel folder) must serve `+cpu`: never
# a CUDA build. `pip install .` then finds torch==2.13.0 satisfied. Elsewhere (macOS) the plain
# torch==2.13.0 is asked for: no CUDA build exists there.
TORCH := torch==2.13.0$(if $(filter Linux,$(shell uname -s)),+cpu)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
REACHABLE = $(PY) -c "import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], \
	method='HEAD'), timeout=10)" $(TORCH_INDEX)/torch/ 2>/dev/null
torch-cpu:
	@if $(REACHABLE); then \
		echo "$(TORCH) from $(TORCH_INDEX)"; \
		$(PY) -m pip install -q --index-url $(TORCH_INDEX) '$(TORCH)'; \
	else \
		echo "$(TORCH_INDEX) is out of reach: $(TORCH) from pip's configured indexes"; \
		$(PY) -m pip install -q '$(TORCH)'; \
	fi

# every lane (what CI runs): fast, model, server, browser, train, postgres, crash
test: install
	$(PY) -m pytest -q

# the unmarked lane: hash embedder, no servers or browsers, under a minute
FAST := not model and not server and not browser and not train and not postgres and not crash
test-fast: install
	$(PY) -m pytest -q -m "$(FAST)"

# style, formatting, types, and the import contracts in pyproject.toml (no cycles); the
# widget's JavaScript with biome (biome.jsonc; warnings fail too)
lint: install
	$(VENV)/bin/ruff check rag api tests bench
	$(VENV)/bin/ruff format --check rag api tests bench
	$(VENV)/bin/mypy rag api
	$(VENV)/bin/lint-imports
	node_modules/.bin/biome lint --error-on-warnings api/static

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
	rm -rf $(VENV) index build *.egg-info node_modules
