# The two commands of the README: `make demo` and `make test`. Each sets up everything it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test test-unit test-integration test-e2e bench bench-quick chaos fuzz venv jars system-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# Kafka's jars, resolved by Maven from deploy/kafka/pom.xml into ~/.cache/newsflow.
jars: venv
	$(BIN)/newsflow kafka fetch

# System tools the tests drive for real: kcat (a non-Python Kafka client), promtool and
# Prometheus (package prometheus), Alertmanager (package prometheus-alertmanager).
# Installed with apt when we run as root; otherwise we say what is missing.
SYSTEM_TOOLS := kcat:kcat promtool:prometheus prometheus-alertmanager:prometheus-alertmanager
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null)); \
	  else echo "missing Debian packages:$$missing (install them to run every test)"; fi; fi

demo: jars
	$(BIN)/newsflow demo

test: jars system-deps
	$(BIN)/python -m pytest tests/unit tests/integration tests/e2e

test-unit: venv
	$(BIN)/python -m pytest tests/unit

# The hostile-input properties on 10,000 inputs each instead of 100 (~15 minutes), with
# hypothesis's statistics; no per-test timeout, which would cut the long runs short.
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/unit/test_hostile_input.py -k "not linear" \
	  --timeout=0 --hypothesis-show-statistics

test-integration: jars
	$(BIN)/python -m pytest tests/integration

test-e2e: jars system-deps
	$(BIN)/python -m pytest tests/e2e

# The benchmark suite (see README "Performance"): the full run (25-40 minutes on 2 cores, as busy as the machine is)
# rewrites docs/benchmarks.md; the quick one (2-3 minutes, no profile) only prints and writes var/bench/.
bench: jars
	$(BIN)/newsflow bench --docs

bench-quick: jars
	$(BIN)/newsflow bench --quick --no-docs

# The long chaos runs: 100k messages with kills and broker restarts, then the same with
# Faust's exactly-once (recorded, not trusted: see the README); reports under var/chaos/.
chaos: jars
	@mkdir -p var/chaos
	$(BIN)/newsflow bench chaos --count 100000 --kills 5 --broker-restarts 2 --write var/chaos/at_least_once.json
	$(BIN)/newsflow bench chaos --count 20000 --guarantee exactly_once --write var/chaos/exactly_once.json || true

clean:
	rm -rf var .pytest_cache
