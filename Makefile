# Lookout. `make run` starts the demo; `make test` installs what is missing and runs the whole suite.
# System packages come from the distribution (as root); Python packages into .venv from PyPI.

SHELL := /bin/bash
# Debian's Python: its sqlite3 can load SpatiaLite (some self-built Pythons cannot).
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo's simulated camera is GStreamer's RTSP server (tests/support/rtsp_server.py) on the system Python.
APT_CAMERA := python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
APT_RUN := libsqlite3-mod-spatialite python3-venv python3-dev fonts-dejavu-core $(APT_CAMERA)
APT_TEST := $(APT_RUN) postgresql postgresql-postgis mosquitto ffmpeg chromium
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO := var/demo
DEMO_ENV := REGISTRY_DATABASE_URL=sqlite:///$(DEMO)/registry.db REGISTRY_SIGNING_KEY_FILE=$(DEMO)/signing-key.pem \
	REGISTRY_DATA_KEY_FILE=$(DEMO)/data-key REGISTRY_PUBLIC_URL=http://$(HOST):$(PORT)
PYTEST_ARGS ?=

PROTO_SRC := proto/lookout/v1/lookout.proto

.PHONY: proto run panic watch-alerts live consent test lint typecheck unit integration bench-registry bench-alerts bench-streams bench-evidence totp system-run system-test venv clean help

help:
	@echo "make run             start the demo (SQLite + SpatiaLite) on http://$(HOST):$(PORT)"
	@echo "make test            install what is missing, lint, type-check and run the whole suite"
	@echo "make bench-registry  search benchmark on PostGIS (CAMERAS=1000000 QUERIES=2000)"
	@echo "make bench-alerts    press-to-dashboard latency (SLOW=60 presses at 1/s, FAST=2000 at 100/s)"
	@echo "make bench-streams   live video: press to first frame, edge and relay CPU (TRIES=10; SOAK=1: 30 min soak)"
	@echo "make bench-evidence  evidence upload: MB/s and server peak memory at 100 MiB and 1 GiB (SIZES_MIB=100,1024)"
	@echo "make panic           press the demo CORE box's panic button (while make run runs)"
	@echo "make watch-alerts    follow the demo dispatcher's live alert feed"
	@echo "make live            print the demo dispatcher's live-video dashboard link"
	@echo "make consent         as the demo owner, share the Driveway camera for an hour; a dispatcher starts watching"
	@echo "make proto           regenerate proto/ code after changing the .proto"
	@echo "make totp USER=name  current TOTP code of a demo staff account"

# Install distribution packages that are missing (needs root; otherwise says what to install).
define apt_ensure
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing: $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "please install as root: apt-get install $$missing" >&2; exit 1; fi; \
	fi
endef

system-run:
	$(call apt_ensure,$(APT_RUN))

system-test:
	$(call apt_ensure,$(APT_TEST))

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,demo]'
	@touch $(STAMP)

venv: $(STAMP)

run: system-run venv
	@$(BIN)/python -m demo

panic: venv
	@$(BIN)/python -m demo panic

watch-alerts: venv
	@$(BIN)/python -m demo watch

live: venv
	@$(BIN)/python -m demo live

consent: venv
	@$(BIN)/python -m demo consent

totp: venv
	@$(DEMO_ENV) $(BIN)/lookout demo totp $(USER)

lint: venv
	$(BIN)/ruff check services edge_core proto demo tests
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy services edge_core proto demo

test: system-test venv lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: system-test venv
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

CAMERAS ?= 1000000
QUERIES ?= 2000
bench-registry: system-test venv
	$(BIN)/python -m tests.bench.registry_search --cameras $(CAMERAS) --queries $(QUERIES)

SLOW ?= 60
FAST ?= 2000
bench-alerts: system-test venv
	$(BIN)/python -m tests.bench.panic_latency --slow $(SLOW) --fast $(FAST)

TRIES ?= 10
SOAK ?=
bench-streams: system-test venv
	$(BIN)/python -m tests.bench.live_video --tries $(TRIES) $(if $(SOAK),--soak)

SIZES_MIB ?= 100,1024
PATCH_MIB ?= 64
bench-evidence: system-run venv
	$(BIN)/python -m tests.bench.evidence_upload --sizes-mib $(SIZES_MIB) --patch-mib $(PATCH_MIB)

proto: venv
	$(BIN)/python -m grpc_tools.protoc -I proto --python_out=proto --pyi_out=proto $(PROTO_SRC)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
