"""Background jobs: results and one-line failures reach the UI thread; only bugs leave a traceback on stderr."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("PySide6")
from studio.pipeline.intake.box import BoxError  # noqa: E402
from studio.core.workspace import JobKind  # noqa: E402
from studio.ui.worker import Jobs  # noqa: E402


def run(qtbot: Any, fn: Any) -> tuple[list[Any], list[str]]:
    jobs, results, failures = Jobs(), [], []
    job = jobs.start(JobKind.PREVIEW, fn)
    job.finished.connect(results.append)
    job.failed.connect(failures.append)
    qtbot.waitUntil(lambda: bool(results or failures), timeout=2000)
    return results, failures


def test_a_result_arrives(qtbot: Any) -> None:
    assert run(qtbot, lambda job: 42) == ([42], [])


def test_the_studios_own_errors_are_one_line_and_no_traceback(qtbot: Any, capfd: pytest.CaptureFixture[str]) -> None:
    def fail(job: Any) -> None:
        raise BoxError("no figure found: is the drawing on plain paper?\nsecond line")

    assert run(qtbot, fail) == ([], ["no figure found: is the drawing on plain paper?"])
    assert "Traceback" not in capfd.readouterr().err


def test_a_bug_leaves_its_traceback_for_the_report(qtbot: Any, capfd: pytest.CaptureFixture[str]) -> None:
    def fail(job: Any) -> None:
        return {}["missing"]  # type: ignore[no-any-return]

    assert run(qtbot, fail) == ([], ["unexpected KeyError: 'missing'"])  # the user is told it was not expected
    err = capfd.readouterr().err
    assert "Traceback" in err and "KeyError" in err


@pytest.mark.parametrize("error, message", [
    (PermissionError(13, "Permission denied", "/out/walk.gif"), "/out/walk.gif: permission denied"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply to read"),
    (MemoryError(), "too large to open (there was not enough memory)"),
])
def test_a_hostile_file_or_a_full_machine_reads_as_a_sentence(qtbot: Any, capfd: pytest.CaptureFixture[str],
                                                             error: BaseException, message: str) -> None:
    """Not "[Errno 13] Permission denied: '…'", "maximum recursion depth exceeded" or an empty line."""
    def fail(job: Any) -> None:
        raise error

    assert run(qtbot, fail) == ([], [message])
    assert "Traceback" not in capfd.readouterr().err


def test_a_job_that_ends_at_once_is_still_heard(qtbot: Any) -> None:
    """Callers connect to a job after start() returns: a job that fails instantly must not emit before that."""
    def fail(job: Any) -> None:
        raise BoxError("no figure found")  # no traceback to print: it emits at once

    for _ in range(40):
        assert run(qtbot, lambda job: 42) == ([42], [])
        assert run(qtbot, fail) == ([], ["no figure found"])
