"""The synchronous client: ``Client.submit(request) -> Job``; ``Job.result()`` / ``Job.events()``."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Generic, Self

import redis

from pipeq_client import requests as build
from pipeq_client.broker import make_producer
from pipeq_client.errors import BlobMissingError
from pipeq_client.events import DoneEvent, JobEvent, StreamEvent, decode_reply, result_from_event, stream_event
from pipeq_client.jobs import Deadline, JobHandle, ResultT
from pipeq_client.payload import build_payload
from pipeq_client.protocol import TASK_QUEUES, cancel_key, celery_task_name
from pipeq_client.settings import ClientSettings
from pipeq_client.types import (
    AudioClassificationResult,
    AutomaticSpeechRecognitionResult,
    Blob,
    FeatureExtractionResult,
    ImageClassificationResult,
    ImageTextToTextResult,
    ImageToTextResult,
    ObjectDetectionResult,
    SummarizationResult,
    TaskRequest,
    TextClassificationResult,
    TextGenerationResult,
    TextToSpeechResult,
    TranslationResult,
    ZeroShotClassificationResult,
)

__all__ = ["Client", "Job"]


class Job(Generic[ResultT]):
    """A submitted request. ``result()`` waits for the typed result or raises the typed error."""

    def __init__(self, client: Client, handle: JobHandle[ResultT]) -> None:
        self._client = client
        self.handle = handle

    @property
    def id(self) -> str:
        return self.handle.id

    def events(self, *, after: str = "0-0", timeout: float | None = None) -> Iterator[JobEvent]:
        """Every event after the stream id ``after`` (all by default), ending with the final one."""
        deadline = Deadline(self.id, timeout or self._client.settings.default_timeout_s)
        last_id = after
        while True:
            reply = self._client.redis.xread({self.handle.events_key: last_id}, block=deadline.block_ms())
            for event in decode_reply(reply):
                last_id = event.id
                yield event
                if event.final:
                    return

    def stream(self, *, after: str = "0-0", timeout: float | None = None) -> Iterator[StreamEvent]:
        """Typed events as they arrive: TokenEvent..., then DoneEvent (or the typed error raised).

        Resume after a disconnect with ``after=<last event_id>``; nothing is missed.
        """
        for event in self.events(after=after, timeout=timeout):
            typed = stream_event(event, self.handle.result_type)
            if isinstance(typed, DoneEvent):
                typed = typed.model_copy(update={"result": self._client.resolve(typed.result)})
            if typed is not None:
                yield typed

    def cancel(self) -> None:
        """Cancels the job: a queued job never runs (JobCancelledError); a running generation stops
        between steps and returns what it has, with finish_reason ``cancelled``."""
        self._client.redis.set(cancel_key(self.id), 1, ex=self._client.settings.result_ttl_s)

    def result(self, timeout: float | None = None) -> ResultT:
        """The typed result; raises a :class:`~pipeq_client.errors.PipeqError` subclass on failure."""
        for event in self.events(timeout=timeout):
            if event.final:
                return self._client.resolve(result_from_event(event, self.handle.result_type))
        raise AssertionError("unreachable: events() ends with a final event or raises")


class Client:
    """Enqueues typed requests into Redis and reads typed results back.

    ``Client()`` reads ``PIPEQ_*`` environment variables; arguments override them.
    """

    def __init__(self, redis_url: str | None = None, *, settings: ClientSettings | None = None) -> None:
        base = settings or ClientSettings()
        self.settings = base if redis_url is None else base.model_copy(update={"redis_url": redis_url})
        self.redis: redis.Redis = redis.Redis.from_url(self.settings.redis_url)
        self._producer = make_producer(self.settings)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._producer.close()
        self.redis.close()

    def submit(self, request: TaskRequest[ResultT], job_id: str | None = None) -> Job[ResultT]:
        """Validates sizes, claim-checks large inputs, and enqueues by task name. Returns at once.

        ``job_id``: your own id (e.g. an idempotency key); default a random UUID."""
        payload = build_payload(request, self.settings)
        for key, data in payload.uploads.items():
            self.redis.set(key, data, ex=self.settings.blob_ttl_s)
        task = type(request).task
        sent = self._producer.send_task(celery_task_name(task), args=[payload.body], queue=TASK_QUEUES[task].value)
        return Job(self, JobHandle(sent.id, task, type(request).result_type))  # type: ignore[arg-type]

    def run(self, request: TaskRequest[ResultT], timeout: float | None = None) -> ResultT:
        """``submit(request).result(timeout)``."""
        return self.submit(request).result(timeout)

    def job(self, job_id: str, request_type: type[TaskRequest[ResultT]]) -> Job[ResultT]:
        """Re-attaches to a job submitted earlier (by this or another process)."""
        return Job(self, JobHandle(job_id, request_type.task, request_type.result_type))  # type: ignore[arg-type]

    def resolve(self, result: ResultT) -> ResultT:
        """Fetches claim-checked binary outputs (TTS audio) so the result carries the bytes."""
        if isinstance(result, TextToSpeechResult) and result.audio.ref is not None:
            data = self.redis.get(result.audio.ref)
            if data is None:
                raise BlobMissingError(f"audio output {result.audio.ref} expired", field="audio")
            return result.model_copy(update={"audio": Blob(data=data)})
        return result

    # One method per task, like huggingface_hub's InferenceClient. ``parameters`` are the task's
    # Parameters fields; unknown names and bad values raise RequestValidationError.

    def text_generation(
        self, prompt: str, *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> TextGenerationResult:
        return self.run(build.text_generation(prompt, model, parameters), timeout)

    def text_classification(
        self, text: str, *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> TextClassificationResult:
        return self.run(build.text_classification(text, model, parameters), timeout)

    def summarization(
        self, text: str, *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> SummarizationResult:
        return self.run(build.summarization(text, model, parameters), timeout)

    def translation(
        self, text: str, *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> TranslationResult:
        return self.run(build.translation(text, model, parameters), timeout)

    def zero_shot_classification(
        self,
        text: str,
        candidate_labels: list[str],
        *,
        model: str | None = None,
        timeout: float | None = None,
        **parameters: Any,
    ) -> ZeroShotClassificationResult:
        return self.run(build.zero_shot_classification(text, candidate_labels, model, parameters), timeout)

    def feature_extraction(
        self, text: str | list[str], *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> FeatureExtractionResult:
        return self.run(build.feature_extraction(text, model, parameters), timeout)

    def image_to_text(
        self, image: bytes, *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> ImageToTextResult:
        return self.run(build.image_to_text(image, model, parameters), timeout)

    def image_classification(
        self, image: bytes, *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> ImageClassificationResult:
        return self.run(build.image_classification(image, model, parameters), timeout)

    def object_detection(
        self, image: bytes, *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> ObjectDetectionResult:
        return self.run(build.object_detection(image, model, parameters), timeout)

    def image_text_to_text(
        self,
        images: bytes | list[bytes],
        text: str,
        *,
        model: str | None = None,
        timeout: float | None = None,
        **parameters: Any,
    ) -> ImageTextToTextResult:
        return self.run(build.image_text_to_text(images, text, model, parameters), timeout)

    def automatic_speech_recognition(
        self,
        audio: bytes,
        *,
        sampling_rate: int | None = None,
        model: str | None = None,
        timeout: float | None = None,
        **parameters: Any,
    ) -> AutomaticSpeechRecognitionResult:
        return self.run(build.automatic_speech_recognition(audio, sampling_rate, model, parameters), timeout)

    def audio_classification(
        self,
        audio: bytes,
        *,
        sampling_rate: int | None = None,
        model: str | None = None,
        timeout: float | None = None,
        **parameters: Any,
    ) -> AudioClassificationResult:
        return self.run(build.audio_classification(audio, sampling_rate, model, parameters), timeout)

    def text_to_speech(
        self, text: str, *, model: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> TextToSpeechResult:
        return self.run(build.text_to_speech(text, model, parameters), timeout)
