# syntax=docker/dockerfile:1
# The Nimbus image: one image for the operator (`nimbus-operator`), the S3 gateway
# (`nimbus-storage serve`) and the storage node (`nimbus-storage node`). Pods choose the program
# with `command` (the Helm chart, the operator's renderers), so there is no ENTRYPOINT and CMD
# only prints the help. The e2e node agent stands in for this image (e2e/nodeagent/images.py);
# tests/unit/test_dockerfile.py keeps the two in step.
#
#   docker build -t ghcr.io/nimbus-cloud/nimbus:0.1.0 .

# Both stages must run the same interpreter: the venv's python is a symlink to the base's.
# The digest is the multi-platform index published for this tag (as pinned in public
# Dockerfiles); it could not be checked here (no container engine, no registry access).
# At each release: `docker buildx imagetools inspect python:3.11.14-slim-bookworm`, then pin
# the tag and digest it shows.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY storage-node/ storage-node/
# A wheel, not the source tree: the venv gets what `pip install nimbus` would install. Every
# dependency ships manylinux wheels (pyeclib bundles liberasurecode), so no compiler is needed.
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/nimbus \
 && pip --python /opt/nimbus/bin/python install /wheels/nimbus-*.whl

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="nimbus" \
      org.opencontainers.image.description="Nimbus: S3 object storage in Swift's design and its Kubernetes operator (nimbus-operator, nimbus-storage)" \
      org.opencontainers.image.source="https://github.com/nimbus-cloud/nimbus" \
      org.opencontainers.image.url="https://github.com/nimbus-cloud/nimbus" \
      org.opencontainers.image.documentation="https://github.com/nimbus-cloud/nimbus/blob/main/docs/operator.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"
# uid and gid 65532, as distroless's "nonroot". /var/lib/nimbus is where a standalone
# `nimbus-storage serve --data /var/lib/nimbus` keeps its data (mount a volume there).
RUN groupadd --system --gid 65532 nimbus \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nimbus \
 && install --directory --owner=65532 --group=65532 /var/lib/nimbus
COPY --from=builder /opt/nimbus /opt/nimbus
ENV PATH=/opt/nimbus/bin:$PATH \
    VIRTUAL_ENV=/opt/nimbus \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
WORKDIR /
CMD ["nimbus-storage", "--help"]
