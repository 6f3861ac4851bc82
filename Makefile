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

.PHONY: setup system-deps lock models run test test-unit test-integration test-browser lint format bench fuzz synth validate clean local-down web web-api chromium screenshots peer-venv

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

# The web app (web/): npm ci from the lock, type-check, build, then the first-load JS budget.
WEB_STAMP := web/node_modules/.installed
$(WEB_STAMP): web/package.json web/package-lock.json | system-deps
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

web: $(WEB_STAMP)
	cd web && npm run --silent build && npm run --silent size

# Regenerate the typed API client from the API (commit both files; a test fails when stale).
web-api: $(STAMP) $(WEB_STAMP)
	$(BIN)/findme openapi > web/openapi.json
	cd web && npm run --silent api

# Browser tests drive Debian's chromium (Playwright never downloads a browser); as root,
# install it when missing, as .ci/run does for Java.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ] && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq chromium; fi

# Java 17 (with javac) and Node/npm for the local stack and the web app: from Debian when
# missing and root, else one line saying what to install (.ci/system-deps).
system-deps:
	@.ci/system-deps

run: $(if $(PHOTOS),,system-deps web) setup
	@if [ -n "$(PHOTOS)" ]; then $(BIN)/findme faces analyze "$(PHOTOS)"; else $(BIN)/findme local run; fi

test: system-deps setup web chromium
	$(BIN)/pytest -q

test-browser: setup web chromium
	$(BIN)/pytest -q -m browser

# README screenshots (docs/screenshots/*.png, committed) from public-domain/CC0 images that
# registry wheels ship, on a fresh local run; CI never runs it. Sources: docs/screenshots/README.md
screenshots: system-deps setup web chromium
	$(BIN)/python docs/screenshots/generate.py

test-unit: setup
	$(BIN)/pytest -q tests/unit

test-integration: system-deps setup
	$(BIN)/pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

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

# The peer `benchmarks/face_engine.py --peer .venv-peer/bin/python` compares against:
# face_recognition 1.3.0 on dlib 20 (dlib-bin is its prebuilt wheel; face_recognition's own
# `dlib` requirement would compile it, hence --no-deps). Its own venv: never in FindMe's locks.
PEER_VENV := .venv-peer
peer-venv:
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install -q dlib-bin==20.0.1.post1 face-recognition-models==0.3.0 \
		numpy==2.4.6 pillow==13.0.0 click==8.5.1
	$(PEER_VENV)/bin/pip install -q --no-deps face-recognition==1.3.0

# Offline, no AWS credentials, no Docker: images are only staged here (built by `cdk deploy`).
# The CLI is pinned: aws-cdk 3.x (npm `latest`) rejects aws-cdk-lib 2.x cloud assemblies.
CDK_CLI := npx --yes aws-cdk@2.1148.1
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
STAGE ?= dev

synth: setup web
	cd infra && $(CDK_ENV) $(CDK_CLI) synth --quiet --no-notices --no-lookups -c stage=$(STAGE)

# Both stages synthesised by the pinned CLI, then cfn-lint (0 errors) on each template and
# asl-validator (pinned) on each state machine as deployed: see infra/validate.py.
ASL_VALIDATOR := npx --yes asl-validator@4.0.0
validate: setup web
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
