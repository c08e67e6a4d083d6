"""Core commands on Qt's undo stack: every user edit is one QUndoCommand wrapping a studio.core.commands command."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand, QUndoStack

from studio.core.commands import Command
from studio.core.document import Document


class _Wrapped(QUndoCommand):
    def __init__(self, doc: Document, command: Command) -> None:
        super().__init__(command.text)
        self.doc, self.command = doc, command

    def redo(self) -> None:  # QUndoStack.push calls this at once: it does the command
        self.command.do(self.doc)

    def undo(self) -> None:
        self.command.undo(self.doc)


class UndoStack(QUndoStack):
    """A QUndoStack bound to one document; ``run(command)`` does it and makes it undoable."""

    def __init__(self, doc: Document) -> None:
        super().__init__()
        self.doc = doc

    def run(self, command: Command | None) -> None:
        if command is not None:
            self.push(_Wrapped(self.doc, command))
