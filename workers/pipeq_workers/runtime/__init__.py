"""The worker process at run time: Celery app and tasks, execution, batching, events."""
