# The two commands of the README: `make demo` and `make test`. Each sets up everything it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test test-unit test-integration test-e2e venv jars system-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# Kafka's jars, resolved by Maven from deploy/kafka/pom.xml into ~/.cache/newsflow.
jars: venv
	$(BIN)/newsflow kafka fetch

# kcat checks the topic contract with a non-Python client; installed when we may.
system-deps:
	@command -v kcat >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq kcat >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq kcat)) ; \
	  else echo "kcat is missing: install the Debian package kcat"; fi; }

demo: jars
	$(BIN)/newsflow demo

test: jars system-deps
	$(BIN)/python -m pytest tests/unit tests/integration tests/e2e

test-unit: venv
	$(BIN)/python -m pytest tests/unit

test-integration: jars
	$(BIN)/python -m pytest tests/integration

test-e2e: jars system-deps
	$(BIN)/python -m pytest tests/e2e

clean:
	rm -rf var .pytest_cache
