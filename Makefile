# Two commands for everyone: `make lab` (open the course) and `make test` (run every check).
# Both create .venv on first use and refresh it whenever pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Optional: a PyTorch index for pip, e.g. https://download.pytorch.org/whl/cpu to get the small
# CPU-only build on Linux without a GPU.
TORCH_INDEX ?=
TORCH_PIN := torch==2.13.0

.PHONY: lab test lint format venv clean-venv data

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else "llm-course needs Python 3.11, found %d.%d: run make PYTHON=python3.11 ..." % v)'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
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

data:
	$(PYTHON) data/build_shakespeare.py

clean-venv:
	rm -rf $(VENV)
