"""A Qt-free undo stack for tests of the core's commands: it runs them as the window's QUndoStack adapter does."""

from __future__ import annotations

from studio.core.commands import Command
from studio.core.document import Document


class History:
    """A Qt-free undo stack with the same behaviour as the window's QUndoStack adapter (for the CLI and tests)."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._done: list[Command] = []
        self._undone: list[Command] = []

    def push(self, command: Command) -> None:
        command.do(self.doc)
        self._done.append(command)
        self._undone.clear()

    def undo(self) -> None:
        if self._done:
            command = self._done.pop()
            command.undo(self.doc)
            self._undone.append(command)

    def redo(self) -> None:
        if self._undone:
            command = self._undone.pop()
            command.do(self.doc)
            self._done.append(command)

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)
