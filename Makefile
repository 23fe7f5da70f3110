# Set-up is part of every target: a fresh machine with Python 3.11 needs only `make`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

.PHONY: install quickstart test

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(STAMP)

quickstart: install
	$(PY) -m tfprune.run --config configs/quickstart.py --workdir workdirs/quickstart

test: install
	$(PY) -m pytest -q tests

include bazel.mk
