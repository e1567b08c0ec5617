# make setup: install what is missing (Debian packages for the extractors, .venv, firmproof in it,
#             AOSP's lpmake/lpunpack built from Debian's sources into .venv/aosp/bin)
# make demo [IMAGE=path]: set up, then scan IMAGE (default: a demo image built from real Debian binaries)
# make test: set up, then run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
IMAGE ?=

.PHONY: setup apt venv lptools doctor demo test fuzz lint bench fresh-check clean
setup: apt venv lptools doctor

# Debian packages: firmproof/data/debian-packages.txt lists each with what it is checked by
apt:
	@tools/setup-debian.sh $(PYTHON)

# a .venv without a working pip (an interrupted or failed earlier set-up) is made again
venv: apt
	@if [ -e $(VENV) ] && ! $(PY) -m pip --version >/dev/null 2>&1; then \
	  echo "setup: $(VENV) is incomplete (an interrupted set-up?): making it again"; rm -rf $(VENV); fi
	@$(MAKE) --no-print-directory -s $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	@echo "setup: installing firmproof and its Python dependencies into $(VENV)"
	@$(PY) -m pip install -q --upgrade pip
	@PYTHONWARNINGS=ignore $(PY) -m pip install -q -e '.[test]'   # (setuptools' editable-install notice)
	@touch $@

# super.img tools: Debian packages liblp's sources but not the tools (tools/build-lptools.sh)
# (their own folder: the liblp package installs a Python script named lpunpack in .venv/bin)
# a failed build does not stop set-up (scans do not need them); the tests that do say so
$(VENV)/aosp/bin/lpmake: tools/build-lptools.sh | apt venv
	@tools/build-lptools.sh $(VENV)/aosp/bin || echo "warning: lpmake/lpunpack not built; the super.img tests will fail" >&2

lptools: $(VENV)/aosp/bin/lpmake

# every external tool and library firmproof uses, found or not (exit 1 if a scan needs one)
doctor: venv lptools
	@$(VENV)/bin/firmproof doctor --brief

demo: setup
	@if [ -n "$(IMAGE)" ]; then img="$(IMAGE)"; else \
	  img=build/demo/demo-router.bin; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m firmproof.testing.demo "$$img"; fi; \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/firmproof scan "$$img" -o build/demo/report.json; rc=$$?; \
	echo "report written to build/demo/report.json"; [ $$rc -le 1 ] || [ $$rc -eq 3 ]

test: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -n 2 -q

# the parsers' fuzz harnesses with many more examples than `make test` runs (tests/fuzz); failures
# are kept in build/hypothesis and replayed first next time
fuzz: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q -p no:xdist tests/fuzz
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" FIRMPROOF_FUZZ=long $(PY) -m pytest -q -p no:xdist tests/fuzz

# the README's two commands in a fresh minimal Debian chroot (SUITE=bookworm or trixie; root)
SUITE ?= bookworm
fresh-check:
	tools/fresh-check.sh $(SUITE)

lint: setup
	$(VENV)/bin/ruff check firmproof tests bench
	$(VENV)/bin/mypy firmproof

bench: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/run.py

clean:
	rm -rf build .pytest_cache
