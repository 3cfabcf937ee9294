# antt: two commands for people (`make run`, `make test`); the rest are for developers.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv lint unit integration bench clean stack-up stack-down

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || PY=python3; \
	  test -x $(BIN)/python || $${PY:-python3} -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/antt demo

test: $(STAMP)
	$(BIN)/python -m pytest tests -q

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration -q

lint: $(STAMP)
	$(BIN)/ruff check .

stack-up: $(STAMP)
	$(BIN)/antt stack up

stack-down: $(STAMP)
	$(BIN)/antt stack down

clean:
	-$(BIN)/antt stack down
	rm -rf .antt
