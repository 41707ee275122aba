# syntax=docker/dockerfile:1
# One image for every console script of Peribolos as a Service: peribolos-interceptor (Deployment),
# peribolos-step (Tekton steps), peribolos-refresh-tokens (CronJob), peribolos-exporter (Deployment),
# peribolos-generate (render/validate).
# Build: make image   (or: docker build -t peribolos-as-a-service:dev .)

# Pinned base; bump deliberately (and the same tag in both stages so the venv's python matches). Any
# image with python3 >= 3.11 and its venv module works: the test cluster builds on a Debian bookworm base
# made with debootstrap (python3, python3-venv), passed as --build-arg PYTHON_IMAGE=...
ARG PYTHON_IMAGE=python:3.12.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Optional: a CA bundle for pip behind a TLS-inspecting proxy, mounted for the build only
# (podman build -v /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro --build-arg PIP_CERT=/run/build-ca.crt).
ARG PIP_CERT
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/peribolos
WORKDIR /src
# Dependencies first, so a source change does not reinstall them.
COPY setup.py pyproject.toml README.md ./
RUN mkdir peribolos_core generator tekton token_refresher \
    && touch peribolos_core/__init__.py generator/__init__.py tekton/__init__.py token_refresher/__init__.py \
    && /opt/peribolos/bin/pip install . \
    && /opt/peribolos/bin/pip uninstall --yes peribolos-as-a-service
COPY peribolos_core/ peribolos_core/
COPY generator/ generator/
COPY tekton/ tekton/
COPY token_refresher/ token_refresher/
# Byte-compile now: the root filesystem is read-only at run time.
RUN /opt/peribolos/bin/pip install --no-deps . \
    && /opt/peribolos/bin/python -m compileall -q /opt/peribolos/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="peribolos-as-a-service" \
      org.opencontainers.image.description="Tekton-native GitHub App that applies an org's peribolos.yaml"
COPY --from=build /opt/peribolos /opt/peribolos
ENV PATH=/opt/peribolos/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Numeric non-root user (matches podSecurity.runAsUser in the values; runAsNonRoot can check it).
USER 65532:65532
WORKDIR /tmp
# Each Deployment, step and CronJob sets its own command; without one, list what the image holds.
CMD ["sh", "-c", "ls /opt/peribolos/bin | grep '^peribolos-'"]
