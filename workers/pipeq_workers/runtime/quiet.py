"""A quiet, readable console at pipeq's entry points (worker, demo, ``pipeq models tiny``).

Only noise we know to be harmless is silenced, each by its exact message: progress bars of
loading already-local weights, transformers' notice that it uses the PIL image processors
(pipeq's images ship without torchvision on purpose), the MarianTokenizer's sacremoses
suggestion (pipeq's tokenizers do not use it), and Celery's root warning (pipeq accepts JSON
only, so the pickle risk it warns about does not exist). Everything else still prints.
Called by entry points, never at import time.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["OneLineFilter", "quiet_celery", "quiet_libraries"]

# transformers.utils.import_utils: "`ViTImageProcessor` requires torchvision (not installed); ..."
_TORCHVISION_FALLBACK = "requires torchvision (not installed); falling back to"


class _DropMessages(logging.Filter):
    """Drops records whose message contains one of ``fragments``."""

    def __init__(self, *fragments: str) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


class OneLineFilter(logging.Filter):
    """Joins a multi-line message onto one line (Celery's "Cannot connect ... / Trying again")."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "\n" in message:
            record.msg, record.args = " ".join(line.strip() for line in message.splitlines() if line.strip()), None
        return True


def quiet_libraries() -> None:
    """No weight-loading bars, no torchvision-fallback notices, no sacremoses suggestion."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    logging.getLogger("transformers.utils.import_utils").addFilter(_DropMessages(_TORCHVISION_FALLBACK))
    warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses", category=UserWarning)


def quiet_celery() -> None:
    """The worker's own: no root SecurityWarning (JSON only: nothing to escalate through pickle),
    and broker connection retries on one line each."""
    from celery.exceptions import SecurityWarning

    root_warning = "You're running the worker with superuser privileges"
    warnings.filterwarnings("ignore", message=root_warning, category=SecurityWarning)
    logging.getLogger("celery.worker.consumer.consumer").addFilter(OneLineFilter())
