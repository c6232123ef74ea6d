"""pipeq_client: the typed client of pipeq. Imports no torch and no transformers.

from pipeq_client import Client
with Client() as client:  # PIPEQ_REDIS_URL
    print(client.text_classification("I love it", top_k=2))
"""

from __future__ import annotations

from pipeq_client.aio import AsyncClient, AsyncJob
from pipeq_client.client import Client, Job
from pipeq_client.errors import PipeqError
from pipeq_client.events import DoneEvent, JobEvent, ResetEvent, StreamEvent, TokenEvent
from pipeq_client.protocol import ErrorCode, EventType, Queue, Task
from pipeq_client.settings import ClientSettings
from pipeq_client.status import JobStatus

__all__ = [
    "AsyncClient",
    "AsyncJob",
    "Client",
    "ClientSettings",
    "DoneEvent",
    "ErrorCode",
    "EventType",
    "Job",
    "JobEvent",
    "JobStatus",
    "ResetEvent",
    "StreamEvent",
    "TokenEvent",
    "PipeqError",
    "Queue",
    "Task",
]
__version__ = "0.1.0"
