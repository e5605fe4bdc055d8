"""Progress and timing of pipeline stages.

A :class:`Reporter` times each stage (the times go into ``summary.json``) and,
when enabled, draws a progress line per stage on standard error.
"""

from __future__ import annotations

import time
from contextlib import contextmanager


class Reporter:
    """Times stages; shows progress bars when ``show`` is true."""

    def __init__(self, *, show: bool = False) -> None:
        self.show = show
        self.timings: dict[str, float] = {}
        self._progress = None
        self._task = None

    def __enter__(self) -> Reporter:
        if self.show:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    @contextmanager
    def stage(self, name: str, total: float | None = None):
        start = time.perf_counter()
        if self._progress is not None:
            self._task = self._progress.add_task(name, total=total)
        try:
            yield self
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
            if self._progress is not None and self._task is not None:
                task = self._progress.tasks[-1]
                self._progress.update(self._task, total=task.total or max(task.completed, 1), completed=task.total or max(task.completed, 1))
                self._task = None

    def advance(self, amount: float = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)

    def set_total(self, total: float) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)
