"""pipeq_workers: Celery workers that serve Hugging Face pipelines from Redis queues."""

__version__ = "0.1.0"
