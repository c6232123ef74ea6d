# The HTTP gateway: light (pipeq-client + Starlette/uvicorn, no torch), stateless; scale it with
# replicas. Binds 0.0.0.0 in the container, so it refuses to start without API keys
# (PIPEQ_GATEWAY_API_KEYS or PIPEQ_GATEWAY_API_KEYS_FILE).
FROM python:3.11-slim

# tini so SIGTERM reaches uvicorn (graceful shutdown lets open streams finish).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY client/ client/
COPY gateway/ gateway/
RUN pip install --no-cache-dir ./client ./gateway \
    && useradd --create-home --uid 10001 pipeq
USER 10001
ENV PIPEQ_GATEWAY_HOST=0.0.0.0 \
    PIPEQ_GATEWAY_PORT=8000 \
    PYTHONUNBUFFERED=1
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"]

ENTRYPOINT ["tini", "--", "pipeq-gateway"]
