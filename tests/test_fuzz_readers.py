"""Fuzzing the file readers (BVH, YAML, character folder, image, project, .mar): mutated real-shaped files and
structured attacks (deep nesting, aliases, huge headers, bombs) are either read or refused with the reader's own
error, as one short line, in bounded memory.

The readers run in a memory-capped worker process (tests/fuzz_harness.py says how). Hypothesis runs derandomized,
without a database and without shrinking, so CI sees the same examples every time; each attack table is run whole.
"""

from __future__ import annotations

import json
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from fuzz_harness import Worker, members_of, mutated, png_bomb, png_chunks, png_of, rezipped, zip_bomb, zipped
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow  # fuzzing: mutated and hostile files, read in a memory-capped worker

FUZZ = settings(max_examples=100, deadline=timedelta(seconds=20), derandomize=True, database=None,
                phases=(Phase.explicit, Phase.generate), print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    handle = Worker()
    yield handle
    handle.stop()


# --- BVH --------------------------------------------------------------------------------------------------------

BVH_SEED = ("HIERARCHY\nROOT Hips\n{\n\tOFFSET 0 0 0\n\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
            "Yrotation\n\tJOINT Head\n\t{\n\t\tOFFSET 0 10 0\n\t\tCHANNELS 3 Zrotation Xrotation Yrotation\n"
            "\t\tEnd Site\n\t\t{\n\t\t\tOFFSET 0 2 0\n\t\t}\n\t}\n}\nMOTION\nFrames: 3\nFrame Time: 0.0333333\n"
            + "0 90 0 10 20 30 1 2 3\n" * 3).encode()


def deep_bvh(levels: int) -> bytes:
    opening = "".join(f"JOINT J{k}\n{{\nOFFSET 0 1 0\nCHANNELS 1 Zrotation\n" for k in range(1, levels))
    return (f"HIERARCHY\nROOT J0\n{{\nOFFSET 0 0 0\nCHANNELS 1 Zrotation\n{opening}" + "}\n" * levels
            + f"MOTION\nFrames: 1\nFrame Time: 0.1\n{' '.join(['0'] * levels)}\n").encode()


def bvh_frames(header: str, lines: int, row: str = "0 0 0 0 0 0 0 0 0") -> bytes:
    head = BVH_SEED.split(b"Frames:")[0].decode()
    return f"{head}Frames: {header}\nFrame Time: 0.0333333\n{(row + chr(10)) * lines}".encode()


BVH_ATTACKS = {
    "100,000 nested joints": lambda: deep_bvh(100_000),
    "150 nested joints": lambda: deep_bvh(150),
    "Frames: 10^12": lambda: bvh_frames(str(10**12), 1),
    "Frames: 5000 digits": lambda: bvh_frames("9" * 5000, 1),
    "Frames: 2, 200,000 lines": lambda: bvh_frames("2", 200_000),
    "a 1e300 root position": lambda: bvh_frames("1", 1, "0 1e300 0 0 0 0 0 0 0"),
    "one 5 MB frame line": lambda: bvh_frames("1", 1, "0 " * 2_500_000),
    "65 MB of HIERARCHY": lambda: b"HIERARCHY\n" + b"{ " * (2**25),
}


@FUZZ
@given(data=st.one_of(mutated(BVH_SEED), st.builds(deep_bvh, st.integers(1, 300)),
                      st.builds(bvh_frames, st.integers(0, 10**15).map(str), st.integers(0, 50))))
def test_bvh_reader_fuzzed(worker: Worker, data: bytes) -> None:
    worker.check("bvh", {"clip.bvh": data})


@pytest.mark.parametrize("attack", sorted(BVH_ATTACKS))
def test_bvh_reader_attacked(worker: Worker, attack: str) -> None:
    worker.check("bvh", {"clip.bvh": BVH_ATTACKS[attack]()})


# --- YAML and the character folder ----------------------------------------------------------------------------------

CHAR_CFG = b"""width: 16
height: 12
skeleton:
- {loc: [8, 6], name: root, parent: null}
- {loc: [8, 6], name: hip, parent: root}
- loc: [8, 2]
  name: torso
  parent: hip
- {loc: !!python/tuple [4, 10], name: left_foot, parent: hip}
"""


def laughs(levels: int, width: int = 10) -> bytes:
    rows = ["a0: &a0 [lol]"] + [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * width)}]" for k in range(1, levels + 1)]
    return ("\n".join(rows) + "\n").encode()


