# One image for every modality: the queue is chosen by the command (`pipeq worker --queue text`).
# CPU build by default; `--build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128` for CUDA.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

RUN apt-get update \
    && apt-get install -y --no-install-recommends libsndfile1 tini \
    && rm -rf /var/lib/apt/lists/*

# torch first, from the chosen index: otherwise a dependency pulls the default CUDA build.
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

WORKDIR /app
COPY client/ client/
COPY workers/ workers/
RUN pip install --no-cache-dir ./client ./workers

RUN useradd --create-home --uid 10001 pipeq
USER pipeq
ENV HF_HOME=/home/pipeq/.cache/huggingface

# tini as PID 1 forwards SIGTERM to Celery, whose warm shutdown requeues unfinished work.
ENTRYPOINT ["tini", "--", "pipeq"]
CMD ["worker", "--queue", "text"]
