# pmsync — `make test` and `make demo` bootstrap .venv from requirements.lock on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEMO_PORT ?= 8765
DEMO_UNITS ?= 300
DEMO_DIR ?= .demo
SOURCE ?=
UNITS ?= 10000,100000
DATABASES ?= sqlite,postgresql

.PHONY: venv test demo bench clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

# 4 workers on 2 cores: much of the suite waits on servers, subprocesses and the network; each worker that runs a test
# marked `flow` starts its own Prefect test harness.
test: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python -m pytest -n 4 --dist worksteal

ifneq ($(SOURCE),buildium)
# The environment it runs with, and the next steps it prints last, come from pmsync/cli/demo_next_steps.py (tested).
demo: $(STAMP)
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== starting the sandbox source ($(DEMO_UNITS) units) on 127.0.0.1:$(DEMO_PORT)"
	@$(BIN)/pmsync sandbox serve --port $(DEMO_PORT) --size $(DEMO_UNITS) > $(DEMO_DIR)/sandbox.log 2>&1 & echo $$! > $(DEMO_DIR)/sandbox.pid
	@for i in $$(seq 1 100); do curl -sf http://127.0.0.1:$(DEMO_PORT)/_sandbox/health >/dev/null && break; sleep 0.2; done
	@echo "== initial sync into $(DEMO_DIR)/platform.db (SQLite)"
	@trap 'kill $$(cat $(DEMO_DIR)/sandbox.pid) 2>/dev/null' EXIT; \
	eval "$$($(BIN)/python -m pmsync.cli.demo_next_steps --dir $(DEMO_DIR) --port $(DEMO_PORT) --exports)" && \
	$(BIN)/pmsync sync initial && $(BIN)/pmsync runs --limit 1 && echo && \
	$(BIN)/python -m pmsync.cli.demo_next_steps --dir $(DEMO_DIR) --port $(DEMO_PORT) --units $(DEMO_UNITS)

else
# `make demo SOURCE=buildium`: the same with the bundled Buildium sandbox (rentals and associations, 10 requests/s).
demo: $(STAMP)
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== starting the Buildium sandbox source ($(DEMO_UNITS) units, rentals and associations) on 127.0.0.1:$(DEMO_PORT)"
	@$(BIN)/pmsync sandbox serve --source buildium --port $(DEMO_PORT) --size $(DEMO_UNITS) > $(DEMO_DIR)/sandbox.log 2>&1 & echo $$! > $(DEMO_DIR)/sandbox.pid
	@for i in $$(seq 1 100); do curl -sf http://127.0.0.1:$(DEMO_PORT)/_sandbox/health >/dev/null && break; sleep 0.2; done
	@echo "== initial sync into $(DEMO_DIR)/platform.db (SQLite)"
	@trap 'kill $$(cat $(DEMO_DIR)/sandbox.pid) 2>/dev/null' EXIT; \
	eval "$$($(BIN)/python -m pmsync.cli.demo_next_steps --source buildium --dir $(DEMO_DIR) --port $(DEMO_PORT) --exports)" && \
	$(BIN)/pmsync sync initial && $(BIN)/pmsync runs --limit 1 && echo && \
	$(BIN)/python -m pmsync.cli.demo_next_steps --source buildium --dir $(DEMO_DIR) --port $(DEMO_PORT) --units $(DEMO_UNITS)
endif

# A report, not a test: writes bench/REPORT.md, bench/scaling.png and bench/results.json (UNITS=1000000 for a million).
bench: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/pmsync bench --units $(UNITS) --databases $(DATABASES) --out bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
