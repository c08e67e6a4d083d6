"""Atomic exports: a target is replaced only by a finished file or folder; failures leave no trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.pipeline.files.atomic import ExportCancelled, PendingFile, atomic_write_dir, atomic_write_path


def test_file_is_renamed_into_place(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_write_path(target) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".out.bin.") and temp.exists()
        assert not target.exists()
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("error", [ExportCancelled("stop"), RuntimeError("boom"), KeyboardInterrupt()])
def test_failed_file_write_keeps_the_old_file(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(type(error)), atomic_write_path(target) as temp:
        temp.write_bytes(b"half")
        raise error
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_pending_file_commit_and_discard(tmp_path: Path) -> None:
    kept = PendingFile(tmp_path / "a.gif")
    kept.temp.write_bytes(b"a")
    assert kept.commit() == tmp_path / "a.gif"
    dropped = PendingFile(tmp_path / "b.gif")
    dropped.temp.write_bytes(b"b")
    dropped.discard()
    dropped.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]
    with pytest.raises(IsADirectoryError):
        PendingFile(tmp_path)


def test_folder_replaces_an_existing_folder_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    target.mkdir()
    (target / "stale.png").write_bytes(b"x")
    with pytest.raises(ExportCancelled), atomic_write_dir(target) as temp:
        (temp / "frame_0000.png").write_bytes(b"half")
        raise ExportCancelled("user")
    assert [p.name for p in target.iterdir()] == ["stale.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]

    with atomic_write_dir(target) as temp:
        (temp / "frame_0000.png").write_bytes(b"new")
        (temp / "sub").mkdir()
        (temp / "sub" / "f").write_bytes(b"nested")
    assert sorted(p.name for p in target.iterdir()) == ["frame_0000.png", "sub"]
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_folder_may_replace_a_file_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "was_a_file").write_bytes(b"x")
    for name in ("was_a_file", "new"):
        with atomic_write_dir(tmp_path / name) as temp:
            (temp / "f").write_bytes(b"y")
        assert (tmp_path / name / "f").read_bytes() == b"y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "was_a_file"]


def test_results_get_ordinary_permissions_not_a_temp_files(tmp_path: Path) -> None:
    """Temp files are owner-only; what is published has the umask's mode, or keeps the mode of what it replaces."""
    import stat

    from studio.pipeline.files.atomic import UMASK

    fresh = tmp_path / "fresh.gif"
    with atomic_write_path(fresh) as temp:
        temp.write_bytes(b"GIF89a")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~UMASK
    folder = tmp_path / "character"
    with atomic_write_dir(folder) as temp_dir:
        (temp_dir / "char_cfg.yaml").write_text("height: 1\n")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~UMASK
    fresh.chmod(0o640)  # the user's own choice survives a re-export
    with atomic_write_path(fresh) as temp:
        temp.write_bytes(b"GIF89a again")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
