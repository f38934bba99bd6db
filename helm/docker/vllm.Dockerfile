# syntax=docker/dockerfile:1
# The small-model server: the official vLLM OpenAI server with the BPO and Aligner
# LoRA adapters baked in, served as two LoRA modules on one base model so requests
# for both are batched together on one GPU (see gateway/model_server/VLLM.md).
#
# Build from a directory holding the trained adapters (PEFT format:
# adapter_config.json + adapter_model.safetensors), e.g.:
#   docker build -f helm/docker/vllm.Dockerfile \
#     --build-arg BPO_ADAPTER=out/bpo-lora --build-arg ALIGNER_ADAPTER=out/aligner-lora \
#     -t aligngate/vllm:0.1.0 .
# Both adapters must be trained on BASE_MODEL. The base weights are downloaded at
# start-up into HF_HOME (a volume in the chart), not baked in: they are many GB
# and usually gated behind a Hugging Face token.

ARG VLLM_IMAGE=vllm/vllm-openai:v0.11.0

FROM ${VLLM_IMAGE}
ARG BPO_ADAPTER=adapters/bpo
ARG ALIGNER_ADAPTER=adapters/aligner
ARG BASE_MODEL=meta-llama/Llama-2-7b-chat-hf
# The official image runs as root; a fixed numeric uid lets the pod's
# runAsNonRoot check pass, and HF_HOME moves the model cache to a volume it owns.
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin vllm \
    && mkdir -p /models-cache \
    && chown 10001:10001 /models-cache
COPY --chown=10001:10001 ${BPO_ADAPTER} /adapters/bpo
COPY --chown=10001:10001 ${ALIGNER_ADAPTER} /adapters/aligner
ENV BASE_MODEL=${BASE_MODEL} \
    HF_HOME=/models-cache
USER 10001:10001
EXPOSE 8000
# Loading a 7B model takes minutes, so the start period is long.
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# The image's own entrypoint is `vllm serve`'s module; a shell form is needed
# only to expand $BASE_MODEL, and exec keeps vLLM as PID 1 for clean shutdown.
ENTRYPOINT ["/bin/sh", "-c", "exec vllm serve \"$BASE_MODEL\" --served-model-name base --enable-lora --lora-modules bpo=/adapters/bpo aligner=/adapters/aligner --max-loras 2 --max-lora-rank 64 --host 0.0.0.0 --port 8000 \"$@\"", "--"]
CMD []
