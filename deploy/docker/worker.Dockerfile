# One image for every modality, and for Flower: the command picks (`worker --queue text`,
# `flower`). CPU build by default; CUDA build:
#   docker build -f deploy/docker/worker.Dockerfile \
#     --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t pipeq/pipeq-worker:0.1.0-cuda .
# (the CUDA wheels carry their runtime libraries; the node needs the NVIDIA container runtime).
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

# libsndfile for soundfile (audio decoding); tini so SIGTERM reaches Celery (warm shutdown).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsndfile1 tini \
    && rm -rf /var/lib/apt/lists/*

# torch first, from the chosen index: otherwise a dependency pulls the default CUDA build.
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

WORKDIR /app
COPY client/ client/
COPY workers/ workers/
RUN pip install --no-cache-dir ./client ./workers \
    && useradd --create-home --uid 10001 pipeq
USER 10001
ENV HF_HOME=/home/pipeq/.cache/huggingface \
    PIPEQ_HEALTH_FILE=/tmp/pipeq-health.json \
    PIPEQ_HEALTH_PORT=9808 \
    PYTHONUNBUFFERED=1
EXPOSE 9808 5555

# Readiness: models loaded and Redis answering (a Flower container overrides this).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10m --retries=3 CMD ["pipeq", "health", "--probe", "ready"]

ENTRYPOINT ["tini", "--", "pipeq"]
CMD ["worker", "--queue", "text"]
