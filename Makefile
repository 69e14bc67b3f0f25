# OpenHelm developer commands. Every target installs what it needs itself.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .tools
PORT ?= 8787

.PHONY: help install system-deps dev demo test lint unit bench openapi clean build-SharedLayer

help:
	@echo "make demo   - start the local stack and complete a real browser run (the main job)"
	@echo "make test   - install everything and run lint + all tests (what CI runs)"
	@echo "make dev    - run the embedded local stack in the foreground"
	@echo "make bench  - print benchmark figures"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,agent,e2b]'
	touch $(STAMP)

install: $(STAMP)

# Chromium and bubblewrap come from the OS packages (Playwright cannot download browsers here).
system-deps:
	@bash scripts/system-deps.sh

$(TOOLS)/node_modules/.bin/asl-validator:
	mkdir -p $(TOOLS)
	cd $(TOOLS) && npm install --silent --no-audit --no-fund --prefix . asl-validator@4.0.0 >/dev/null

lint: $(STAMP) $(TOOLS)/node_modules/.bin/asl-validator
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml
	@for f in statemachine/*.asl.json; do \
	  $(TOOLS)/node_modules/.bin/asl-validator --json-path $$f --silent || exit 1; done
	$(BIN)/python -m devstack.openapi --check docs/openapi.json

test: system-deps lint
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

dev: $(STAMP) system-deps
	$(BIN)/openhelm dev --port $(PORT)

demo: $(STAMP) system-deps
	$(BIN)/openhelm demo

bench: $(STAMP) system-deps
	$(BIN)/python bench/api.py
	$(BIN)/python bench/orchestration.py
	$(BIN)/python bench/observation.py
	$(BIN)/python bench/pipeline.py

openapi: $(STAMP)
	$(BIN)/python -m devstack.openapi --write docs/openapi.json

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .ruff_cache

# Used by `sam build` (BuildMethod: makefile) to assemble the shared domain layer.
build-SharedLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python"
	cp -r shared "$(ARTIFACTS_DIR)/python/"
	$(PY) -m pip install -q -r requirements-layer.txt -t "$(ARTIFACTS_DIR)/python"
	# Lambda cannot write __pycache__ at run time: ship bytecode so cold starts do not compile
	# (effective when the build Python is the runtime's, e.g. `sam build --use-container`).
	$(PY) -m compileall -q "$(ARTIFACTS_DIR)/python" >/dev/null
