"""CPU seconds (user + system) of groups of processes, read through psutil (/proc on Linux)."""

from __future__ import annotations

import psutil

__all__ = ["ProcessGroup"]


def _own_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class ProcessGroup:
    """Processes whose CPU seconds count together: ``tree`` adds every live descendant and the
    children each root has already reaped (a worker's pool processes, if it forks any)."""

    def __init__(self, pids: list[int], *, tree: bool = True) -> None:
        self.roots = [psutil.Process(pid) for pid in pids]
        self.tree = tree

    def seconds(self) -> float:
        return sum(self._root_seconds(root) for root in self.roots)

    def _root_seconds(self, root: psutil.Process) -> float:
        try:
            total = _own_seconds(root)
            if not self.tree:
                return total
            times = root.cpu_times()
            total += float(times.children_user + times.children_system)
            for child in root.children(recursive=True):
                total += self._child_seconds(child)
            return total
        except psutil.NoSuchProcess:
            return 0.0

    @staticmethod
    def _child_seconds(child: psutil.Process) -> float:
        try:
            return float(_own_seconds(child))
        except psutil.NoSuchProcess:  # exited between listing and reading: reaped into the parent
            return 0.0
