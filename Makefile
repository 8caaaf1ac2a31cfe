# genrekit: `make demo` and `make test` set up .venv when it is missing or older than pyproject.toml.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo

.PHONY: demo test test-fast lint bench clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e '.[dev]'
	# musicnn ships the pretrained weights; its declared pins (numpy<1.17, TensorFlow 1) are unusable.
	$(BIN)/python -m pip install --no-deps musicnn==0.1.0
	$(BIN)/python tools/warm_numba_cache.py
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m genrekit.demo $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
