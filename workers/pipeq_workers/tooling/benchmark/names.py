"""The workload names ``--workloads`` takes. Light on purpose: the CLI checks them before it
imports torch."""

from __future__ import annotations

from pipeq_client.protocol import Task

__all__ = ["ENCODER_WORKLOADS", "TASK_WORKLOADS", "WORKLOADS", "parse_workloads"]

TASK_WORKLOADS = (Task.TEXT_CLASSIFICATION.value, Task.FEATURE_EXTRACTION.value, Task.TEXT_GENERATION.value)
WORKLOADS = (*TASK_WORKLOADS, "generation-mixed", "streaming", "submit-rate")
ENCODER_WORKLOADS = (Task.TEXT_CLASSIFICATION.value, Task.FEATURE_EXTRACTION.value)


def parse_workloads(text: str) -> tuple[str, ...]:
    """``"a,b"`` (or ``"all"``) -> the names, in the suite's order; unknown names raise ValueError."""
    if text.strip() == "all":
        return WORKLOADS
    wanted = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(wanted - set(WORKLOADS))
    if unknown or not wanted:
        raise ValueError(
            f"unknown workload(s) {', '.join(unknown) or '(none given)'}; valid: all, {', '.join(WORKLOADS)}"
        )
    return tuple(name for name in WORKLOADS if name in wanted)
