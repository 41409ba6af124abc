# The two commands a newcomer types: `make quickstart` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2 --dist loadgroup
# The Studio's browser tests and the endpoint sample-code tests run real tools: Debian's
# Chromium, mono (C#) and R with httr from apt, axe-core (pinned) from npm; the object
# storage and load-balancer tests start Azurite (npm) and HAProxy (apt).
AXE_VERSION := 4.10.3
AXE := tests/.npm/node_modules/axe-core/axe.min.js
AZURITE := tests/.npm/azurite/node_modules/.bin/azurite-blob
DEB_TOOLS := chromium mono-mcs libmono-system-net-http4.0-cil libnewtonsoft-json5.0-cil \
	r-base-core r-cran-httr haproxy
APT := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: quickstart test test-deps test-envs test-scale test-batch test-reliability wheel-test lint types contracts unit venv dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

## quickstart: set up, then run seed 000 end to end (train, serve, predict 25 m2; Ctrl+C stops)
quickstart: $(VENV)/.installed
	$(BIN)/modelyard quickstart

## test: lint, types, import contracts, then the whole suite
test: $(VENV)/.installed-dev test-deps lint types contracts unit

## test-deps: Chromium, mono, R and HAProxy (apt), axe-core and Azurite (npm) for the tests
test-deps: $(AXE) $(AZURITE)
	@missing=$$(for p in $(DEB_TOOLS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		$(APT) $$missing >/dev/null || (apt-get update -qq && $(APT) $$missing >/dev/null); \
	fi

$(AXE):
	npm install --silent --no-save --no-audit --no-fund --prefix tests/.npm axe-core@$(AXE_VERSION)

$(AZURITE):
	npm install --silent --no-save --no-audit --no-fund --prefix tests/.npm/azurite azurite@3

## test-batch: the batch kill test on 1,000,000 rows (make test runs it on 50,000)
test-batch: $(VENV)/.installed-dev
	BATCH_KILL_ROWS=1000000 $(BIN)/pytest tests/batch/test_batch_kill.py -n 0

## test-scale: HAProxy + 3 replicas under 300 req/s for 60 s (make test runs 20 s of it)
test-scale: $(VENV)/.installed-dev test-deps
	SCALE_LOAD_S=60 $(BIN)/pytest tests/e2e/test_load_balancer.py -n 0 -s

## test-reliability: the reliability battery at full scale; prints its figures and writes
## docs/reliability.md (make test runs the same tests at a shorter scale)
test-reliability: $(VENV)/.installed-dev test-deps
	MODELYARD_RELIABILITY=full MODELYARD_RELIABILITY_REPORT=docs/reliability.md SCALE_LOAD_S=60 \
		$(BIN)/pytest tests/reliability tests/e2e/test_load_balancer.py -n 0

lint:
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs

types:
	$(BIN)/mypy

contracts:
	$(BIN)/lint-imports

unit:
	$(BIN)/pytest $(PYTEST_ARGS) -m "not heavy_env"

## wheel-test: build the wheel, install it (not editable) in a fresh venv, serve an entry
## script from it (about a minute; make test runs it too, as CI does)
wheel-test: $(VENV)/.installed-dev
	$(BIN)/pytest -n 0 tests/e2e/test_wheel_install.py

## test-envs: the environment builds too heavy for make test (xgboost's wheels, built twice)
test-envs: $(VENV)/.installed-dev
	$(BIN)/pytest -n 0 -m heavy_env

## grpc-stubs: regenerate the Open Inference Protocol's gRPC stubs from the checked-in .proto
GRPC_PROTO := src/modelyard/serving/protocols/oip/open_inference_grpc.proto
# The messages go to a descriptor pool of their own, not protobuf's default one, where
# tritonclient.grpc registers the same names (inference.*): both load in one process.
.PHONY: grpc-stubs
grpc-stubs: $(VENV)/.installed-dev
	$(BIN)/python -m grpc_tools.protoc -I src --python_out=src --pyi_out=src \
		--grpc_python_out=src $(GRPC_PROTO)
	sed -i 's/_descriptor_pool\.Default()\.AddSerializedFile/_descriptor_pool.DescriptorPool().AddSerializedFile/' \
		$(GRPC_PROTO:.proto=_pb2.py)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/.npm
