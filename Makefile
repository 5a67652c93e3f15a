# synchub developer entry points. `make setup` is idempotent (stamp files under .venv/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMPS  := $(VENV)/.stamps
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help setup run test bench soak soak-tests fuzz chaos lint stop clean jars system-deps loadgen

help:
	@echo "make setup  - venv + Python deps, npm deps, Ignite jars, chromium, docker-compose, faketime"
	@echo "make run    - local Ignite node + hub (synchub dev)"
	@echo "make test   - ruff, mypy, pytest (real Ignite nodes), client-js tests"
	@echo "make bench  - benchmarks side by side with their baselines and peers (docs/benchmarks.md)"
	@echo "make soak   - connection soak: 10,000 connections, 100 churn/s, writes, 10 min (bench/soak.py)"
	@echo "make soak-tests N=10 - run CI N times, each on a fresh clone of HEAD (flakes show as red runs)"
	@echo "make fuzz RUNS=1000000 - long fuzz profile: hub frame and stored-document targets (atheris)"
	@echo "make chaos SCHEDULES=1000 SEED=1 - long fault-injection convergence profile (tests/chaos/)"
	@echo "make chaos PROFILE=restart SCHEDULES=20 - schedules that each restart the whole cluster"
	@echo "make chaos PROFILE=restart-persistent SCHEDULES=20 - the same on disk: nothing may be lost"
	@echo "make lint   - ruff check + format check + mypy"
	@echo "make stop   - stop the local Ignite node(s) started by make run"
	@echo "make clean  - remove caches, test artifacts and local cluster state"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMPS)/pip: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm-client-js: $(wildcard client-js/package.json client-js/package-lock.json)
	@if [ -f client-js/package.json ]; then npm ci --prefix client-js; fi
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm-tests-node: $(wildcard tests/node/package.json tests/node/package-lock.json)
	@if [ -f tests/node/package.json ]; then npm ci --prefix tests/node; fi
	@mkdir -p $(STAMPS) && touch $@

jars: $(STAMPS)/pip
	$(BIN)/python -m hub.dev.cluster fetch

# The Go load generator of the soak (bench/loadgen; modules from the Go module proxy).
$(STAMPS)/loadgen: $(wildcard bench/loadgen/go.* bench/loadgen/*.go) | $(BIN)/python
	cd bench/loadgen && go vet ./... && go build -o $(abspath $(BIN))/synchub-loadgen .
	@mkdir -p $(STAMPS) && touch $@

loadgen: $(STAMPS)/loadgen

system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! command -v docker-compose >/dev/null || ! command -v faketime >/dev/null; then \
	  pkgs=""; \
	  [ -x /usr/bin/chromium ] || pkgs="$$pkgs chromium"; \
	  command -v docker-compose >/dev/null || pkgs="$$pkgs docker-compose"; \
	  command -v faketime >/dev/null || pkgs="$$pkgs faketime"; \
	  echo "installing:$$pkgs"; \
	  $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$pkgs; \
	fi

setup: $(STAMPS)/pip $(STAMPS)/npm-client-js $(STAMPS)/npm-tests-node jars system-deps $(STAMPS)/loadgen

# `synchub dev` starts the local Ignite node itself (state in .synchub/ignite).
run: setup
	$(BIN)/synchub dev

lint: setup
	$(BIN)/ruff check hub tests bench
	$(BIN)/ruff format --check hub tests bench
	$(BIN)/mypy

test: setup
	$(BIN)/ruff check hub tests bench
	$(BIN)/mypy
	cd bench/loadgen && go test ./...
	$(BIN)/pytest
	@if [ -f client-js/package.json ]; then npm --prefix client-js test; fi

# Long fuzz profile (a short one runs in `make test`): tests/fuzz/run.py, docs/reliability.md.
RUNS ?= 1000000
SEED ?= 1
fuzz: setup
	@set -o pipefail; for t in frames stored_doc; do \
	  $(BIN)/python tests/fuzz/run.py $$t --runs $(RUNS) --seed $(SEED) 2>&1 | grep -E '^(fuzz|Done|#[0-9]+.*DONE|stat::|==)|Error|error' || exit 1; \
	done

# Long chaos profile (a quick one, 50 schedules, runs in `make test`): tests/chaos/, docs/reliability.md.
# PROFILE=restart: schedules that each restart the whole cluster; restart-persistent: the same with
# Ignite native persistence (every acknowledged write must survive).
SCHEDULES ?= 1000
PROFILE ?= long
chaos: setup
	$(BIN)/python -m tests.chaos.run --profile $(PROFILE) --schedules $(SCHEDULES) --seed $(SEED) --shrink

# Connection soak (issue 10 §3; a 30 s quick profile runs in `make test`): bench/soak.py, docs/reliability.md.
SOAK_ARGS ?=
soak: setup
	nice -n 5 $(BIN)/python -m bench.soak $(SOAK_ARGS)

# The peer of the fan-out benchmark: Centrifugo v6.9.1, built from the Go module proxy.
CENTRIFUGO := $(BIN)/centrifugo
$(CENTRIFUGO): | $(BIN)/python
	GOBIN=$(abspath $(BIN)) go install github.com/centrifugal/centrifugo/v6@v6.9.1

# Benchmarks (issue 13; their quick modes run in `make test`): tables and plots for docs/benchmarks.md
# under test-artifacts/bench/.
# Each bench exits non-zero when its load met unexpected outcomes (an overloaded case): its
# results are still written, and the report renders them, so make goes on (the leading -).
bench: setup $(CENTRIFUGO)
	-$(BIN)/python -m bench.fanout --centrifugo $(abspath $(CENTRIFUGO))
	-$(BIN)/python -m bench.push
	-$(BIN)/python -m bench.presence
	-$(BIN)/python -m bench.subsets
	-$(BIN)/python -m bench.ingest
	-$(BIN)/python -m bench.catchup
	-$(BIN)/python -m bench.memory
	-$(BIN)/python -m bench.scaleout
	$(BIN)/python -m bench.report

N ?= 10
soak-tests:
	bash .ci/soak $(N)

stop:
	@if [ -x $(BIN)/synchub ]; then $(BIN)/synchub ignite stop; fi

clean: stop
	rm -rf .synchub test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
	find hub tests -name __pycache__ -type d -prune -exec rm -rf {} +
