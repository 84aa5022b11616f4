# The two set-up commands from the README: `make demo` and `make test`. Both create .venv if it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -c constraints.txt
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test test-slow test-all lint demo demo-full bench bench-full clean

# Re-runs pip only when the dependencies change; an existing venv is kept.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) -q -e '.[app,test]'
	touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/pytest -q

test-slow: install
	$(BIN)/pytest -q -m slow

test-all: install
	$(BIN)/pytest -q -m 'slow or not slow'

lint: install
	$(BIN)/ruff check galoreplus lightning_modules datamodules benchmarks tests
	$(BIN)/ruff format --check galoreplus lightning_modules datamodules benchmarks tests

demo: install
	$(BIN)/galoreplus ablate configs/ablations/demo.yaml

demo-full: install
	$(BIN)/galoreplus ablate configs/ablations/demo_full.yaml

bench: install
	$(BIN)/python -m benchmarks

bench-full: install
	$(BIN)/python -m benchmarks --full

clean:
	rm -rf $(VENV) runs lightning_logs
