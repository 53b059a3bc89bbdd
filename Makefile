# pmsync — `make test` and `make demo` bootstrap .venv from requirements.lock on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
DEMO_PORT ?= 8765
DEMO_UNITS ?= 300
DEMO_DIR ?= .demo
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

demo: $(STAMP)
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== starting the sandbox source ($(DEMO_UNITS) units) on 127.0.0.1:$(DEMO_PORT)"
	@$(BIN)/pmsync sandbox serve --port $(DEMO_PORT) --size $(DEMO_UNITS) > $(DEMO_DIR)/sandbox.log 2>&1 & echo $$! > $(DEMO_DIR)/sandbox.pid
	@for i in $$(seq 1 100); do curl -sf http://127.0.0.1:$(DEMO_PORT)/_sandbox/health >/dev/null && break; sleep 0.2; done
	@echo "== initial sync into $(DEMO_DIR)/platform.db (SQLite)"
	@trap 'kill $$(cat $(DEMO_DIR)/sandbox.pid) 2>/dev/null' EXIT; \
	export PMSYNC_DATABASE_URL=sqlite:///$(DEMO_DIR)/platform.db \
	       PMSYNC_PW_BASE_URL=http://127.0.0.1:$(DEMO_PORT)/pw/api/rest/v1 \
	       PMSYNC_PW_CLIENT_ID=sandbox-client PMSYNC_PW_CLIENT_SECRET=sandbox-secret-do-not-log \
	       PMSYNC_PW_SYSTEM_ID=1001 PMSYNC_INTEGRATION_USER=pmsync@sandbox.example \
	       PREFECT_HOME=$(CURDIR)/$(DEMO_DIR)/prefect PREFECT_SERVER_ANALYTICS_ENABLED=false \
	       PREFECT_SERVER_LOGGING_LEVEL=CRITICAL PREFECT_LOGGING_LEVEL=WARNING; \
	$(BIN)/pmsync sync initial && $(BIN)/pmsync runs --limit 1

# A report, not a test: writes bench/REPORT.md, bench/scaling.png and bench/results.json (UNITS=1000000 for a million).
bench: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/pmsync bench --units $(UNITS) --databases $(DATABASES) --out bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
