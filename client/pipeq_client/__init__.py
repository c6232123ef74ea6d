"""pipeq_client: the typed client of pipeq. Imports no torch and no transformers.

from pipeq_client import Client
with Client("redis://localhost:6379/0") as client:
    print(client.text_classification("I love it", top_k=2))
"""

from __future__ import annotations

from pipeq_client.aio import AsyncClient, AsyncJob
from pipeq_client.client import Client, Job
from pipeq_client.errors import PipeqError
from pipeq_client.events import JobEvent
from pipeq_client.protocol import ErrorCode, EventType, Queue, Task
from pipeq_client.settings import ClientSettings

__all__ = [
    "AsyncClient",
    "AsyncJob",
    "Client",
    "ClientSettings",
    "ErrorCode",
    "EventType",
    "Job",
    "JobEvent",
    "PipeqError",
    "Queue",
    "Task",
]
__version__ = "0.1.0"
