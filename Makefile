# FindMe: one command installs (setup), one runs (run), one tests (test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODELS_STAMP := layers/models/.pulled
FINDME_MODEL_MIRROR ?= $(wildcard ../shared/models)
export FINDME_MODEL_MIRROR
PHOTOS ?=

.PHONY: setup system-deps lock models run test test-unit test-integration lint format bench fuzz synth clean local-down

setup: $(STAMP) $(MODELS_STAMP)

LOCKS := functions/requirements
# Installs only what the locks pin, each file checked by sha256 (never resolves: a new release
# upstream cannot change a fresh clone). The project itself goes in editable, built by the
# locked hatchling without build isolation.
$(STAMP): pyproject.toml $(LOCKS)/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCKS)/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Refresh the locks on purpose after changing pyproject.toml (UPGRADE=1: newest transitive pins).
lock: $(STAMP)
	$(BIN)/python $(LOCKS)/locks.py $(if $(UPGRADE),--upgrade)

$(MODELS_STAMP): $(STAMP) layers/models/manifest.json
	$(BIN)/findme models pull
	touch $(MODELS_STAMP)

models: $(STAMP)
	$(BIN)/findme models pull

# Java 17 (with javac) and Node/npm for the local stack: from Debian when missing and root,
# else one line saying what to install (.ci/system-deps).
system-deps:
	@.ci/system-deps

run: $(if $(PHOTOS),,system-deps) setup
	@if [ -n "$(PHOTOS)" ]; then $(BIN)/findme faces analyze "$(PHOTOS)"; else $(BIN)/findme local run; fi

test: system-deps setup
	$(BIN)/pytest -q

test-unit: setup
	$(BIN)/pytest -q tests/unit

test-integration: system-deps setup
	$(BIN)/pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Contract fuzzing: schemathesis over the whole OpenAPI document against a fresh `make run`
# (own free port and state directory) with an organiser's, a member's and an admin's tokens;
# prints a JSON summary and fails on any server error or schema violation.
FUZZ_EXAMPLES ?= 25
FUZZ_SEED ?=
FACES_DEV ?= ../shared/data/faces-dev
fuzz: system-deps setup
	$(BIN)/findme local fuzz --max-examples $(FUZZ_EXAMPLES) --photos $(FACES_DEV)/images \
		$(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Offline, no AWS credentials, no Docker: images are only staged here (built by `cdk deploy`).
# The CLI is pinned: aws-cdk 3.x (npm `latest`) rejects aws-cdk-lib 2.x cloud assemblies.
CDK_CLI := npx --yes aws-cdk@2.1148.1
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
STAGE ?= dev

synth: setup
	cd infra && $(CDK_ENV) $(CDK_CLI) synth --quiet --no-notices --no-lookups -c stage=$(STAGE)

local-down: $(STAMP)
	$(BIN)/findme local down

clean:
	rm -rf $(VENV) .local layers/models/*.onnx $(MODELS_STAMP) infra/cdk.out
