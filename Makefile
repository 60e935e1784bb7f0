# Four reference data platforms, one pipeline. This Makefile only loops: each platform
# (and shared/) is driven through its own Makefile.
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS := $(CURDIR)/.tools
UV_VERSION := 0.13.8
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11

# Every project folder that exists, shared/ first; platforms are added by their own issues.
PLATFORMS := $(foreach p,airflow dagster prefect k8s,$(if $(wildcard $(p)-platform/Makefile),$(p)-platform))
PROJECTS := shared $(PLATFORMS)
DEMO_START ?= 2013-01-01
DEMO_END ?= 2013-01-07
DEMO_MONTH ?= 2013-01

.PHONY: help bootstrap setup test-all test-tools compare template lint format demo bench bench-year screenshots clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)/uv-venv
	$(TOOLS)/uv-venv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	mkdir -p $(TOOLS)/bin && ln -sf ../uv-venv/bin/uv $(TOOLS)/bin/uv

bootstrap: | $(UV) ## Install uv into .tools/ when it is not on PATH (idempotent)
	@$(UV) --version

setup: bootstrap ## Set up every project (virtual environments, tools)
	@set -e; for p in $(PROJECTS); do $(MAKE) --no-print-directory -C $$p setup; done

# The suites run side by side, TEST_JOBS at a time (each is its own pytest session with its
# own servers on free ports; most of a suite's time is spent waiting on a server, a
# scheduler or a browser, not on the CPU). What they share is built first, once: the
# control plane's binaries and Chromium. A suite's output is printed whole when it ends.
TEST_JOBS ?= 2
# Longest first, so the two lanes end close together.
SUITES := $(addprefix suite-,$(filter prefect-platform airflow-platform,$(PLATFORMS)) \
  $(filter dagster-platform k8s-platform,$(PLATFORMS)) shared)

test-all: bootstrap ## Run every test suite, each in its own environment (sets itself up; TEST_JOBS=2 at a time)
	@$(MAKE) --no-print-directory -C shared setup controlplane
	@$(foreach p,$(firstword $(UI_PLATFORMS)),$(MAKE) --no-print-directory -C $(p) setup-browser)
	@start=$$(date +%s); \
	if $(MAKE) --no-print-directory -k -j$(TEST_JOBS) --output-sync=target $(SUITES); \
	then echo "=== every suite passed in $$(( $$(date +%s) - start ))s"; \
	else echo "=== FAILED: see the suites above"; exit 1; fi
	$(MAKE) --no-print-directory test-tools

.PHONY: $(SUITES)
$(SUITES): suite-%:
	@start=$$(date +%s); echo "=== $*: make test"; \
	if $(MAKE) --no-print-directory -C $* test; then echo "=== $*: passed in $$(( $$(date +%s) - start ))s"; \
	else echo "=== $*: FAILED after $$(( $$(date +%s) - start ))s"; exit 1; fi

# The repository-level tools (compare, template export, the concept map's links) run in
# shared/'s environment; these tests drive every platform, so they come after the suites.
TOOLS_PYTEST := cd shared && $(UV) run --frozen --no-sync pytest -p no:cacheprovider

test-tools: bootstrap ## Concept-map links, platform parity (DuckDB, PostgreSQL), template round trips
	$(MAKE) --no-print-directory -C shared setup
	$(TOOLS_PYTEST) ../tools/tests

compare: bootstrap ## Parity as a test: the four platforms load the same rows (DuckDB and PostgreSQL)
	$(MAKE) --no-print-directory -C shared setup
	$(TOOLS_PYTEST) ../tools/tests/test_compare.py

lint: bootstrap ## Run the pre-commit hooks (ruff check, ruff format, yaml/toml, whitespace) over all files
	$(MAKE) --no-print-directory -C shared setup
	cd shared && $(UV) run --frozen --no-sync pre-commit run --all-files --config ../.pre-commit-config.yaml

format: bootstrap ## Format all Python code with ruff
	$(MAKE) --no-print-directory -C shared setup
	cd shared && $(UV) run --frozen --no-sync ruff format .. && $(UV) run --frozen --no-sync ruff check --fix ..

demo: bootstrap ## The first week of 2013 through all four platforms, side by side (reports/compare.*)
	$(MAKE) --no-print-directory -C shared setup
	cd shared && $(UV) run --frozen --no-sync python ../tools/compare.py \
	  --start $(DEMO_START) --end $(DEMO_END) --report-month $(DEMO_MONTH) --workdir $(CURDIR)/data/demo --out $(CURDIR)/reports

template: bootstrap ## Copy one platform out as a project of its own: make template PLATFORM=dagster DEST=../my-pipeline
	@test -n "$(PLATFORM)" -a -n "$(DEST)" || { echo "usage: make template PLATFORM=<airflow|dagster|prefect|k8s> DEST=<dir>"; exit 2; }
	$(MAKE) --no-print-directory -C shared setup
	cd shared && $(UV) run --frozen --no-sync python ../tools/template.py $(PLATFORM) $(abspath $(DEST))

bench: bootstrap ## Benchmarks of every project that has them (figures and ratios, not tests)
	@set -e; for p in $(PROJECTS); do $(MAKE) --no-print-directory -C $$p bench; done

# Not part of test-all: 365 partitions through each platform's own backfill (Airflow's
# scheduler, a Dagster backfill, the Prefect backfill flow, the k8s Indexed Job), each
# warehouse checked equal to the bare steps'. BENCH_YEAR_START/END narrow the range.
bench-year: bootstrap ## The full year through every platform's own backfill: wall, start-up, per partition, peak memory, parity
	@mkdir -p reports/bench-year; set -e; failed=""; \
	for p in $(PLATFORMS); do \
	  $(MAKE) --no-print-directory -C $$p bench-year BENCH_YEAR_OUT=$(CURDIR)/reports/bench-year/$${p%-platform}.json \
	    || failed="$$failed $$p"; \
	done; \
	$(MAKE) --no-print-directory -C shared setup; \
	cd shared && $(UV) run --frozen --no-sync python -m etl_shared.bench_year summary \
	  $(foreach p,$(PLATFORMS),$(CURDIR)/reports/bench-year/$(p:-platform=).json); \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

# The web UIs with this pipeline in them, as the READMEs show them (docs/img/*.png): each
# platform's browser test (tests/test_ui.py) drives its `make ui` in Chromium.
UI_PLATFORMS := $(filter airflow-platform dagster-platform prefect-platform,$(PLATFORMS))
screenshots: bootstrap ## Refresh docs/img/ (Airflow, Dagster, Prefect UIs) from their browser tests
	@set -e; for p in $(UI_PLATFORMS); do $(MAKE) --no-print-directory -C $$p screenshots; done

clean: ## Remove virtual environments, local data and tools
	@for p in $(PROJECTS); do $(MAKE) --no-print-directory -C $$p clean; done
	rm -rf $(TOOLS) data
