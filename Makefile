# Quorum: two commands on a fresh machine.
#   make run    set up (.venv, install, migrate, demo data) and serve http://127.0.0.1:8000 with a worker
#   make test   the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    ?= .venv
PY      := $(VENV)/bin/python
HOST    ?= 127.0.0.1
PORT    ?= 8000
# pip on these machines reads a local wheel folder (find-links) for torch's CPU build; uv does not
# read pip's configuration, so hand it the same folder.
FIND_LINKS := $(shell pip config get global.find-links 2>/dev/null || true)
UV_FLAGS   := $(if $(FIND_LINKS),--find-links $(FIND_LINKS),)
REQ_HASH     := $(shell cat requirements.txt | sha1sum | cut -c1-12)
DEV_REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

# The aggregation reader's native fast path (labeling/aggregation/native/): compiled here, loaded
# with ctypes; without a C compiler the reader silently uses pyarrow only.
CC         ?= cc
NATIVE_SRC := labeling/aggregation/native/quorum_native.c
NATIVE_SO  := labeling/aggregation/native/_quorum_native.so

.PHONY: help run test install install-dev native migrate demo worker browser-deps lint clean

help:
	@echo "make run   - set up and serve the demo on http://$(HOST):$(PORT) (SQLite, folder broker, local disk)"
	@echo "make test  - run the whole test suite"

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9 || true

$(VENV)/.req-$(REQ_HASH): requirements.txt | $(PY)
	@echo "Installing requirements into $(VENV) ..."
	@if [ -x $(VENV)/bin/uv ]; then $(VENV)/bin/uv pip install --quiet --python $(PY) $(UV_FLAGS) -r requirements.txt; \
	 else $(PY) -m pip install --quiet -r requirements.txt; fi
	@rm -f $(VENV)/.req-*; touch $@

$(VENV)/.dev-$(DEV_REQ_HASH): requirements.txt requirements-dev.txt | $(PY)
	@echo "Installing development requirements into $(VENV) ..."
	@if [ -x $(VENV)/bin/uv ]; then $(VENV)/bin/uv pip install --quiet --python $(PY) $(UV_FLAGS) -r requirements-dev.txt; \
	 else $(PY) -m pip install --quiet -r requirements-dev.txt; fi
	@rm -f $(VENV)/.dev-*; touch $@

install: $(VENV)/.req-$(REQ_HASH) native
install-dev: $(VENV)/.dev-$(DEV_REQ_HASH) native

# Built into a temporary file and renamed, so a running process never loads half a library.
native: $(NATIVE_SO)
$(NATIVE_SO): $(NATIVE_SRC)
	@if command -v $(CC) >/dev/null 2>&1; then \
	   $(CC) -O3 -fPIC -shared -o $@.tmp $< && mv -f $@.tmp $@ || \
	   { rm -f $@.tmp; echo "warning: could not build $@; the aggregation reader uses pyarrow only"; }; \
	 else echo "no C compiler ($(CC)): the aggregation reader uses pyarrow only"; fi

migrate: install
	@$(PY) manage.py migrate --noinput -v 0

demo: migrate
	@$(PY) manage.py demo --url http://$(HOST):$(PORT)

# The demo: web server and a Celery worker (with its beat) side by side; Ctrl-C stops both.
# One Python start for migrate + demo, one for the server (it runs the start-up checks): a second
# `make run` is serving in seconds.
run: install
	@$(PY) manage.py demo --migrate --url http://$(HOST):$(PORT)
	@set -m; \
	 $(VENV)/bin/celery -A config worker --beat --loglevel=WARNING --concurrency=2 & WORKER=$$!; \
	 trap 'kill $$WORKER 2>/dev/null; wait $$WORKER 2>/dev/null' EXIT INT TERM; \
	 echo "Serving http://$(HOST):$(PORT)  (worker pid $$WORKER; Ctrl-C stops both)"; \
	 $(PY) manage.py runserver $(HOST):$(PORT) --noreload

worker: install
	$(VENV)/bin/celery -A config worker --beat --loglevel=INFO

# Browser tests drive Debian's Chromium through Playwright (a browser download does not work here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests ..."; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

test: install-dev browser-deps
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf .pytest_data .pytest_cache test-results $(NATIVE_SO)
