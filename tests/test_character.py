"""Character folders: AD's format read and written, any joint count, specific validation errors."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
import yaml

from studio.pipeline.character import CharacterError, read_character, write_character


def make_folder(folder: Path, skeleton: list[dict] | None = None, size: tuple[int, int] = (40, 30),
                mask_size: tuple[int, int] | None = None) -> Path:
    w, h = size
    folder.mkdir(parents=True, exist_ok=True)
    texture = np.zeros((h, w, 4), np.uint8)
    texture[:, :, 1] = 200
    mw, mh = mask_size or size
    mask = np.zeros((mh, mw), np.uint8)
    mask[5:25, 10:30] = 255
    cv2.imwrite(str(folder / "texture.png"), texture)
    cv2.imwrite(str(folder / "mask.png"), mask)
    skeleton = skeleton if skeleton is not None else [
        {"name": "root", "parent": None, "loc": [20, 15]},
        {"name": "torso", "parent": "root", "loc": [20, 8]},
        {"name": "hand", "parent": "torso", "loc": [28, 8]},
    ]
    (folder / "char_cfg.yaml").write_text(yaml.safe_dump({"width": w, "height": h, "skeleton": skeleton}))
    return folder


def test_round_trip(tmp_path: Path) -> None:
    character = read_character(make_folder(tmp_path / "a"))
    assert character.names == ("root", "torso", "hand") and character.parents == (-1, 0, 1)
    assert character.texture.shape == (30, 40, 4)
    # Alpha is the mask: outside the figure the texture is transparent.
    assert (character.texture[:, :, 3] == character.mask).all()
    out = write_character(character, tmp_path / "b")
    again = read_character(out)
    assert again.names == character.names
    np.testing.assert_array_equal(again.rest, character.rest)
    np.testing.assert_array_equal(again.texture, character.texture)
    assert not list(out.glob(".*.tmp"))


def test_children_listed_before_parents_are_reordered(tmp_path: Path) -> None:
    skeleton = [{"name": "hand", "parent": "torso", "loc": [28, 8]},
                {"name": "root", "parent": None, "loc": [20, 15]},
                {"name": "torso", "parent": "root", "loc": [20, 8]}]
    character = read_character(make_folder(tmp_path, skeleton))
    assert all(p < j for j, p in enumerate(character.parents))
    assert character.names[character.parents[character.index("hand")]] == "torso"


@pytest.mark.parametrize("problem, match", [
    ("missing_mask", "missing mask"),
    ("missing_cfg", "missing char_cfg.yaml"),
    ("mask_size", "mask is 20×30 but texture is 40×30"),
    ("unknown_parent", "unknown parent 'spine'"),
    ("outside", "outside the 40×30 image"),
    ("two_roots", "exactly one root"),
    ("corrupt_texture", "texture.png: the image is damaged"),
    ("bad_yaml", "malformed YAML"),
    ("duplicate", "listed twice"),
])
def test_specific_errors(tmp_path: Path, problem: str, match: str) -> None:
    skeleton = None
    if problem == "unknown_parent":
        skeleton = [{"name": "root", "parent": None, "loc": [1, 1]}, {"name": "arm", "parent": "spine", "loc": [2, 2]}]
    if problem == "outside":
        skeleton = [{"name": "root", "parent": None, "loc": [1, 1]}, {"name": "arm", "parent": "root", "loc": [45, 2]}]
    if problem == "two_roots":
        skeleton = [{"name": "a", "parent": None, "loc": [1, 1]}, {"name": "b", "parent": None, "loc": [2, 2]}]
    if problem == "duplicate":
        skeleton = [{"name": "a", "parent": None, "loc": [1, 1]}, {"name": "a", "parent": "a", "loc": [2, 2]}]
    folder = make_folder(tmp_path / "c", skeleton, mask_size=(20, 30) if problem == "mask_size" else None)
    if problem == "missing_mask":
        (folder / "mask.png").unlink()
    if problem == "missing_cfg":
        (folder / "char_cfg.yaml").unlink()
    if problem == "corrupt_texture":
        (folder / "texture.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    if problem == "bad_yaml":
        (folder / "char_cfg.yaml").write_text("skeleton: [ {name: root,\n")
    with pytest.raises(CharacterError, match=match):
        read_character(folder)


def _finishes(call: Callable[[], object], fifo: Path | None = None) -> BaseException | None:
    """Run ``call`` on a thread and return what it raised; fail (after unblocking it) if it hangs on ``fifo``."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive() and fifo is not None:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer comes and goes: the blocked open returns
        thread.join(10)
        pytest.fail(f"reading the character opened the FIFO {fifo.name} and waited for a writer")
    assert outcome, "reading the character did not finish"
    return outcome[0]


