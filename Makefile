# The two commands a newcomer runs: `make demo` and `make test`.
# Both bootstrap .venv/ by themselves on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format bench clean-venv

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# -c pins torch to the CPU build served locally; anything else pulls CUDA wheels.
	$(PIP) install -q -c constraints.txt -r requirements.txt
	# sam2 ships only an sdist whose metadata asks for CUDA torch and torchvision (which
	# does not import beside our torch); its video predictor needs neither at run time.
	SAM2_BUILD_CUDA=0 $(PIP) install -q -c constraints.txt --no-deps --no-build-isolation sam2==1.1.0
	# sam3 (text masks) pins huggingface-hub<2 (we use 2.x); timm, which it imports, asks for
	# torchvision. Both go in without their dependency resolution; what they really import at run
	# time is in requirements.txt (torchvision is not: see void_engine/masks/_torchvision_stand_in.py).
	$(PIP) install -q -c constraints.txt --no-deps --no-build-isolation sam3==0.1.4 timm==1.0.31
	$(PIP) install -q -c constraints.txt --no-deps --no-build-isolation -e .
	@touch $@

demo: $(STAMP)
	$(PY) -m void_engine.cli demo

# The habits first (seconds), then the suite: CI runs exactly this. The suite runs in two passes:
# everything not marked `serial` on $(TEST_WORKERS) pytest-xdist workers (each with its own block of
# ports, one torch thread: tests/parallel.py), then the `serial` tests (asserted latencies and
# durations, Ray, the browser driver) alone. A plain `pytest` runs all of it in one process.
# The second pass collects only the files that mark tests `serial` (collecting all 800 tests
# imports diffusers and torch's compiler: ~10 s of CPU for nothing).
TEST_WORKERS ?= 2
SERIAL_FILES = $(shell grep -rlE --include='test_*.py' 'pytest\.mark\.serial' tests)
test: lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	$(PY) -m pytest -m serial $(SERIAL_FILES)

# ruff (pyflakes, pycodestyle, isort), the format check, and mypy on the engine and the bridge
# (the host plugins are type-checked against the host stubs by their own tests).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff check --fix --select I .
	$(PY) -m ruff format .

bench: $(STAMP)
	$(PY) bench/plates_bench.py

clean-venv:
	rm -rf $(VENV)
