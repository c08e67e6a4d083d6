"""Outputs are never lost or silently wrong: read-only targets are refused, SIGTERM unwinds like Ctrl-C,
temps of killed writers are swept, and a clip that would export blank frames is an error."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from studio.cli.main import main
from studio.core.motion_source import load_motion
from studio.pipeline.files.atomic import (PendingFile, ReadOnlyTargetError, atomic_write_dir, atomic_write_path,
                                    overwrite_read_only, sweep_stale_temps)
from studio.core.render import Animation, RenderError
from studio.core.sample import sample_character

ROOT = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old")))


# ------------------------------------------------------------------ read-only targets


def test_a_read_only_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    target = tmp_path / "out.gif"
    target.write_bytes(b"old")
    target.chmod(0o444)
    with pytest.raises(ReadOnlyTargetError, match="read-only"):
        with atomic_write_path(target) as temp:
            temp.write_bytes(b"new")
    with pytest.raises(ReadOnlyTargetError):
        PendingFile(target)
    assert target.read_bytes() == b"old" and _temps(tmp_path) == []


def test_a_read_only_folder_of_frames_is_refused(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    frames.chmod(0o555)
    try:
        with pytest.raises(ReadOnlyTargetError), atomic_write_dir(frames):
            pass
    finally:
        frames.chmod(0o755)


def test_forcing_replaces_a_read_only_file_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.gif"
    target.write_bytes(b"old")
    target.chmod(0o444)
    with overwrite_read_only(), atomic_write_path(target) as temp:
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o444
    with pytest.raises(ReadOnlyTargetError):  # the force ends with its block
        PendingFile(target)


def test_cli_render_refuses_a_read_only_output_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "wave.gif"
    target.write_bytes(b"old")
    target.chmod(0o444)
    args = ["render", "sample", "--motion", "wave", "--size", "48", "--frames", "4", "-o", str(target)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "read-only" in err and "--force" in err and "Traceback" not in err
    assert target.read_bytes() == b"old"
    assert main(args + ["--force"]) == 0
    assert target.read_bytes()[:6] == b"GIF89a"


def test_cli_pose_box_must_be_finite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "d.png"
    Image.new("RGB", (64, 64), "white").save(image)
    assert main(["pose", str(image), "--backend", "manual", "--box", "0,0,inf,inf"]) == 1
    err = capsys.readouterr().err
    assert "finite" in err and "weights" not in err


# ------------------------------------------------------------------ temps of killed writers


def test_temps_of_dead_writers_are_swept_on_the_next_write(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale_file = tmp_path / f".out.gif.studio-{dead}-abcd_123.tmp"
    stale_file.write_bytes(b"half")
    stale_dir = tmp_path / f".frames.studio-{dead}-zz9_abcd.tmp"
    stale_dir.mkdir()
    (stale_dir / "frame_0000.png").write_bytes(b"x")
    live = tmp_path / f".other.gif.studio-{os.getppid()}-abcdefgh.tmp"  # the test runner's parent: alive
    live.write_bytes(b"in progress")
    day_ago = time.time() - 2 * 24 * 3600
    users = [tmp_path / f".notes.{dead}.backup01.tmp", tmp_path / ".old.gif.k2j4h6g8.tmp"]  # not our naming
    for path in users:
        path.write_bytes(b"the user's")
        os.utime(path, (day_ago, day_ago))
    users_dir = tmp_path / ".thesis.2023.original.old"
    users_dir.mkdir()
    (users_dir / "chapter1.txt").write_text("the user's")

    with atomic_write_path(tmp_path / "out.gif") as temp:
        assert ".studio-" in temp.name
        temp.write_bytes(b"new")
    left = {p.name for p in tmp_path.iterdir()}
    assert stale_file.name not in left and stale_dir.name not in left
    assert {live.name, users_dir.name, "out.gif", *(p.name for p in users)} <= left
    assert (users_dir / "chapter1.txt").exists()


def test_a_temp_of_a_reused_pid_is_swept(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        temp = tmp_path / f".out.gif.studio-{child.pid}-abcdefgh.tmp"
        temp.write_bytes(b"half")
        hour_ago = time.time() - 3600  # written before that process started: another process had the pid
        os.utime(temp, (hour_ago, hour_ago))
        assert sweep_stale_temps(tmp_path) == [temp]
    finally:
        child.kill()
        child.wait()


def test_a_folder_we_may_not_write_into_is_named_not_our_temp(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def refuse(path: object, flags: int, *args: object) -> int:
        if ".studio-" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PermissionError) as caught:
        PendingFile(tmp_path / "out.gif")
    assert caught.value.filename == str(tmp_path / "out.gif") and ".tmp" not in str(caught.value)


def test_a_signal_between_a_temps_creation_and_its_cleanup_leaves_nothing(tmp_path: Path) -> None:
    """SIGTERM landed just after a temp was created, before the code that removes it on failure had started."""
    from studio.pipeline.files.atomic import remove_unfinished

    pending = PendingFile(tmp_path / "out.gif")  # then the signal: no with-block, no discard
    (tmp_path / "frames").mkdir()
    assert _temps(tmp_path) and pending.temp in remove_unfinished()
    assert _temps(tmp_path) == [] and remove_unfinished() == []


def _render_in_child(tmp_path: Path, target: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "studio.launcher", "render", "sample", "--motion", "dance", "--size", "700",
               "--frames", "150", "-o", str(target)]
    return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_temp(folder: Path, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not _temps(folder):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the render never started writing"
        time.sleep(0.01)


@pytest.mark.slow  # end to end: a render in a subprocess, sent SIGTERM
def test_sigterm_during_a_render_unwinds_like_ctrl_c(tmp_path: Path) -> None:
    target = tmp_path / "out.gif"
    target.write_bytes(b"old")
    child = _render_in_child(tmp_path, target)
    try:
        _wait_for_temp(tmp_path, child)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 143, err
    assert b"terminated" in err and b"Traceback" not in err
    assert target.read_bytes() == b"old" and _temps(tmp_path) == []


@pytest.mark.slow  # end to end: a render in a subprocess, killed
def test_the_temp_of_a_killed_render_is_swept_by_the_next_one(tmp_path: Path) -> None:
    target = tmp_path / "out.gif"
    child = _render_in_child(tmp_path, target)
    try:
        _wait_for_temp(tmp_path, child)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert _temps(tmp_path), "kill -9 leaves the temp (nothing can remove it then)"
    assert main(["render", "sample", "--motion", "wave", "--size", "48", "--frames", "4", "-o", str(target)]) == 0
    assert _temps(tmp_path) == [] and target.read_bytes()[:6] == b"GIF89a"


# ------------------------------------------------------------------ blank exports


def _source_with_root(value: float, frame: int = 5):  # type: ignore[no-untyped-def]
    character = sample_character()
    source = load_motion("wave", character)
    motion = source.bvh.motion.copy()
    motion[frame, :3] = value
    return character, dataclasses.replace(source, bvh=source.bvh.with_motion(motion))


@pytest.mark.parametrize("value", [1e300, np.inf, np.nan])
def test_an_absurd_root_position_in_one_frame_is_an_error_not_blank_frames(value: float) -> None:
    character, source = _source_with_root(value)
    with pytest.raises(RenderError, match="frame 5|finite") as caught:
        Animation(character, source, (64, 64))
    assert len(str(caught.value)) < 300


def test_a_far_off_starting_location_is_an_error() -> None:
    character = sample_character()
    source = load_motion("wave", character)
    config = dataclasses.replace(source.retarget_config, char_starting_location=(1e308, 0.0, 0.0))
    with pytest.raises(RenderError, match="char_starting_location"):
        Animation(character, dataclasses.replace(source, retarget_config=config), (64, 64), frames=6)


def test_a_normal_clip_passes_the_canvas_checks() -> None:
    character, source = _source_with_root(0.0, 0)
    animation = Animation(character, source, (64, 64), frames=6)
    assert not any("outside the canvas" in note for note in animation.notes)


def test_the_manual_backend_refuses_an_infinite_box() -> None:
    from studio.pipeline.pose.manual import ManualBackend
    from studio.pipeline.pose.backend import InvalidBoxError

    with pytest.raises(InvalidBoxError, match="finite"):
        ManualBackend().pose(np.zeros((8, 8, 3), np.uint8), (0.0, 0.0, float("inf"), 5.0))


@pytest.mark.parametrize("dump", ["out.gif", "clip.bvh", "char/texture.png", "char/rig.json"])
def test_the_rig_dump_never_replaces_the_export_or_an_input(tmp_path: Path, dump: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """--dump-rig o.gif wrote JSON over the GIF it had just exported, and over a BVH or texture given to it."""
    from studio.core.sample import sample_character_files
    from studio.pipeline.motion.bvh_writer import write_bvh

    folder = sample_character_files(tmp_path / "char")
    (folder / "rig.json").write_text("{}")
    write_bvh(load_motion("wave", sample_character()).bvh, tmp_path / "clip.bvh")
    before = {p: p.read_bytes() for p in [*folder.iterdir(), tmp_path / "clip.bvh"]}
    code = main(["render", str(folder), "-m", str(tmp_path / "clip.bvh"), "-s", "48", "-o", str(tmp_path / "out.gif"),
                 "--dump-rig", str(tmp_path / dump)])
    err = capsys.readouterr().err
    assert code == 1 and ("--dump-rig writes JSON" in err or "a file of the character folder" in err), err
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "out.gif").exists()  # refused before any work


def test_pose_clips_a_box_reaching_past_the_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--box=-1e308,0,1e308,10 gave keypoints at ±1e307 with exit 0."""
    import json

    from PIL import Image

    image = tmp_path / "d.png"
    Image.new("RGB", (60, 80), "white").save(image)
    assert main(["pose", str(image), "--backend", "manual", "--box=-1e308,0,1e308,40"]) == 0
    points = np.array(json.loads(capsys.readouterr().out))
    assert (points[:, 0] >= 0).all() and (points[:, 0] <= 60).all() and (points[:, 1] <= 80).all()


def test_an_output_under_a_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    assert main(["render", "sample", "-m", "wave", "-o", str(tmp_path / "afile" / "x.gif")]) == 1
    assert "afile: is a file, not a folder" in capsys.readouterr().err


def test_a_background_that_is_a_fifo_is_named_as_such(tmp_path: Path) -> None:
    from studio.core.render import parse_background

    os.mkfifo(tmp_path / "bg.png")
    with pytest.raises(RenderError, match="not a regular file"):
        parse_background(str(tmp_path / "bg.png"))
