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

.PHONY: setup lock models run test test-unit test-integration lint format bench synth validate clean local-down

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

run: setup
	@if [ -n "$(PHOTOS)" ]; then $(BIN)/findme faces analyze "$(PHOTOS)"; else $(BIN)/findme local run; fi

test: setup
	$(BIN)/pytest -q

test-unit: setup
	$(BIN)/pytest -q tests/unit

test-integration: setup
	$(BIN)/pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Offline, no AWS credentials, no Docker: images are only staged here (built by `cdk deploy`).
# The CLI is pinned: aws-cdk 3.x (npm `latest`) rejects aws-cdk-lib 2.x cloud assemblies.
CDK_CLI := npx --yes aws-cdk@2.1148.1
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
STAGE ?= dev

synth: setup
	cd infra && $(CDK_ENV) $(CDK_CLI) synth --quiet --no-notices --no-lookups -c stage=$(STAGE)

# Both stages synthesised by the pinned CLI, then cfn-lint (0 errors) on each template and
# asl-validator (pinned) on each state machine as deployed: see infra/validate.py.
ASL_VALIDATOR := npx --yes asl-validator@4.0.0
validate: setup
	for stage in dev prod; do \
	  (cd infra && $(CDK_ENV) $(CDK_CLI) synth --quiet --no-notices --no-lookups \
	    -c stage=$$stage -o cdk.out/stages/$$stage) || exit 1; \
	done
	$(BIN)/python infra/validate.py --asl-validator "$(ASL_VALIDATOR)" \
	  infra/cdk.out/stages/dev infra/cdk.out/stages/prod

local-down: $(STAMP)
	$(BIN)/findme local down

clean:
	rm -rf $(VENV) .local layers/models/*.onnx $(MODELS_STAMP) infra/cdk.out
