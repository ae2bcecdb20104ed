# One entry point for humans and CI. `make help` lists the targets.
VENV := .venv
PY := $(VENV)/bin/python
SRC := server agent speech tts_worker
.DEFAULT_GOAL := help

.PHONY: help setup python-setup serve test test-js frontend check lint format typecheck bench schema docs validate-deploy eval

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup:  ## create .venv, install npm packages, build frontend/dist (idempotent)
	@scripts/setup.sh

python-setup:  # .venv only: what lint, type checks, docs and benchmarks need
	@scripts/setup.sh --python-only

frontend:  ## build frontend/dist, printing sizes (watch: cd frontend && node build.mjs --watch)
	@scripts/setup-frontend.sh --build

serve: setup  ## set up, make sure Redis runs, start the server with embedded defaults
	@scripts/ensure-redis.sh
	$(VENV)/bin/avatar-agent serve

test: setup  ## run the test suite, then the JS unit tests (needs Redis, espeak-ng, Chromium)
	@scripts/ensure-redis.sh
	@scripts/ensure-system-packages.sh
	$(PY) -m pytest -q
	@$(MAKE) --no-print-directory test-js

test-js:  ## the browser client's unit tests (node --test, no browser)
	cd frontend && node --test --test-reporter=dot test/

lint: python-setup  ## format check and lint
	$(VENV)/bin/ruff format --check $(SRC) evals tests benchmarks scripts
	$(VENV)/bin/ruff check $(SRC) evals tests benchmarks scripts

format: python-setup  ## apply formatting and safe fixes
	$(VENV)/bin/ruff format $(SRC) evals tests benchmarks scripts
	$(VENV)/bin/ruff check --fix $(SRC) evals tests benchmarks scripts

typecheck: python-setup  ## mypy --strict
	$(VENV)/bin/mypy

eval: setup  ## the smoke eval suite against a fresh server (reports in artifacts/evals/)
	@scripts/ensure-redis.sh
	$(PY) -m evals run evals/suites/smoke.yaml --serve --parallel 1 \
		--junit artifacts/evals/smoke.xml --json artifacts/evals/smoke.json \
		--html artifacts/evals/smoke.html

validate-deploy:  ## validate compose, Dockerfile, k8s manifests, alert rules, dashboard
	@scripts/validate-deploy.sh

check: lint typecheck validate-deploy test  ## everything CI runs

bench: setup  ## latency benchmarks: text TTFT and voice in (write benchmarks/results/)
	@scripts/ensure-redis.sh
	$(PY) -m benchmarks.ttft
	$(PY) -m benchmarks.voice_latency
	$(PY) -m benchmarks.voice_out
	$(PY) -m benchmarks.browser_client
	$(PY) -m benchmarks.retrieval
	$(PY) -m benchmarks.waterfall --concurrency-sweep 1,2,3,4 --turns 4

docs: python-setup  ## regenerate docs/protocol.schema.json and docs/configuration.md
	$(PY) scripts/gen_docs.py
