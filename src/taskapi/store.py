"""A thread-safe in-memory task store."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Task:
    id: int
    title: str
    done: bool = False

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class TaskStore:
    """Tasks by id. Ids increase monotonically and are never reused, not even
    after a delete, so a client never confuses a new task with an old one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[int, Task] = {}
        self._ids = itertools.count(1)

    def create(self, title: str, *, done: bool = False) -> Task:
        with self._lock:
            task = Task(id=next(self._ids), title=title, done=done)
            self._tasks[task.id] = task
            return task

    def list(self) -> list[Task]:
        with self._lock:
            return list(self._tasks.values())

    def get(self, task_id: int) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def delete(self, task_id: int) -> bool:
        with self._lock:
            return self._tasks.pop(task_id, None) is not None

    def reset(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._ids = itertools.count(1)
