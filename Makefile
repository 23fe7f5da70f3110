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

# Two workers, one test file each at a time (module fixtures stay in one process): the
# suite alone keeps about one of the two cores busy.
test: install
	$(PY) -m pytest -q -n 2 --dist loadfile tests

include bazel.mk
