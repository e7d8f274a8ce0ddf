"""The workspace's deployed tasks by id, kept between calls: instances name only their
task's id, and an instance's auto reruns and rerun mode are its task's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class TaskMap:
    """Deployed tasks (in the 2024 task shape) by id, read with ``load`` when needed."""

    def __init__(self, load: Callable[[], dict[int, dict[str, Any]]]) -> None:
        self._load = load
        self._tasks: dict[int, dict[str, Any]] = {}
        self._missing: set[int] = set()  # task ids the last full read did not have

    def all(self, refresh: bool = False) -> dict[int, dict[str, Any]]:
        if refresh or not self._tasks:
            self._tasks = self._load()
            self._missing.clear()
        return self._tasks

    def get(self, task_id: int) -> dict[str, Any]:
        """A task by id, the list re-read at most once per unknown id (an undeployed task's
        instances must not cost a full task list each)."""
        tasks = self.all()
        if task_id not in tasks and task_id not in self._missing:
            tasks = self.all(refresh=True)
            if task_id not in tasks:
                self._missing.add(task_id)
        return tasks.get(task_id, {})

    def forget(self) -> None:
        """A change was made (frozen, undeployed): read the tasks afresh next time."""
        self._tasks.clear()
