"""The progress and cancel callbacks that slow work takes, and the one loop that asks cancel before each frame."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from studio.pipeline.files.atomic import ExportCancelled

Progress = Callable[[int, int], None]
"""progress(done, total): called as work advances; total is 0 when it is not known."""
Cancel = Callable[[], bool]
"""cancel(): True once the caller wants the work stopped (asked between stages or frames)."""

T = TypeVar("T")


def until_cancelled(items: Iterable[T], cancel: Cancel | None, what: str = "export") -> Iterator[T]:
    """``items``, asking ``cancel`` before pulling each one (a lazy frame source renders as it is pulled), so a
    cancel stops the work before the next frame is drawn. Raises ``ExportCancelled("{what}: cancelled after N
    frames")``."""
    source = iter(items)
    done = 0
    while True:
        if cancel is not None and cancel():
            raise ExportCancelled(f"{what}: cancelled after {done} frames")
        try:
            item = next(source)
        except StopIteration:
            return
        yield item
        done += 1
