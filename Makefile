# Two commands for a newcomer:  `make up` (run it) and `make test` (test it).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up down test unit functional e2e guest probe lint bench clean host-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## up: build what is missing, start the local control plane, helm install Nimbus, show a bucket
## in use and a VirtualServer booted from an image in a bucket
up: $(STAMP) host-tools
	$(BIN)/python -m e2e.demo up

## down: stop everything `make up` started
down: $(STAMP)
	$(BIN)/python -m e2e.demo down

## host-tools: the Debian packages that build and boot real guests (apt-get as root; a no-op
## when all are installed): mmdebstrap e2fsprogs dosfstools mtools syslinux syslinux-common
## fdisk qemu-utils qemu-system-x86 genisoimage openssh-client. `$(PYTHON) -m e2e.guest.host_tools` only says what is missing.
host-tools:
	$(PYTHON) -m e2e.guest.host_tools --install

## test: lint, type-check, import layers, then every test tier (unit, functional, e2e, guest)
test: lint host-tools
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

functional: $(STAMP)
	$(BIN)/pytest tests/functional

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

guest: $(STAMP) host-tools
	$(BIN)/pytest tests/guest

probe: $(STAMP)
	$(BIN)/pytest tests/probe -s

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench.bench_s3
	$(BIN)/python -m bench.bench_index
	$(BIN)/python -m bench.bench_list_http
	$(BIN)/python -m bench.bench_compare
	$(BIN)/python -m bench.bench_operator
	$(BIN)/python -m bench.bench_compute

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
