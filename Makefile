# Two commands do everything: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test bench lint docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps keep re-runs fast; they are redone when pyproject.toml changes.
# The demo's spike-inference stage needs OASIS (the `spikes` extra).
$(VENV)/.demo: $(BIN)/python pyproject.toml
	$(PIP) install -e ".[spikes]"
	@touch $@

$(VENV)/.test: $(BIN)/python pyproject.toml
	$(PIP) install -e ".[test]"
	@touch $@ $(VENV)/.demo

demo: $(VENV)/.demo
	$(BIN)/calscipy demo --out demo_output

test: $(VENV)/.test
	$(BIN)/python -m pytest

bench: $(VENV)/.test
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# ruff (style, imports, numpydoc D4xx rules), numpydoc's own section-order/parameter checks,
# and mypy (configured in pyproject.toml) on src/
lint: $(VENV)/.test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -W ignore -m numpydoc lint $$(git ls-files 'src/CalSciPy/*.py' 2>/dev/null || find src/CalSciPy -name '*.py')
	$(BIN)/mypy

$(VENV)/.docs: $(BIN)/python pyproject.toml
	$(PIP) install -e ".[docs]"
	@touch $@

# The documentation site, offline, warnings as errors; the gallery runs every example.
docs: $(VENV)/.docs
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) demo_output build *.egg-info src/*.egg-info
