# Set-up and entry points. `make demo` and `make test` work on a fresh machine with Python 3 and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup demo test lint typecheck unit browser fixtures bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job on the bundled demo artifacts: scan, BOM, attestation, report; checks the verdicts.
demo: setup
	$(PY) demo/run_demo.py

# Headless Chromium for the HTML report test (Debian's package; never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: setup
	$(VENV)/bin/ruff check scanner tests fixtures benchmarks demo
	$(VENV)/bin/ruff format --check scanner

typecheck: setup
	$(VENV)/bin/mypy --strict scanner

unit: setup
	$(PY) -m pytest

test: setup browser lint typecheck unit

# Regenerate the committed fixtures with the real libraries (torch CPU wheel, scikit-learn, keras ...).
fixtures: setup
	$(PY) -m pip install -q -e '.[fixtures]'
	$(PY) fixtures/generate_all.py

bench: setup
	$(PY) benchmarks/hash_bench.py

clean:
	rm -rf build dist .mypy_cache .ruff_cache .pytest_cache
