# One-command entry points (see README). Everything installs into ./.venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when a requirements or project file changes.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup browser run test check bench eval vectors
setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	# the package itself, editable: `tutor` on the PATH of the venv, no sys.path tricks
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# Browser tests drive Debian's Chromium: Playwright's own browser download cannot work
# offline. The CJK fonts keep Chinese readable in screenshots.
browser:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

run: setup
	$(BIN)/python app.py

# everything: lint, unit, integration (real model and Chroma), end to end (the browser)
test: setup browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# the working loop: lint and the fast tier (no model, seconds)
check: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests/unit -q

bench: setup
	$(BIN)/python bench/bench.py

eval: setup
	$(BIN)/python bench/eval_retrieval.py

# the shipped notes' vectors (knowledge/vectors/): run after editing knowledge/*.md or the
# code that makes grading points; the fast tests fail while a shipped chunk or point has no vector
vectors: setup
	$(BIN)/python -m tutor.vectors
