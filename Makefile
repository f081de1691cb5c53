# music-mlops. Two commands matter: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
LOCK_HASH := $(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(LOCK_HASH)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup test test-fast demo up down serve bento bench-ingest bench-recommend bench-train bench-serve lint lock clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: $(STAMP)  ## build .venv from requirements.lock (no-op when the lock is unchanged)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==25.3"
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@
	@echo "environment ready: $(VENV) (lock $(LOCK_HASH))"

test: setup  ## run the whole test suite
	$(BIN)/python -m pytest -q

test-fast: setup  ## tests without the slow (training / DAG) ones
	$(BIN)/python -m pytest -q -m "not slow"

demo: setup  ## generate SYNTHETIC data and run the pipeline on the embedded defaults
	$(BIN)/python -m ml.demo

up: setup  ## MLflow UI + Airflow standalone on localhost (Ctrl-C stops)
	$(BIN)/python -m ml.devstack

down:  ## stop a dev stack started by `make up`
	$(BIN)/python -m ml.devstack down

bento: setup  ## import the champions from MLflow into the BentoML store and build the bento
	$(BIN)/musicml bento build

serve: setup  ## serve the bento on http://127.0.0.1:3000 (Swagger UI at /docs; Ctrl-C stops)
	@test -f bentos/serving_manifest.json || $(BIN)/musicml bento build
	$(BIN)/musicml serve --port $${PORT:-3000}

bench-serve: setup  ## HTTP latency, batch throughput, open-loop load, cold start, RSS -> benchmarks/results/serve.json
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null; } || { echo "wrk missing: sudo apt-get install -y wrk"; exit 1; }
	$(BIN)/python benchmarks/bench_serve.py

bench-ingest: setup  ## 1M tracks + 26M chart rows through the lake -> benchmarks/results/ingest.json
	$(BIN)/python benchmarks/bench_ingest.py

bench-train: setup  ## every model on the real data: time + peak RSS -> benchmarks/results/{train,quality}.json
	$(BIN)/python benchmarks/bench_train.py

bench-recommend: setup  ## FAISS exact 100k / IVF 1M + hybrid one-user latency -> benchmarks/results/recommend.json
	$(BIN)/python benchmarks/bench_recommend.py

lint: setup  ## ruff
	$(BIN)/ruff check ml tests dags benchmarks bentos

lock:  ## re-resolve requirements.in into requirements.lock (needs the registries)
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install -q "pip==25.3" \
	  && .venv-lock/bin/pip install -q -r requirements.in \
	  && .venv-lock/bin/pip freeze --exclude-editable > requirements.lock && rm -rf .venv-lock

clean:  ## remove local state (lake, mlflow, airflow, work files); keeps .venv
	rm -rf .lake .mlflow .airflow .work
