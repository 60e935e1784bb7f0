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

.PHONY: help bootstrap setup test-all lint format demo bench clean

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

test-all: bootstrap ## Run every test suite, each in its own environment (sets itself up)
	@set -e; failed=""; \
	for p in $(PROJECTS); do \
	  echo "=== $$p: make test"; start=$$(date +%s); \
	  if $(MAKE) --no-print-directory -C $$p test; then echo "=== $$p: passed in $$(( $$(date +%s) - start ))s"; \
	  else echo "=== $$p: FAILED"; failed="$$failed $$p"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

lint: bootstrap ## Run the pre-commit hooks (ruff check, ruff format, yaml/toml, whitespace) over all files
	$(MAKE) --no-print-directory -C shared setup
	cd shared && $(UV) run --frozen --no-sync pre-commit run --all-files --config ../.pre-commit-config.yaml

format: bootstrap ## Format all Python code with ruff
	$(MAKE) --no-print-directory -C shared setup
	cd shared && $(UV) run --frozen --no-sync ruff format .. && $(UV) run --frozen --no-sync ruff check --fix ..

demo: bootstrap ## Seed the first week of 2013, backfill it into DuckDB, print the per-day summary
	$(MAKE) --no-print-directory -C shared setup
	cd shared && $(UV) run --frozen --no-sync etl seed --start $(DEMO_START) --end $(DEMO_END)
	cd shared && $(UV) run --frozen --no-sync etl backfill --start $(DEMO_START) --end $(DEMO_END)
	cd shared && $(UV) run --frozen --no-sync etl summary --start $(DEMO_START) --end $(DEMO_END)

bench: bootstrap ## Benchmarks of every project that has them (figures and ratios, not tests)
	@set -e; for p in $(PROJECTS); do $(MAKE) --no-print-directory -C $$p bench; done

clean: ## Remove virtual environments, local data and tools
	@for p in $(PROJECTS); do $(MAKE) --no-print-directory -C $$p clean; done
	rm -rf $(TOOLS) data
