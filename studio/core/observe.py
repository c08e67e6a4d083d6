"""Plain-Python signals: core objects announce changes through them, with no Qt."""

from __future__ import annotations

from typing import Any, Callable


class Signal:
    """Callbacks connected to a signal are called in connection order by ``emit``.

    A callback may disconnect itself (or others) while being called; the current emit still reaches
    the callbacks that were connected when it started.
    """

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any]) -> None:
        if slot not in self._slots:
            self._slots.append(slot)

    def disconnect(self, slot: Callable[..., Any]) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        for slot in list(self._slots):
            slot(*args)

    def __len__(self) -> int:
        return len(self._slots)
