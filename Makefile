# `make run` and `make test` do all set-up on a fresh machine: a .venv, the project installed
# in it (again only when pyproject.toml changes), then the app or the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deps-stamp

.PHONY: run test bench screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Before Qt loads, main.py checks for a display and for the system libraries Qt's xcb plugin
# needs (explorer/system_check.py): a missing one is one line with the install command, exit 2.
run: $(STAMP)
	$(PY) main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

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
