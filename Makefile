# The two commands a newcomer types: `make quickstart` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: quickstart test lint types contracts unit venv dev clean

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

## quickstart: set up and run the main job (seed 000's training half on an embedded workspace)
quickstart: $(VENV)/.installed
	@dir=$$(mktemp -d) && cd $$dir && my=$(CURDIR)/$(BIN)/modelyard && \
	  $$my init . && \
	  printf '%s\n' '[sources.immo_db]' 'url = "sqlite:///immo.db"' '' '[trainings.immo]' \
	    'source = "immo_db"' 'query = "SELECT surface, prix FROM immo"' 'target = "prix"' \
	    'estimator = "sklearn.linear_model.LinearRegression"' \
	    'promotion = { metric = "r2", min = 0.8, policy = "latest-passing" }' >> modelyard.toml && \
	  $$my demo-data immo --source immo_db --rows 1000 && \
	  $$my train immo && \
	  $$my models show immo@champion && \
	  $$my doctor && \
	  echo "workspace ready in $$dir"

## test: lint, types, import contracts, then the whole suite
test: $(VENV)/.installed-dev lint types contracts unit

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types:
	$(BIN)/mypy

contracts:
	$(BIN)/lint-imports

unit:
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
