# Two commands for everyone: `make lab` (open the course) and `make test` (run every check).
# Both create .venv on first use and refresh it whenever pyproject.toml or the Python changes.
#
# Python: 3.11, 3.12 or 3.13 (pyproject.toml's requires-python). Unless PYTHON= is given, the
# first of python3.13, python3.12, python3.11, python3 that *runs* and is in range is used: a name
# on PATH can be a pyenv shim of an inactive version that fails when run, so each is tried.
SUPPORTED := 3.11, 3.12 or 3.13
IN_RANGE := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c '$(IN_RANGE)' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV ?= .venv
BIN := $(VENV)/bin
# one stamp per Python version: asking for another Python rebuilds the venv
STAMP := $(VENV)/.installed-python$(PY_VERSION)
# Optional: a PyTorch index for pip, e.g. https://download.pytorch.org/whl/cpu to get the small
# CPU-only build on Linux without a GPU.
TORCH_INDEX ?=
TORCH_PIN := torch==2.13.0

.PHONY: lab test unit lint format venv clean-venv data python

venv: $(STAMP)

# Says which Python the venv is (or would be) built with, or what to install when none fits.
python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "No supported Python found: llm-course needs Python $(SUPPORTED)."; \
	  echo "Install one (python.org, 'apt install python3.12', 'brew install python@3.13'," \
	       "'pyenv install 3.13'), or point to it: make test PYTHON=/path/to/python3.12"; \
	  exit 1; \
	fi
	@$(PYTHON) -c '$(IN_RANGE)' 2>/dev/null || { \
	  echo "PYTHON=$(PYTHON) does not run, or is not Python $(SUPPORTED)" \
	       "(found: $$($(PYTHON) --version 2>&1 | head -n 1))."; \
	  echo "Install Python $(SUPPORTED), or name one that runs: make test PYTHON=python3.12"; \
	  exit 1; }
	@echo "Python: $(PYTHON) ($$($(PYTHON) --version 2>&1)), venv $(VENV)"

$(STAMP): pyproject.toml | python
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$(PY_VERSION)" ]; then \
	  echo "$(VENV) was made with another Python: rebuilding it with Python $(PY_VERSION)"; \
	  rm -rf $(VENV); \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed*
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format course_lib tests benchmarks data/build_shakespeare.py

# Unit tests of course_lib and every notebook executed by nbval, in fast mode.
test: $(STAMP)
	$(BIN)/ruff check .
	COURSE_FAST=1 $(BIN)/python -m pytest tests --nbval-lax --nbval-current-env notebooks

# The unit tests alone (no notebooks, no browser): what CI runs on a second Python version.
unit: $(STAMP)
	COURSE_FAST=1 $(BIN)/python -m pytest tests -m "not browser"

data:
	$(PYTHON) data/build_shakespeare.py

clean-venv:
	rm -rf $(VENV)
