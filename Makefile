# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,postgres,redis,report]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/triage demo

test: $(STAMP)
	$(VENV)/bin/pytest -q -ra

bench: $(STAMP)
	$(VENV)/bin/python bench/classify.py
	$(VENV)/bin/python bench/intake.py

lint: $(STAMP)
	$(VENV)/bin/ruff check worker classifier models tests bench

clean:
	rm -rf $(VENV) var