YAML_ATTACKS = {
    "billion laughs": lambda: laughs(9),
    "100,000 nested lists": lambda: b"[" * 100_000 + b"]" * 100_000,
    "20,000 nested mappings": lambda: b"{a: " * 20_000 + b"1" + b"}" * 20_000,
    "a 10,000-digit integer": lambda: b"width: " + b"7" * 10_000 + b"\n",
    "2 MB of one scalar": lambda: b"skeleton: " + b"x" * 2**21 + b"\n",
    "not UTF-8": lambda: b"\xff\xfe\x00w\x00i\x00d",
}


@lru_cache(maxsize=None)
def png(width: int, height: int, channels: int = 3) -> bytes:
    import cv2
    import numpy as np

    image = np.zeros((height, width, channels), np.uint8) if channels > 1 else np.zeros((height, width), np.uint8)
    image[height // 4:height * 3 // 4, width // 4:width * 3 // 4] = 255
    return bytes(cv2.imencode(".png", image)[1])


def character_files(cfg: bytes) -> dict[str, bytes]:
    return {"char/char_cfg.yaml": cfg, "char/texture.png": png(16, 12, 4), "char/mask.png": png(16, 12, 1)}


@FUZZ
@given(data=st.one_of(mutated(CHAR_CFG), st.builds(laughs, st.integers(1, 12), st.integers(1, 12))))
def test_yaml_reader_fuzzed(worker: Worker, data: bytes) -> None:
    worker.check("yaml", {"config.yaml": data})


@pytest.mark.parametrize("attack", sorted(YAML_ATTACKS))
def test_yaml_reader_attacked(worker: Worker, attack: str) -> None:
    worker.check("yaml", {"config.yaml": YAML_ATTACKS[attack]()})


def test_yaml_tags_run_no_code(worker: Worker, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    worker.check("yaml", {"config.yaml": f"width: !!python/object/apply:os.system ['touch {marker}']\n".encode()})
    assert not marker.exists()


@FUZZ
@given(data=mutated(CHAR_CFG))
def test_character_reader_fuzzed(worker: Worker, data: bytes) -> None:
    worker.check("character", character_files(data))


@pytest.mark.parametrize("attack", sorted(YAML_ATTACKS))
def test_character_reader_attacked(worker: Worker, attack: str) -> None:
    worker.check("character", character_files(YAML_ATTACKS[attack]()))


# --- images -------------------------------------------------------------------------------------------------------


@st.composite
def png_mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with one chunk's payload mutated, or its IHDR's size, depth or colour type changed."""
    chunks = png_chunks(seed)
    if draw(st.booleans()):
        width, height = draw(st.sampled_from([0, 1, 7, 2**16, 2**31 - 1])), draw(st.sampled_from([0, 1, 9, 2**16]))
        depth, colour = draw(st.sampled_from([1, 8, 16, 3])), draw(st.sampled_from([0, 2, 3, 4, 6, 5]))
        chunks[0] = (b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    else:
        k = draw(st.integers(0, len(chunks) - 1))
        chunks[k] = (chunks[k][0], draw(mutated(chunks[k][1])))
    return png_of(chunks)


IMAGE_ATTACKS = {
    "100,000 x 100,000 px header": lambda: png_bomb(100_000, 100_000),
    "2^31 px wide": lambda: png_bomb(2**31 - 1, 1),
    "0 x 0 px": lambda: png_bomb(0, 0),
    "8,900 x 8,900 px of black (under the pixel cap)": lambda: png_bomb(8_900, 8_900),
    "8,000 x 8,000 px of 16-bit black (under the pixel cap)": lambda: png_bomb(8_000, 8_000, 16, 0),
    "a PNG signature alone": lambda: b"\x89PNG\r\n\x1a\n",
    "empty": lambda: b"",
}


@lru_cache(maxsize=None)
def image_seeds() -> list[bytes]:
    import cv2
    import numpy as np

    grey16 = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000)
    return [png(8, 6), png(8, 6, 4), bytes(cv2.imencode(".png", grey16)[1]),
            bytes(cv2.imencode(".jpg", np.full((6, 8, 3), 90, np.uint8))[1])]


@FUZZ
@given(data=st.data())
def test_image_reader_fuzzed(worker: Worker, data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(image_seeds()))
    image = data.draw(png_mutated(seed) if seed.startswith(b"\x89PNG") and data.draw(st.booleans()) else mutated(seed))
    worker.check("image", {"image.png": image})


@pytest.mark.parametrize("attack", sorted(IMAGE_ATTACKS))
def test_image_reader_attacked(worker: Worker, attack: str) -> None:
    worker.check("image", {"image.png": IMAGE_ATTACKS[attack]()})


# --- project files ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def project_seed() -> bytes:
    """A 24 x 16 project with strokes, a box, a mask, a skeleton and settings, as save_project writes it but for
    the members' dates (fixed, so that the examples are the same on every run)."""
    import numpy as np

    from studio.core.document import Document, Skeleton
    from studio.pipeline.intake.strokes import Stroke
    from studio.core.project import save_project

    doc = Document.blank(24, 16)
    doc.strokes = [Stroke(((1.0, 2.0), (20.5, 10.25)), (255, 0, 0), 3.0), Stroke(((5.0, 5.0),), (0, 0, 0), 2.5, 0.5)]
    mask = np.zeros((16, 24), np.uint8)
    mask[2:14, 4:20] = 255
    joints = np.array([[12.0, 3.0], [12.0, 8.0], [10.0, 14.0]])
    doc.set_annotation((2.0, 1.0, 22.0, 15.0), mask, Skeleton(("root", "hip", "foot"), (-1, 0, 1), joints), joints,
                frozenset({"foot"}))
    doc.set_export(kind="gif", background="#102030", size=128, frames=24)
    with tempfile.TemporaryDirectory() as folder:
        return zipped(members_of(save_project(doc, Path(folder) / "seed.studio").read_bytes()))


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@st.composite
def manifest_mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with one value anywhere in project.json replaced by any JSON value, written again."""
    members = members_of(seed)
    manifest = json.loads(members["project.json"])
    places: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        for key in (node if isinstance(node, dict) else range(len(node))):
            places.append((node, key))
            if isinstance(node[key], (dict, list)):
                walk(node[key])

    walk(manifest)
    node, key = draw(st.sampled_from(places))
    node[key] = draw(JSON_VALUES)
    members["project.json"] = json.dumps(manifest).encode()
    return zipped(members)


def project_with(manifest: bytes) -> bytes:
    return zipped({**members_of(project_seed()), "project.json": manifest})


PROJECT_ATTACKS = {
    "project.json nested 100,000 deep": lambda: project_with(b"[" * 100_000 + b"]" * 100_000),
    "project.json of 20 MB": lambda: project_with(b'{"format": "' + b"x" * 20 * 2**20 + b'"}'),
    "a 1,000-digit version": lambda: project_with(b'{"format": "drawing-studio-project", "version": ' + b"9" * 1000
                                                  + b"}"),
    "paper.png inflating to 300 MB": lambda: zip_bomb("paper.png", 300 * 2**20),
    "project.json inflating to 300 MB, headers saying 1 KB": lambda: zip_bomb("project.json", 300 * 2**20, lie=True),
    "paper.png a 100,000 px square": lambda: zipped({**members_of(project_seed()),
                                                     "paper.png": png_bomb(100_000, 100_000)}),
    "not a zip": lambda: b"PK\x03\x04" + bytes(100),
}


@FUZZ
@given(data=st.data())
def test_project_reader_fuzzed(worker: Worker, data: st.DataObject) -> None:
    seed = project_seed()
    project = data.draw(st.one_of(mutated(seed), rezipped(seed), manifest_mutated(seed)))
    worker.check("project", {"drawing.studio": project})


@pytest.mark.parametrize("attack", sorted(PROJECT_ATTACKS))
def test_project_reader_attacked(worker: Worker, attack: str) -> None:
    worker.check("project", {"drawing.studio": PROJECT_ATTACKS[attack]()})


# --- TorchServe .mar archives ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mar_seed(worker: Worker) -> bytes:
    """A .mar as TorchServe packs one: a manifest, a config and a tiny checkpoint (saved by the worker's torch)."""
    return zipped({"MAR-INF/MANIFEST.json": b'{"model": {"modelName": "pose"}}', "config.py": b"x = 1",
                   "best_AP_epoch_72.pth": worker.ask(("pth",))}, zipfile.ZIP_STORED)


MAR_ATTACKS = {
    "checkpoint inflating to 300 MB": lambda: zip_bomb("model.pth", 300 * 2**20),
    "checkpoint inflating to 300 MB, headers saying 1 KB": lambda: zip_bomb("model.pth", 300 * 2**20, lie=True),
    "10,000 entries": lambda: zipped({f"f{k}": b"" for k in range(10_000)} | {"model.pth": b"x"}),
    "a path out of the folder": lambda: zipped({"../../model.pth": b"x"}),
    "a checkpoint that is a zip bomb itself": lambda: zipped({"model.pth": zip_bomb("data.pkl", 300 * 2**20)},
                                                             zipfile.ZIP_STORED),
}


@FUZZ
@given(data=st.data())
def test_mar_reader_fuzzed(worker: Worker, mar_seed: bytes, data: st.DataObject) -> None:
    worker.check("mar", {"pose.mar": data.draw(st.one_of(mutated(mar_seed), rezipped(mar_seed)))})


@pytest.mark.parametrize("attack", sorted(MAR_ATTACKS))
def test_mar_reader_attacked(worker: Worker, attack: str) -> None:
    worker.check("mar", {"pose.mar": MAR_ATTACKS[attack]()})

