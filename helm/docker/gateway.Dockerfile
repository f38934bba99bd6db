# syntax=docker/dockerfile:1
# The slim gateway image: core + litellm + redis + OpenTelemetry, no torch. For
# deployments where the BPO and Aligner models are served remotely (vLLM, or
# `aligngate models serve`). No risk gate: it reads the embedded SmolLM2's hidden
# states in-process, so a gated stage needs the gateway-embedded image.
#
# Build from the repository root (the context must hold pyproject.toml):
#   docker build -f helm/docker/gateway.Dockerfile -t aligngate/gateway:0.1.0 .

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# A virtualenv is copied whole into the runtime stage, so build tools and pip's
# cache never reach the final image.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY bpo ./bpo
COPY aligner ./aligner
COPY training ./training
COPY benchmarks ./benchmarks
# Versions are pinned by pyproject.toml's ranges; the extras are the ones a
# remote-engine gateway imports (litellm backends, Redis tenant store, OTLP traces).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[litellm,redis,otel]"

FROM ${PYTHON_IMAGE}
# A fixed numeric uid lets Kubernetes' runAsNonRoot verify it without /etc/passwd.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin aligngate
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8000
# No curl in the slim image; the interpreter is already there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["aligngate"]
CMD ["serve", "--config", "/etc/aligngate/config.yaml", "--host", "0.0.0.0", "--port", "8000"]
