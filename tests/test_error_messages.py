"""describe_error: why a file could not be read or written, as one short line (no "[Errno 13]", no traceback,
no document quoted back whole)."""

from __future__ import annotations

import pytest

from studio.core.loading import MESSAGE_LIMIT, OpenError, describe_error, is_expected
from studio.pipeline.files.atomic import ReadOnlyTargetError


def test_an_os_error_names_its_file_and_reads_as_words() -> None:
    error = PermissionError(13, "Permission denied", "/home/ana/cat.png")
    assert describe_error(error) == "/home/ana/cat.png: permission denied"
    assert describe_error(FileNotFoundError(2, "No such file or directory")) == "no such file or directory"


def test_the_callers_own_file_and_its_temp_sibling_are_not_named_twice() -> None:
    assert describe_error(PermissionError(13, "Permission denied", "/in/cat.png"), "cat.png") == "permission denied"
    temp = PermissionError(13, "Permission denied", "/ro/.boy.studio.4242.k2j3.tmp")
    assert describe_error(temp, "/ro/boy.studio") == "permission denied"
    other = PermissionError(13, "Permission denied", "/in/cat.png.bak")
    assert describe_error(other, "/in/cat.png") == "/in/cat.png.bak: permission denied"


def test_the_studios_own_errors_keep_their_message() -> None:
    assert describe_error(OpenError("x: not a character folder\nmore")) == "x: not a character folder"
    assert describe_error(ReadOnlyTargetError("out.gif is read-only")) == "out.gif is read-only"


def test_hostile_files_read_as_sentences() -> None:
    assert describe_error(RecursionError("maximum recursion depth exceeded")) == "nested too deeply to read"
    assert describe_error(MemoryError()) == "too large to open (there was not enough memory)"


def test_an_unforeseen_error_names_its_type() -> None:
    assert describe_error(KeyError("paper")) == "unexpected KeyError: 'paper'"
    assert describe_error(RuntimeError()) == "unexpected RuntimeError"
    assert not is_expected(KeyError("paper")) and is_expected(MemoryError()) and is_expected(OpenError("x"))


@pytest.mark.parametrize("quoted", [1000, 3_000_000])
def test_a_message_quoting_a_document_is_cut_short(quoted: int) -> None:
    """A validator that quotes a 9-level alias bomb back would put megabytes in a banner."""
    text = describe_error(ValueError("skeleton entry 0 has no usable name (" + "['lol', " * quoted + ")"))
    assert len(text) <= MESSAGE_LIMIT and text.startswith("skeleton entry 0 has no usable name") and text[-1] == "…"
