# ganeval: every target does its own set-up on a fresh machine.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DOCS_STAMP := $(VENV)/.docs-installed-stamp

FMNIST := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz

.PHONY: setup data browser test bench demo docs gpu-check clean

setup: $(STAMP)

# Reinstall when the dependency list changes; the editable install picks up code changes by itself.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Fashion-MNIST from Debian's dataset-fashion-mnist when run as root; otherwise say how to provide it.
data:
	@if [ -f $(FMNIST) ] || [ -n "$$GANEVAL_DATA" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
		|| echo "make data: apt-get could not install dataset-fashion-mnist"; \
	else \
		echo "make data: Fashion-MNIST not found; run as root, or set GANEVAL_DATA, or pass --data-root / --download"; \
	fi

# Chromium and its driver for the human-study page tests, from Debian when run as root; without them those tests
# skip, saying why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "make browser: apt-get could not install chromium and chromium-driver; the browser tests will skip"; \
	else \
		echo "make browser: chromium or chromedriver not found; run as root, or install them; the browser tests will skip"; \
	fi

# Two workers (pytest-xdist), each on one torch thread (tests/conftest.py), a test file to a worker so that its
# module fixtures are built once: 8 minutes instead of 10.5 on 2 cores. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

test: $(STAMP) data browser
	$(PY) -m pytest -q tests $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

bench: $(STAMP)
	$(PY) -m pytest -q benchmarks --benchmark-columns=min,mean,max,rounds --benchmark-sort=name

demo: $(STAMP) data
	$(PY) -m ganeval demo --runs runs/demo --out reports/demo

# The documentation site (mkdocs.yml) into site/: the `docs` extra, installed once per dependency list like STAMP;
# --strict turns every warning (a broken link or anchor, a page left out of the nav) into a failure.
# NO_MKDOCS_2_WARNING: Material's boxed notice about MkDocs 2.0 and its own end of life (2027), shown on every build.
$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

gpu-check: $(STAMP)
	bash benchmarks/gpu_check.sh

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