@pytest.mark.parametrize("name", ["char_cfg.yaml", "texture.png", "mask.png"])
@pytest.mark.parametrize("kind", ["folder", "fifo", "device"])
def test_a_folder_pipe_or_device_in_place_of_a_file_is_named_not_missing(tmp_path: Path, name: str,
                                                                          kind: str) -> None:
    folder = make_folder(tmp_path / "c")
    path = folder / name
    path.unlink()
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this system")
        os.mkfifo(path)
    else:
        if not Path(os.devnull).exists() or not hasattr(os, "symlink"):
            pytest.skip("no character device to link to")
        path.symlink_to(os.devnull)
    error = _finishes(lambda: read_character(folder), path if kind == "fifo" else None)
    assert isinstance(error, CharacterError)
    expected = "is a folder, not a file" if kind == "folder" else "is not a regular file (a pipe or a device?)"
    assert str(error) == f"{path}: {expected}"


@pytest.mark.parametrize("name, joints", [("char2", 16), ("char5", 28), ("char6", 16)])
def test_real_characters_load(shared: Path, name: str, joints: int) -> None:
    character = read_character(shared / "characters" / name)
    assert len(character.names) == joints
    assert character.mask.shape == character.texture.shape[:2]
    if name == "char6":
        assert any(n.endswith("_f") for n in character.names) and any(n.endswith("_b") for n in character.names)
        assert character.bounding_box == (226, 277, 790, 629)


# ------------------------------------------------------------------------ bounded reading, issue 13
def test_character_message_quotes_an_excerpt_of_a_huge_loc(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "c")
    anchor = "[" + ", ".join(["1"] * 5000) + "]"
    (folder / "char_cfg.yaml").write_text(f"width: 40\nheight: 30\nskeleton:\n- {{name: root, parent: null, "
                                          f"loc: {anchor}}}\n")
    with pytest.raises(CharacterError, match="'root' has loc") as info:
        read_character(folder)
    assert len(str(info.value)) < 300  # an excerpt, not 5000 numbers


@pytest.mark.parametrize("loc", [[True, 3], [3, False]])
def test_a_boolean_joint_coordinate_is_refused(tmp_path: Path, loc: list[object]) -> None:
    folder = make_folder(tmp_path / "c", [{"name": "root", "parent": None, "loc": loc}])
    with pytest.raises(CharacterError, match="'root' has loc .*expected \\[x, y\\] numbers"):
        read_character(folder)


@pytest.mark.parametrize("value", [True, 2.5, "3"])
def test_bounding_box_needs_whole_numbers(tmp_path: Path, value: object) -> None:
    folder = make_folder(tmp_path / "c")
    (folder / "bounding_box.yaml").write_text(yaml.safe_dump({"left": value, "top": 0, "right": 30, "bottom": 20}))
    with pytest.raises(CharacterError, match="expected left, top, right, bottom whole numbers"):
        read_character(folder)


def test_bounding_box_of_whole_numbers_is_read(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "c")
    (folder / "bounding_box.yaml").write_text("left: 1\ntop: 2\nright: 30.0\nbottom: 20\n")
    assert read_character(folder).bounding_box == (1, 2, 30, 20)


@pytest.mark.parametrize("entry, match", [
    ("{name: 0x%s, parent: null, loc: [20, 15]}" % ("f" * 4000), "has no usable name"),  # str() of it raises
    ("{name: root, parent: null, loc: [0x%s, 15]}" % ("f" * 400), "'root' has loc"),  # np.isfinite raised
    ("{name: root, parent: [a, b], loc: [20, 15]}", "'root' has unusable parent \\['a', 'b'\\]"),
])
def test_hostile_skeleton_values_are_character_errors(tmp_path: Path, entry: str, match: str) -> None:
    folder = make_folder(tmp_path / "c")
    (folder / "char_cfg.yaml").write_text(f"width: 40\nheight: 30\nskeleton:\n- {entry}\n")
    with pytest.raises(CharacterError, match=match) as info:
        read_character(folder)
    assert len(str(info.value)) < 300
