# Peribolos as a Service — developer entry points.
#   make manifests     render every manifest with the default values into deploy/
#   make test          set up .venv, build the cluster's tools and images (cached), lint, run the whole suite
#   make bench         print the benchmark figures (docs/performance.md records them)
#   make cluster-up    a real single-node cluster with Tekton and this product against a fake GitHub
#   make cluster-down  stop it

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Go test tools (etcd, kube-apiserver, Tekton Triggers) are built once into this cache and reused.
E2E_CACHE ?= $(HOME)/.cache/peribolos-e2e
export E2E_CACHE
PYTEST_ARGS ?=

.PHONY: help venv manifests test unit lint bench cluster-tools e2e-tools cluster-images cluster-up \
	cluster-down docs check-docs image clean

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Rendering needs only the runtime dependencies: without the test venv, `pip install .` (no test extras)
# into $(VENV). The generator then runs from this checkout (python -m), so a template edit needs no
# reinstall. An existing test venv (make venv) already holds all of it and is left as it is.
$(VENV)/.runtime: setup.py pyproject.toml
	@if [ -f $(VENV)/.installed ]; then touch $@; exit 0; fi; \
	set -e; test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	$(BIN)/pip install --quiet --upgrade pip; \
	$(BIN)/pip install --quiet .; \
	touch $@

manifests: $(VENV)/.runtime
	$(BIN)/python -m generator.cli render --output-dir deploy/
	@echo "Rendered manifests into deploy/ (kubectl apply -k deploy/)"

lint: venv
	$(BIN)/ruff check .

# Debian packages of the node (containerd, runc, CNI plugins, iptables, podman, debootstrap...), as root.
cluster-tools:
	bash tests/infra/tools/debian-packages.sh

# The Go tools (Kubernetes, Tekton, CoreDNS, peribolos) from the pinned modules into $(E2E_CACHE).
e2e-tools: cluster-tools
	bash tests/infra/tools/build.sh "$(E2E_CACHE)"

# The cluster's images: the Go tools as images, and this project's image from its Dockerfile (podman).
cluster-images: venv e2e-tools
	$(BIN)/python -m tests.infra.images

cluster-up: cluster-images
	$(BIN)/python -m tests.infra.localcluster up

cluster-down: venv
	$(BIN)/python -m tests.infra.localcluster down

docs: venv
	$(BIN)/peribolos-generate values-docs > docs/values.md

check-docs: venv
	$(BIN)/peribolos-generate values-docs | diff -u docs/values.md - \
		|| { echo "docs/values.md is stale: run 'make docs'"; exit 1; }

unit: venv
	$(BIN)/pytest -m 'not e2e' $(PYTEST_ARGS)

# The suite runs in a network namespace of its own (tests/infra/isolated-net.sh), where the test cluster
# lives: nothing a test starts is reachable from outside. The kustomize tests use the kubectl built from
# the pinned Kubernetes module.
test: venv lint check-docs cluster-images
	KUBECTL=$(E2E_CACHE)/bin/kubectl bash tests/infra/isolated-net.sh $(BIN)/pytest $(PYTEST_ARGS)

bench: venv cluster-images
	@# wrk drives the interceptor bench when it can be installed; else its Python load generator does.
	-@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "wrk not installable here: the interceptor bench uses its Python load generator"
	bash tests/infra/isolated-net.sh $(BIN)/python -m tests.bench

image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		docker build -t peribolos-as-a-service:dev . ; \
	elif command -v podman >/dev/null 2>&1; then \
		podman build -t peribolos-as-a-service:dev . ; \
	else \
		echo "make image: no container engine here (docker daemon or podman); build the Dockerfile elsewhere." >&2; exit 1; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
