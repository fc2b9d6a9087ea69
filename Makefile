# hnnbench — every target creates .venv and installs the project when it is missing.
#
# TORCH is the one knob for the torch build: the default pins the CPU release that
# `pip` finds on this kind of machine; on a GPU machine use e.g.
#   make install TORCH="torch --index-url https://download.pytorch.org/whl/cu128"
# and on a CPU-only machine without a local wheel
#   make install TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed
ARGS ?=

.PHONY: install docs-install test test-slow test-cluster lint format bench doctor report paper-lite paper claims claims-full perf docs clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] < (3, 14), \
	  f"hnnbench needs Python 3.10-3.13 (Hydra 1.3 does not start on 3.14); got {sys.version.split()[0]}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[dev,launchers]'
	touch $(STAMP)

install: $(STAMP)

$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -q -e '.[docs]'
	touch $(DOCS_STAMP)

docs-install: $(DOCS_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -q $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

# a throwaway one-node SLURM (installed with apt-get when missing; needs root): a sweep with a
# cancelled job and a drained node, resumed (tests/cluster/, docs/cluster.md); the time-limit
# test too (≈ 4 min more): make test-cluster ARGS="-m cluster"
test-cluster: $(STAMP)
	$(BIN)/python -m pytest -q -m "cluster and not slow" -s tests/cluster $(ARGS)

# the machine check first (its summary goes into the report); the report is written even when
# some runs failed; the exit status still says so
bench: $(STAMP)
	$(BIN)/hnnbench-doctor --json results/bench/doctor.json
	$(BIN)/hnnbench -m experiment=bench $(ARGS); status=$$?; \
	$(BIN)/hnnbench -m experiment=bench_ladder $(ARGS) || status=1; \
	$(BIN)/hnnbench-report results/bench || status=1; exit $$status

doctor: $(STAMP)
	$(BIN)/hnnbench-doctor $(ARGS)

report: $(STAMP)
	$(BIN)/hnnbench-report $(or $(RESULTS),results)

paper-lite: $(STAMP)
	$(BIN)/python -m hnnbench.paper --lite $(ARGS)

paper: $(STAMP)
	$(BIN)/python -m hnnbench.paper $(ARGS)

# the press-release claims: sampled ladder vs backprop baselines, report opens with the verdicts
claims: $(STAMP)
	$(BIN)/python -m hnnbench.claims --lite $(ARGS)

claims-full: $(STAMP)
	$(BIN)/python -m hnnbench.claims $(ARGS)

perf: $(STAMP)
	$(BIN)/python benchmarks/perf.py $(ARGS)

# the documentation site in site/ (open site/index.html). --strict: a broken link or anchor, a
# missing page or a page left out of mkdocs.yml's nav fails the build. NO_MKDOCS_2_WARNING only
# silences mkdocs-material's banner about its end of life (May 2027); the build needs no network.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) site .pytest_cache .ruff_cache
