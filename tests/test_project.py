"""Project files and crash recovery: round trips, atomic saves, malformed files, and a real kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from studio.core import project, recovery
from studio.core.document import Document, Skeleton
from studio.pipeline.intake.images import MAX_PIXELS
from studio.pipeline.intake.strokes import Stroke, render_strokes
from studio.core.project import ProjectError, open_project, save_project
from studio.core.recovery import Autosaver, find_recoverable

ROOT = Path(__file__).resolve().parents[1]


def rigged() -> Document:
    """A 64x64 (W) by 48 (H) document with every part filled in."""
    doc = Document.blank(64, 48)
    doc.paper[10:20, 5:30] = (200, 30, 10)  # RGB: a PNG saved as RGB instead of BGR would swap these
    doc.strokes = [Stroke(((1.0, 2.0), (30.5, 40.25)), (255, 0, 0), 3.0),
                   Stroke(((5.0, 5.0),), (0, 0, 0), 2.5, 0.5),
                   Stroke(((3.0, 4.0), (20.0, 20.0)), (0, 0, 0), 6.0, erase=True)]
    mask = np.zeros((48, 64), np.uint8)
    mask[5:40, 10:50] = 255
    joints = np.array([[32.5, 10.125], [32.0, 30.0], [20.0, 44.0]])
    doc.set_annotation((4.0, 2.5, 60.0, 47.0), mask, Skeleton(("root", "hip", "foot"), (-1, 0, 1), joints), joints + 1.5,
                frozenset({"foot"}))
    doc.set_preview(motion="jumping", frames=12, size=256, speed=1.5)
    doc.set_export(kind="mp4", background="#102030", size=128, frames=None)
    doc.source = "/tmp/drawing.png"
    return doc


def assert_same(a: Document, b: Document) -> None:
    np.testing.assert_array_equal(a.paper, b.paper)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.strokes == b.strokes
    assert a.box == b.box
    assert (a.mask is None) == (b.mask is None)
    if a.mask is not None:
        np.testing.assert_array_equal(a.mask, b.mask)
    assert (a.skeleton is None) == (b.skeleton is None)
    if a.skeleton is not None and b.skeleton is not None:
        assert (a.skeleton.names, a.skeleton.parents) == (b.skeleton.names, b.skeleton.parents)
        np.testing.assert_array_equal(a.skeleton.joints, b.skeleton.joints)
    np.testing.assert_array_equal(np.asarray(a.detected), np.asarray(b.detected))
    assert a.unsure == b.unsure
    assert (a.preview, a.export, a.source) == (b.preview, b.export, b.source)


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    doc = rigged()
    assert doc.dirty
    path = save_project(doc, tmp_path / "figure.studio")
    assert path == tmp_path / "figure.studio" and not doc.dirty
    loaded = open_project(path)
    assert_same(doc, loaded)
    assert not loaded.dirty
    with zipfile.ZipFile(path) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        assert set(infos) == {"project.json", "paper.png", "mask.png"}
        assert infos["paper.png"].compress_type == zipfile.ZIP_STORED
        assert infos["project.json"].compress_type == zipfile.ZIP_DEFLATED
        data = json.loads(archive.read("project.json"))
    assert (data["format"], data["version"]) == ("drawing-studio-project", 1)


def test_blank_document_round_trips(tmp_path: Path) -> None:
    doc = Document.blank(64, 64)
    loaded = open_project(save_project(doc, tmp_path / "blank.studio"))
    assert_same(doc, loaded)
    assert loaded.mask is None and loaded.skeleton is None and loaded.box is None and loaded.detected is None


def test_autosave_style_save_leaves_the_document_dirty(tmp_path: Path) -> None:
    doc = rigged()
    save_project(doc, tmp_path / "a.studio", mark_saved=False)
    assert doc.dirty


def test_non_finite_joints_are_refused_on_save(tmp_path: Path) -> None:
    doc = rigged()
    assert doc.skeleton is not None
    doc.skeleton.joints[0, 0] = np.nan
    with pytest.raises(ProjectError, match="cannot save"):
        save_project(doc, tmp_path / "a.studio")
    assert not (tmp_path / "a.studio").exists() and doc.dirty


def test_a_failed_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "figure.studio"
    save_project(Document.blank(64, 64), path)
    before = path.read_bytes()
    real = zipfile.ZipFile.writestr

    def fail_on_mask(self: zipfile.ZipFile, name: object, *args: object, **kwargs: object) -> None:
        if name == "mask.png":
            raise OSError("disk full")
        real(self, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_on_mask)
    doc = rigged()
    with pytest.raises(OSError, match="disk full"):
        save_project(doc, path)
    assert path.read_bytes() == before and doc.dirty
    assert [p.name for p in tmp_path.iterdir()] == ["figure.studio"]  # no temp file left behind


def test_a_failed_encode_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "figure.studio"
    save_project(Document.blank(64, 64), path)
    before = path.read_bytes()
    monkeypatch.setattr(project.cv2, "imencode", lambda *a: (False, None))
    with pytest.raises(ProjectError, match="figure.studio: cannot save"):
        save_project(rigged(), path)
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------------------------- malformed
def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def members_of(doc: Document, tmp_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(save_project(doc, tmp_path / "good.studio")) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def with_json(tmp_path: Path, change: dict[str, object]) -> Path:
    members = members_of(rigged(), tmp_path)
    data = json.loads(members["project.json"])
    data.update(change)
    members["project.json"] = json.dumps(data).encode()
    return zip_of(tmp_path / "bad.studio", members)


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def expect(path: Path, message: str) -> None:
    with pytest.raises(ProjectError, match=message) as info:
        open_project(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "bad.studio"
    path.write_bytes(b"hello, not a zip")
    expect(path, "not a Drawing Studio project")


def test_truncated_file(tmp_path: Path) -> None:
    good = save_project(rigged(), tmp_path / "good.studio").read_bytes()
    path = tmp_path / "bad.studio"
    path.write_bytes(good[: len(good) // 2])
    expect(path, "truncated or damaged")


def test_damaged_member_data(tmp_path: Path) -> None:
    path = save_project(rigged(), tmp_path / "bad.studio")
    raw = bytearray(path.read_bytes())
    at = raw.index(b"IHDR")  # inside paper.png's stored data: the CRC check fails
    raw[at:at + 4] = b"XXXX"
    path.write_bytes(bytes(raw))
    expect(path, "damaged")


def test_missing_project_json(tmp_path: Path) -> None:
    expect(zip_of(tmp_path / "bad.studio", {"paper.png": png(np.zeros((4, 4, 3), np.uint8))}), "no project.json")


def test_wrong_format_marker(tmp_path: Path) -> None:
    expect(with_json(tmp_path, {"format": "something-else"}), "no drawing-studio-project marker")


def test_newer_version(tmp_path: Path) -> None:
    expect(with_json(tmp_path, {"version": 2}), "newer Drawing Studio .project version 2")


def test_malformed_json(tmp_path: Path) -> None:
    members = members_of(rigged(), tmp_path)
    members["project.json"] = b'{"format": "drawing-studio-project", "version": 1,'
    expect(zip_of(tmp_path / "bad.studio", members), "project.json is not valid JSON")


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    members = members_of(rigged(), tmp_path)
    members["project.json"] = b"[1, 2, 3]"
    expect(zip_of(tmp_path / "bad.studio", members), "not a Drawing Studio project")


@pytest.mark.parametrize("stroke", [{"points": [], "colour": [0, 0, 0], "width": 1},
                                    {"points": [[1, 2]], "colour": [0, 0, 0], "width": -1}, "a stroke"])
def test_bad_strokes(tmp_path: Path, stroke: object) -> None:
    expect(with_json(tmp_path, {"strokes": [stroke]}), "bad stroke")


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers(tmp_path: Path, text: str) -> None:
    members = members_of(rigged(), tmp_path)
    data = members["project.json"].decode()
    members["project.json"] = data.replace('"box":[4.0', f'"box":[{text}').encode()
    assert members["project.json"].decode() != data
    expect(zip_of(tmp_path / "bad.studio", members), "non-finite number")


def test_joint_count_must_match_the_skeleton(tmp_path: Path) -> None:
    expect(with_json(tmp_path, {"detected": [[1.0, 2.0]]}), "detected joints has 1 joints, the skeleton has 3")
    skeleton = {"names": ["a", "b"], "parents": [-1, 0], "joints": [[1.0, 2.0]]}
    expect(with_json(tmp_path, {"skeleton": skeleton}), "skeleton joints has 1 joints, the skeleton has 2")
    skeleton = {"names": ["a", "b"], "parents": [-1, 5], "joints": [[1.0, 2.0], [3.0, 4.0]]}
    expect(with_json(tmp_path, {"skeleton": skeleton}), "parent .5. is not a joint index")


def test_unsure_joints_survive_a_reopen_and_must_be_joints_of_the_skeleton(tmp_path: Path) -> None:
    doc = rigged()
    doc.set_annotation(doc.box, doc.mask, doc.skeleton, doc.skeleton.joints.copy(), frozenset({"foot", "hip"}))
    loaded = open_project(save_project(doc, tmp_path / "unsure.studio"))
    assert loaded.unsure == {"foot", "hip"} and loaded.unsure_joints() == [1, 2]  # still asked to check them
    expect(with_json(tmp_path, {"unsure": ["elbow"]}), "unsure must list joints of the skeleton")
    expect(with_json(tmp_path, {"unsure": "foot"}), "unsure must list joints of the skeleton")
    doc.confirm_joints()
    assert open_project(save_project(doc, tmp_path / "checked.studio")).unsure_joints() == []


def test_mask_must_match_the_paper(tmp_path: Path) -> None:
    members = members_of(rigged(), tmp_path)
    members["mask.png"] = png(np.zeros((10, 64), np.uint8))
    expect(zip_of(tmp_path / "bad.studio", members), r"mask.png is \(64, 10\) px, the drawing is \(64, 48\)")
    members["mask.png"] = png(np.zeros((48, 64, 3), np.uint8))
    expect(zip_of(tmp_path / "bad.studio", members), "one-channel")


def test_missing_mask_png(tmp_path: Path) -> None:
    members = members_of(rigged(), tmp_path)
    del members["mask.png"]
    expect(zip_of(tmp_path / "bad.studio", members), "no mask.png")


def test_paper_must_match_the_size(tmp_path: Path) -> None:
    expect(with_json(tmp_path, {"size": [32, 48]}), r"paper.png is \(64, 48\) px, the drawing is \(32, 48\)")
    expect(with_json(tmp_path, {"size": [100000, 100000]}), "more than")


def test_corrupt_png(tmp_path: Path) -> None:
    members = members_of(rigged(), tmp_path)
    members["paper.png"] = members["paper.png"][:40] + b"\0" * 100
    expect(zip_of(tmp_path / "bad.studio", members), "paper.png is a damaged PNG")
    members["paper.png"] = b"GIF89a" + b"\0" * 100
    expect(zip_of(tmp_path / "bad.studio", members), "paper.png is not a PNG")


def test_bad_settings(tmp_path: Path) -> None:
    expect(with_json(tmp_path, {"export": {"kind": "exe"}}), "export kind must be one of")
    expect(with_json(tmp_path, {"preview": {"speed": 0}}), "preview speed must be in \\(0, 8\\]")
    expect(with_json(tmp_path, {"preview": {"frames": True}}), "preview frames must be a whole number")
    expect(with_json(tmp_path, {"box": [1, 2, 3]}), "box must be")


def test_zip_bomb_is_refused_by_its_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project, "MAX_JSON", 1000)  # project.json's own cap, below MAX_MEMBER
    members = members_of(rigged(), tmp_path)
    members["project.json"] += b" " * 5000  # valid JSON, highly compressible
    expect(zip_of(tmp_path / "bad.studio", members), "project.json is too large")


def test_zip_bomb_with_a_lying_header_is_refused_while_reading(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    members = members_of(rigged(), tmp_path)
    members["project.json"] += b" " * 5000
    path = zip_of(tmp_path / "bad.studio", members)
    real = zipfile.ZipFile.getinfo

    def lying(self: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
        info = real(self, name)
        info.file_size = 10  # the header claims a tiny member
        return info

    monkeypatch.setattr(zipfile.ZipFile, "getinfo", lying)
    monkeypatch.setattr(project, "MAX_MEMBER", 1000)
    with pytest.raises(ProjectError, match="too large|damaged"):
        open_project(path)


def test_project_json_over_its_own_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    members = members_of(rigged(), tmp_path)
    members["project.json"] += b" " * project.MAX_JSON  # valid JSON, far under MAX_MEMBER, deflates 1000:1
    path = zip_of(tmp_path / "big.studio", members)
    assert path.stat().st_size < 100_000
    expect(path, f"project.json is too large \\({len(members['project.json'])} bytes uncompressed; "
                 f"at most {project.MAX_JSON}\\)")


@pytest.mark.parametrize("key", ["version", "strokes", "unsure", "box"])
def test_deeply_nested_project_json_is_a_project_error(tmp_path: Path, key: str) -> None:
    depth = project.MAX_JSON_DEPTH + 8  # well under Python's recursion limit: json.loads alone would accept it
    path = with_json(tmp_path, {key: json.loads("[" * depth + "]" * depth)})
    expect(path, f"project.json nests {depth + 1} levels deep \\(at most {project.MAX_JSON_DEPTH}\\)")


def test_nesting_far_beyond_the_recursion_limit_is_a_project_error(tmp_path: Path) -> None:
    members = members_of(rigged(), tmp_path)
    members["project.json"] = members["project.json"][:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    expect(zip_of(tmp_path / "deep.studio", members), "project.json nests 100001 levels deep")


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    doc = rigged()
    doc.source = '/tmp/[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{.png'
    assert open_project(save_project(doc, tmp_path / "brackets.studio")).source == doc.source


def test_a_drawing_over_the_shared_pixel_cap_is_refused_before_its_images_are_decoded(tmp_path: Path) -> None:
    side = int(MAX_PIXELS ** 0.5) + 100  # paper.png's header must then match it: nothing over the cap decodes
    expect(with_json(tmp_path, {"size": [side, side]}), f"the drawing is {side}x{side} px, more than {MAX_PIXELS}")


def test_a_byte_missing_before_the_zip_directory_is_a_project_error(tmp_path: Path) -> None:
    data = save_project(rigged(), tmp_path / "good.studio").read_bytes()
    path = tmp_path / "shifted.studio"
    path.write_bytes(data[:1] + data[2:])  # every offset in the directory now points one byte too far
    expect(path, "the project file is damaged")


@pytest.mark.parametrize("change", [{"version": 10 ** 1000}, {"size": [10 ** 1000, 1]},
                                    {"preview": {"size": 10 ** 1000}}, {"export": {"frames": 10 ** 1000}}])
def test_a_huge_number_is_quoted_as_an_excerpt(tmp_path: Path, change: dict[str, object]) -> None:
    path = with_json(tmp_path, change)
    with pytest.raises(ProjectError) as info:
        open_project(path)
    assert len(str(info.value)) < 300 + len(str(path))


def test_a_project_too_large_to_open_again_is_not_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project, "MAX_JSON", 100)
    doc = rigged()
    with pytest.raises(ProjectError, match="cannot save: the drawing's data takes .* MB, more than"):
        save_project(doc, tmp_path / "big.studio")
    assert not (tmp_path / "big.studio").exists() and doc.dirty


def test_unknown_members_and_keys_are_ignored(tmp_path: Path) -> None:
    doc = rigged()
    members = members_of(doc, tmp_path)
    data = json.loads(members["project.json"])
    data["future"] = {"anything": 1}
    members["project.json"] = json.dumps(data).encode()
    members["thumbnail.png"] = b"whatever"
    members["../../escape.txt"] = b"never extracted"
    assert_same(doc, open_project(zip_of(tmp_path / "extra.studio", members)))
    assert not (tmp_path.parent / "escape.txt").exists()


def test_project_error_is_a_value_error() -> None:
    assert issubclass(ProjectError, ValueError)


# ---------------------------------------------------------------------------------------------- recovery
CHILD = """
import sys, time
from tests.test_project import rigged
from studio.core.recovery import Autosaver
Autosaver(sys.argv[1]).save(rigged(), project="/somewhere/figure.studio")
print("saved", flush=True)
time.sleep(60)
"""


def test_recovery_dir_comes_from_the_argument_then_the_environment(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_RECOVERY_DIR", str(tmp_path / "env"))
    assert Autosaver().recovery_dir == tmp_path / "env"
    assert Autosaver(tmp_path / "arg").recovery_dir == tmp_path / "arg"
    monkeypatch.delenv("STUDIO_RECOVERY_DIR")
    assert recovery.default_recovery_dir().parts[-2:] == ("drawing-studio", "recovery")


def test_autosave_and_discard(tmp_path: Path) -> None:
    saver = Autosaver(tmp_path)
    doc = rigged()
    path = saver.save(doc)
    assert path.name == f"autosave-{os.getpid()}.studio" and doc.dirty
    info = json.loads(saver.sidecar.read_text())
    assert info["pid"] == os.getpid() and info["project"] is None and info["source"] == doc.source
    assert find_recoverable(tmp_path) == []  # our own, live autosave
    saver.discard()
    assert list(tmp_path.iterdir()) == []
    saver.discard()  # idempotent


def test_a_killed_process_leaves_a_recoverable_autosave(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "saved"
        assert (tmp_path / f"autosave-{child.pid}.studio").is_file()
        assert find_recoverable(tmp_path) == []  # still running: not offered
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    (found,) = find_recoverable(tmp_path)
    assert found.pid == child.pid and found.error is None
    assert found.project == "/somewhere/figure.studio" and found.what == "figure.studio"
    doc = found.open()
    assert_same(rigged(), doc)
    assert doc.dirty  # recovered work is not saved anywhere yet
    found.discard()
    assert find_recoverable(tmp_path) == [] and list(tmp_path.iterdir()) == []


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


def plant(folder: Path, pid: int, when: float, doc: Document | None = None) -> Path:
    path = save_project(doc or rigged(), folder / f"autosave-{pid}.studio", mark_saved=False)
    path.with_suffix(".json").write_text(json.dumps({"pid": pid, "time": when, "project": None, "source": ""}))
    return path


def test_recoveries_are_newest_first_and_damaged_ones_are_listed_with_an_error(tmp_path: Path) -> None:
    old, new, broken = dead_pid(), dead_pid(), dead_pid()
    plant(tmp_path, old, 100.0)
    plant(tmp_path, new, 300.0, Document.blank(64, 64))
    damaged = plant(tmp_path, broken, 200.0)
    damaged.write_bytes(damaged.read_bytes()[:100])
    (tmp_path / f"autosave-{os.getppid()}.studio").write_bytes(b"a live process's autosave")
    (tmp_path / "notes.txt").write_text("not an autosave")
    found = find_recoverable(tmp_path)
    assert [r.pid for r in found] == [new, broken, old]
    assert [r.error is None for r in found] == [True, False, True]
    assert found[1].error is not None and "truncated or damaged" in found[1].error
    with pytest.raises(ProjectError):
        found[1].open()
    found[1].discard()
    assert [r.pid for r in find_recoverable(tmp_path)] == [new, old]


def test_a_missing_sidecar_falls_back_to_the_file_time(tmp_path: Path) -> None:
    pid = dead_pid()
    plant(tmp_path, pid, 5.0).with_suffix(".json").write_text("{damaged")
    (found,) = find_recoverable(tmp_path)
    assert found.pid == pid and found.time > 5.0 and found.error is None and found.what == "an untitled drawing"


def test_leftover_temp_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    pid = dead_pid()
    leftover = tmp_path / f".autosave-{pid}.studio.abc123.tmp"
    leftover.write_bytes(b"half written")
    live = tmp_path / f".autosave-{os.getpid()}.studio.abc123.tmp"
    live.write_bytes(b"being written")
    assert find_recoverable(tmp_path) == []
    assert not leftover.exists() and live.exists()


def test_an_earlier_process_with_our_pid_is_offered_and_kept(tmp_path: Path) -> None:
    """pid namespaces (containers, Flatpak) reuse pids across restarts: the old autosave must survive."""
    left = plant(tmp_path, os.getpid(), 50.0)
    (found,) = find_recoverable(tmp_path)
    assert found.path == left
    saver = Autosaver(tmp_path)
    saver.save(Document.blank(64, 64))  # must not overwrite the earlier process's work
    (kept,) = find_recoverable(tmp_path)
    assert kept.path != saver.path and kept.pid == os.getpid()
    assert_same(rigged(), kept.open())
    saver.discard()
    kept.discard()
    assert list(tmp_path.iterdir()) == []


def test_no_recovery_folder_means_nothing_to_recover(tmp_path: Path) -> None:
    assert find_recoverable(tmp_path / "absent") == []


@pytest.mark.parametrize("change, message", [
    (lambda d: d["preview"].update(size=200000), "preview size must be 16..4096"),
    (lambda d: d["export"].update(frames=10**12), "export frame count must be 1..20000"),
    (lambda d: d["skeleton"].update(parents=[-1, 2, 1]), "loop"),
    (lambda d: d["skeleton"].update(parents=[-1, -1, 0]), "exactly one root"),
])
def test_out_of_range_settings_and_broken_skeletons_are_refused(tmp_path: Path, change: Any, message: str) -> None:
    path = tmp_path / "p.studio"
    save_project(rigged(), path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["project.json"])
    change(data)
    members["project.json"] = json.dumps(data).encode()
    bad = zip_of(tmp_path / "bad.studio", members)
    with pytest.raises(ProjectError, match=message):
        open_project(bad)


def test_a_stroke_with_true_for_a_number_is_refused() -> None:
    from studio.pipeline.intake.strokes import Stroke

    good = {"points": [[1, 2], [3, 4]], "colour": [0, 0, 0], "width": 3, "opacity": 1.0}
    assert Stroke.from_dict(good).points == ((1.0, 2.0), (3.0, 4.0))
    for bad in ({**good, "points": [[True, 2]]}, {**good, "width": True}, {**good, "colour": [0, False, 0]}):
        with pytest.raises(ValueError, match="true/false"):
            Stroke.from_dict(bad)


@pytest.mark.parametrize("point", [[1e300, 5], [5, -1e300], [1_000_001, 0], [0, -1e7]])
def test_a_stroke_point_beyond_the_coordinate_bound_is_refused(tmp_path: Path, point: list[float]) -> None:
    """Points of ±1e300 were accepted and then cast to cv2's integers with a numpy warning."""
    from studio.pipeline.intake.strokes import MAX_COORDINATE, Stroke

    good = {"points": [[1, 2], [3, 4]], "colour": [0, 0, 0], "width": 3, "opacity": 1.0}
    edge = Stroke.from_dict({**good, "points": [[MAX_COORDINATE, -MAX_COORDINATE], [1, 2]]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_strokes([edge], 8, 8)  # the bound itself still draws, without a warning
    bad = {**good, "points": [[1, 2], point]}
    with pytest.raises(ValueError, match=rf"^a stroke's points must lie within {MAX_COORDINATE} px of the paper's "
                                         rf"corner \(cv2 draws at 1/16 px in 32-bit integers\), got \("):
        Stroke.from_dict(bad)
    expect(with_json(tmp_path, {"strokes": [bad]}), f"bad stroke: a stroke's points must lie within {MAX_COORDINATE}")


@pytest.mark.parametrize("kind", ["webm", "apng", "sheet", "sheet-packed"])
def test_every_export_format_the_panel_offers_saves_and_reopens(tmp_path: Path, kind: str) -> None:
    doc = rigged()
    doc.set_export(kind=kind, background="transparent", size=128, frames=None)
    save_project(doc, tmp_path / "p.studio")
    assert open_project(tmp_path / "p.studio").export.kind == kind
