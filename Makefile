# The two commands of the README:
#   make run    installs what the service needs into .venv and serves on http://127.0.0.1:8000
#   make test   installs the service and its test tools into .venv, then lints, type-checks and tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
LOG_FORMAT ?= text

.PHONY: run test install install-dev lint typecheck pytest golden bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed client/pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,jax]' -e './client[torch]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	SEED_AUTHORITY_LOG_FORMAT=$(LOG_FORMAT) $(PY) -m uvicorn app.main:app --host $(HOST) --port $(PORT)

lint: install-dev
	$(PY) -m ruff check .

typecheck: install-dev
	$(PY) -m mypy

pytest: install-dev
	$(PY) -m pytest

test: lint typecheck pytest

golden: install-dev
	$(PY) -m scripts.make_golden
	$(PY) -m scripts.make_jax_golden

bench: install-dev
	for b in small_requests client_overhead stream_formats offsets handoff inits cuda_emulation permutations calls; do $(PY) -m bench.$$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
