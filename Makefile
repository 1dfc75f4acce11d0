# authgate developer targets. Idempotent: stamp files make repeated runs quick.
#   make test          venv + test bed + system check, then the whole test suite
#   make test PYTEST_ARGS="-k oidc -x"
#   make demo PORT=8081   the demo on another port (installs the gateway only)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.authgate-installed
# The demo's install: the gateway's own dependencies, none of the test tooling.
DEMO_STAMP ?= $(VENV)/.authgate-demo-installed
PORT ?= 8080
OIDC_DIR := testbed/oidc
OIDC_STAMP := $(OIDC_DIR)/node_modules/.authgate-installed
PYTEST_ARGS ?=
BENCH_ARGS ?=
SOAK_ARGS ?=

.PHONY: all venv demo-venv testbed check-system test demo lint bench soak clean-testbed help

all: test

help:
	@echo "make venv          create .venv and install authgate with its test extras"
	@echo "make testbed       install the OpenID Provider of the test bed (npm ci)"
	@echo "make check-system  check redis-server, chromium and node; print how to install them"
	@echo "make test          all of the above, then .venv/bin/pytest \$$PYTEST_ARGS"
	@echo "make demo          the demo: gateway, two apps and a sign-in service (PORT=8080)"
	@echo "make lint          mypy (strict, settings in pyproject.toml)"
	@echo "make bench         wrk: authgate (both data planes) vs upstream, nginx, Caddy, the probe,"
	@echo "                   bare aiohttp (~7.5 min); writes docs/performance.md"
	@echo "                   (BENCH_ARGS=\"--repeat 1 --duration 2 --only caddy,probe,'authgate-public*'\")"
	@echo "make soak          10 min of mixed load on the native data plane, then a SIGTERM drain"
	@echo "                   under load (~11 min); writes docs/performance.md \"Soak\""
	@echo "                   (SOAK_ARGS=\"--minutes 1 --no-write\"; SOAK_ARGS=--bytes: 200 MB each way)"

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

# `pip install -e .` without extras; only "Collecting ..." lines, one per package, as
# progress (pipefail: a failed install still fails the target).
demo-venv: $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml
	@echo "demo: installing authgate and its dependencies into $(VENV) (no test tools)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(PY) -m pip install --disable-pip-version-check --progress-bar off -e . \
		| while IFS= read -r line; do case "$$line" in Collecting*) echo "demo:   $$line";; esac; done
	@touch $@

testbed: $(OIDC_STAMP)

$(OIDC_STAMP): $(OIDC_DIR)/package.json $(OIDC_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js >= 20.18 (https://nodejs.org)" >&2; exit 1; }
	@echo "installing the OpenID Provider (npm oidc-provider) into $(OIDC_DIR)/node_modules"
	npm ci --prefix $(OIDC_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

check-system:
	@scripts/check-system.sh

test: venv testbed check-system
	$(VENV)/bin/pytest $(PYTEST_ARGS)

demo: demo-venv testbed
	@$(PY) -m authgate.demo --port $(PORT)

lint: venv
	$(VENV)/bin/mypy

# Needs wrk (apt-get install -y wrk), nginx and redis-server; Caddy comes with the venv.
bench: venv testbed
	@command -v wrk >/dev/null || { echo "wrk not found: sudo apt-get install -y wrk" >&2; exit 1; }
	AUTHGATE_BENCH_VIA_MAKE=1 $(PY) bench/http_bench.py $(BENCH_ARGS)

# Only the venv: the gateway, the bench's aiohttp upstream and psutil (no wrk, nginx or node).
soak: venv
	AUTHGATE_BENCH_VIA_MAKE=1 $(PY) bench/soak.py $(SOAK_ARGS)

clean-testbed:
	rm -rf $(OIDC_DIR)/node_modules test-artifacts
