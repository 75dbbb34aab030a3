# `make run` and `make test` do all set-up on a fresh machine: a .venv, the project installed
# in it (again only when pyproject.toml changes), then the app or the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deps-stamp

.PHONY: run test test-fast lint warm-bytecode warm-numba test-numerics bench screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# pip install -e ".[test]", --no-compile: byte-compiling torch's thousands of files costs half a
# minute of every fresh install (make test's warm-bytecode compiles what is imported, on every
# core). For make test, tools/install.py --warm also fills the suite's numba cache on the core
# pip leaves idle.
$(STAMP): pyproject.toml setup.py | $(PY)
	$(PY) tools/install.py $(INSTALL_FLAGS)
	touch $(STAMP)

# Before Qt loads, main.py checks for a display and for the system libraries Qt's xcb plugin
# needs (explorer/system_check.py): a missing one is one line with the install command, exit 2.
run: $(STAMP)
	$(PY) main.py

# OMP_WAIT_POLICY=PASSIVE: torch's OpenMP threads give the core back instead of spinning, so
# the suite holds on a busy machine (tests/conftest.py sets it too, for a bare pytest).
PYTEST = QT_QPA_PLATFORM=offscreen OMP_WAIT_POLICY=PASSIVE $(PY) -m pytest -q -n 2 --dist loadscope

# Everything: the linters, then every test. Beside the linters (mypy keeps one core) the warm
# targets fill what a fresh install lacks, bytecode and numba's compiled UMAP and t-SNE
# (tools/warm_caches.py), once for all the suite's processes instead of in each.
test: INSTALL_FLAGS = --warm
test: $(STAMP)
	$(MAKE) --no-print-directory -j 3 --output-sync=target lint warm-bytecode warm-numba
	$(PYTEST)

warm-bytecode warm-numba: $(STAMP)
	$(PY) tools/warm_caches.py $(@:warm-%=%)

# The edit loop: no Ray clusters, subprocesses, wheels or numerics (pytest -m slow has those).
test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

# ruff, mypy and the import contracts. mypy and import-linter read the package from the file
# system, so they see it through tools/package_tree.py's folder of links (as a wheel lays it out).
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) tools/package_tree.py build/package >/dev/null
	cd build/package && ../../$(PY) -m mypy --config-file ../../pyproject.toml
	cd build/package && ../../$(VENV)/bin/lint-imports ../../pyproject.toml

# The numerics tests (pytest -m numerics) again under other CPU kernel sets and thread counts:
# another machine's rounding, seen on this one. MKL_ENABLE_INSTRUCTIONS picks MKL's kernels on
# Intel CPUs (MKL ignores it on AMD); MKL_CBWR=COMPATIBLE is MKL's portable path on every CPU;
# ATEN_CPU_CAPABILITY=default turns off torch's own AVX2/AVX-512 kernels. Each is one run with
# 1 torch thread, and the machine's own kernels run with 1 and 2. One kernel set:
#   make test-numerics KERNELS=MKL_CBWR=COMPATIBLE THREADS=2
KERNELS ?= MKL_ENABLE_INSTRUCTIONS=SSE4_2 MKL_ENABLE_INSTRUCTIONS=AVX2 MKL_CBWR=COMPATIBLE \
	ATEN_CPU_CAPABILITY=default
THREADS ?= 1
NUMERICS = QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider -m numerics
test-numerics: $(STAMP)
	$(NUMERICS) --torch-threads 2
	$(NUMERICS) --torch-threads 1
	@for k in $(KERNELS); do echo "== $$k, $(THREADS) torch thread(s)"; \
		env $$k $(NUMERICS) --torch-threads $(THREADS) || exit 1; done

bench: $(STAMP)
	$(PY) benchmarks/train_speed.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/gui_responsiveness.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/explore_latency.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/draw_latency.py
	$(PY) benchmarks/sweep_speed.py
	$(PY) benchmarks/timeline_resume.py
	$(PY) benchmarks/checkpoint_mutations.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/launch_time.py

# Needs a virtual screen: apt-get install -y xvfb (the README's screenshots come from here).
screenshots: $(STAMP)
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) tools/window_screenshot.py docs/screenshots/training.png
	xvfb-run -a -s "-screen 0 1400x900x24" $(PY) tools/panel_screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
