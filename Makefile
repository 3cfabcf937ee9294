# antt: two commands for people (`make run`, `make test`); the rest are for developers.
# Everything is installed by these rules on a fresh machine that has only Python 3.11.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
BROWSER := /usr/bin/chromedriver

.PHONY: run test venv browser unit integration lint bench faults screenshot clean stack-up stack-down

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

$(BROWSER):
	bash deploy/local/install-browser.sh

browser: $(BROWSER)

## make run: the whole pipeline locally with simulated events; Ctrl-C stops it.
run: $(STAMP)
	$(BIN)/antt demo

## make test: every test, integration and browser tests included, against real local servers.
test: $(STAMP) $(BROWSER)
	$(BIN)/python -m pytest tests -q -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

integration: $(STAMP) $(BROWSER)
	$(BIN)/python -m pytest tests/integration -q

lint: $(STAMP)
	$(BIN)/ruff check .

## Long load and fault runs (not in CI's `make test`).
faults: $(STAMP)
	ANTT_FAULT_LONG=1 $(BIN)/python -m pytest tests/integration -q -m faults

BENCHES := validate_bench stream_bench sink_bench query_bench gateway_bench screen_bench chserver_insert disk_per_event

## make bench: every benchmark (long; figures printed with their conditions). QUICK=1 for short forms.
bench: $(STAMP)
	for b in $(BENCHES); do echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py $(if $(QUICK),--quick) || exit 1; done

screenshot: $(STAMP) $(BROWSER)
	$(BIN)/python -m streams.screen.screenshot docs/screen.png

stack-up: $(STAMP)
	$(BIN)/antt stack up

stack-down: $(STAMP)
	$(BIN)/antt stack down

clean:
	-$(BIN)/antt stack down
	rm -rf .antt
