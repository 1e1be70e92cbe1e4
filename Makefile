# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
OUT ?= reports
YEAR ?= 2026
JOBS ?= 2

.PHONY: install demo test clean

$(VENV)/.installed: pyproject.toml setup.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/surveykit demo --out $(OUT) --jobs $(JOBS)

test: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) data/demo $(OUT)/20* $(OUT)/index.html
