# The two commands: `make run` and `make test`. Everything else they need, they install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STORE ?= $(HOME)/.convscope
HOST ?= 127.0.0.1
PORT ?= 8000
STATIC := src/convscope/server/static/index.html
WEB_SOURCES := $(shell find web -path web/node_modules -prune -o -type f -print 2>/dev/null)

export TF_CPP_MIN_LOG_LEVEL := 2
export KERAS_BACKEND := tensorflow

.PHONY: install web run test bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

$(STATIC): web/node_modules/.package-lock.json $(WEB_SOURCES) $(wildcard docs/*.md)
	cd web && npm run build

install: $(VENV)/.installed $(STATIC)

web: $(STATIC)

run: install
	$(BIN)/convscope serve --host $(HOST) --port $(PORT) --store $(STORE)

test: install
	cd web && npm run --silent check
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/recorder_overhead.py
	$(BIN)/python bench/payload_size.py
	$(BIN)/python bench/attribution.py
	$(BIN)/python bench/depth.py
	$(BIN)/python bench/browser.py
	$(BIN)/python bench/adversarial.py
	$(BIN)/python bench/store_load.py
	$(BIN)/python bench/executors.py
	$(BIN)/python bench/server_load.py
	$(BIN)/python bench/layers.py
	$(BIN)/python bench/ablation.py

lint: $(VENV)/.installed web/node_modules/.package-lock.json
	cd web && npm run --silent lint
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

clean:
	rm -rf $(VENV) web/node_modules src/convscope/server/static
