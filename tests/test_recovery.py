"""Crash recovery without Qt: when an autosave is due, recovered work kept through a second crash, and autosaves
that cannot be read listed with a reason instead of crashing the start."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from studio.core.document import Document
from studio.pipeline.intake.strokes import Stroke
from studio.core.project import open_project, save_project
from studio.core.recovery import Autosaver, AutosaveSchedule, find_recoverable

DEAD_PID = 999_983  # no process of a test run has it (find_recoverable offers only autosaves of dead pids)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _work(strokes: int) -> Document:
    doc = Document.blank()
    for k in range(strokes):
        doc.strokes.append(Stroke(((10.0 + k, 10.0), (40.0 + k, 60.0)), (20, 20, 20), 4.0))
    return doc


def _dead_autosave(folder: Path, doc: Document, pid: int = DEAD_PID) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = save_project(doc, folder / f"autosave-{pid}.studio", mark_saved=False)
    path.with_suffix(".json").write_text(json.dumps({"pid": pid, "time": time.time(), "project": None,
                                                     "source": "cat.png"}))
    return path


# --- when an autosave is due -------------------------------------------------------------------------------
def test_steady_editing_is_autosaved_within_the_maximum_wait() -> None:
    """An edit every second for 30 s: a debounce alone (restarted by each edit) would never save."""
    clock = FakeClock()
    schedule = AutosaveSchedule(quiet_s=3.0, max_wait_s=10.0, clock=clock)
    saved_at: list[float] = []
    first_unsaved: float | None = None
    for _ in range(30):
        first_unsaved = clock.now if first_unsaved is None else first_unsaved
        assert schedule.changed() <= 3.0
        clock.now += 1.0
        if schedule.due_in() == 0:
            saved_at.append(clock.now)
            assert clock.now - first_unsaved <= 10.0  # never more than the maximum wait after the first change
            schedule.started()
            first_unsaved = None
    assert saved_at == [110.0, 120.0, 130.0]


def test_a_pause_saves_after_the_quiet_time_and_nothing_is_due_once_saved() -> None:
    clock = FakeClock()
    schedule = AutosaveSchedule(quiet_s=3.0, max_wait_s=10.0, clock=clock)
    assert schedule.due_in() is None and not schedule.pending
    assert schedule.changed() == 3.0
    clock.now += 2.0
    assert schedule.changed() == 3.0  # the pause counts from the last change…
    clock.now += 7.0
    assert schedule.changed() == 1.0  # …but the first change's maximum wait still holds
    clock.now += 1.0
    assert schedule.due_in() == 0.0
    schedule.started()
    assert schedule.due_in() is None and not schedule.pending
    assert schedule.changed() == 3.0  # a change after the snapshot starts a new wait


def test_a_schedule_whose_quiet_time_exceeds_its_maximum_wait_is_refused() -> None:
    with pytest.raises(ValueError, match="max wait"):
        AutosaveSchedule(quiet_s=20.0, max_wait_s=10.0)


# --- recovered work survives a second crash ----------------------------------------------------------------
def test_adopting_recovered_work_rewrites_it_as_ours_before_removing_the_old_autosave(tmp_path: Path) -> None:
    folder = tmp_path / "recovery"
    old = _dead_autosave(folder, _work(3))
    [item] = find_recoverable(folder)
    doc = item.open()
    autosaver = Autosaver(folder)
    autosaver.adopt(item, doc)
    assert not old.exists() and not old.with_suffix(".json").exists()
    assert len(open_project(autosaver.path).strokes) == 3  # a crash now still leaves the work on disk…
    assert json.loads(autosaver.sidecar.read_text())["pid"] == autosaver.pid  # …as this process's autosave
    assert sorted(p.name for p in folder.iterdir()) == sorted([autosaver.path.name, autosaver.sidecar.name])


def test_adopting_the_autosave_of_an_earlier_process_with_our_pid_keeps_one_copy(tmp_path: Path) -> None:
    """A reused pid: the dead process's file has our name, so ours must not be written over it and then removed."""
    folder = tmp_path / "recovery"
    autosaver = Autosaver(folder)
    _dead_autosave(folder, _work(2), pid=autosaver.pid)
    [item] = find_recoverable(folder)
    assert item.path == autosaver.path
    autosaver.adopt(item, item.open())
    assert len(open_project(autosaver.path).strokes) == 2
    assert [p.name for p in folder.glob("*.studio")] == [autosaver.path.name]


def test_when_ours_cannot_be_written_the_old_autosave_stays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "recovery"
    old = _dead_autosave(folder, _work(1))
    [item] = find_recoverable(folder)
    autosaver = Autosaver(folder)

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("studio.core.recovery.save_project", full_disk)
    with pytest.raises(OSError):
        autosaver.adopt(item, item.open())
    assert old.exists()


# --- an autosave that cannot be read never crashes the start -----------------------------------------------
@pytest.mark.parametrize("error, reason", [(MemoryError(), "too large to open"),
                                           (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
                                           (KeyError("paper"), "unexpected KeyError")])
def test_an_autosave_that_fails_in_any_way_is_listed_with_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    error: BaseException, reason: str) -> None:
    folder = tmp_path / "recovery"
    _dead_autosave(folder, _work(1))

    def fail(path: object) -> Document:
        raise error

    monkeypatch.setattr("studio.core.recovery.open_project", fail)
    [item] = find_recoverable(folder)
    assert item.error is not None and reason in item.error


def test_a_sidecar_nested_too_deeply_only_loses_the_details(tmp_path: Path) -> None:
    folder = tmp_path / "recovery"
    path = _dead_autosave(folder, _work(1))
    path.with_suffix(".json").write_text("[" * 100_000 + "]" * 100_000)
    [item] = find_recoverable(folder)
    assert item.error is None and item.what == "an untitled drawing"
