"""``studio render`` to game-ready outputs on the built-in sample: --sheet [--packed], .webm and .apng end to end, and
the combinations it refuses with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli.main import main
from studio.core.sample import sample_character_files

pytestmark = pytest.mark.slow  # end to end: real exports through the CLI

SHORT = ["-m", "jump", "-n", "6", "-s", "72"]  # a few small frames keep it quick


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_character_files(tmp_path_factory.mktemp("sample") / "boy")


def _render(*args: str) -> int:
    return main(["render", "sample", *SHORT, *args])


@pytest.mark.parametrize("packed", [False, True])
def test_render_a_sprite_sheet_and_its_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], packed: bool) -> None:
    out = tmp_path / "jump.png"
    assert _render("-o", str(out), "--sheet", *(["--packed"] if packed else [])) == 0
    assert f"wrote {out} and {tmp_path / 'jump.json'} (6 frames" in capsys.readouterr().out
    data = json.loads((tmp_path / "jump.json").read_text())
    with Image.open(out) as im:
        sheet = np.array(im)
        assert im.mode == "RGBA" and im.size == (data["meta"]["size"]["w"], data["meta"]["size"]["h"])
    assert data["meta"]["image"] == "jump.png"
    assert data["meta"]["frameTags"] == [{"name": "jump", "from": 0, "to": 5, "direction": "forward"}]
    entries = list(data["frames"].values())
    assert len(entries) == 6 and all(e["trimmed"] is packed for e in entries)
    assert sum(e["duration"] for e in entries) == round(67 / 30 * 1000)  # the clip's 67 frames at 30 fps
    for e in entries:  # every rectangle holds part of the figure, and the sheet is transparent around it
        r = e["frame"]
        assert sheet[r["y"]:r["y"] + r["h"], r["x"]:r["x"] + r["w"], 3].any()
    assert (sheet[:, :, 3] == 0).any()


def test_render_webm_and_apng(tmp_path: Path) -> None:
    assert _render("-o", str(tmp_path / "j.webm")) == 0
    assert (tmp_path / "j.webm").read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # Matroska/WebM
    assert _render("-o", str(tmp_path / "j.apng"), "-b", "#336699") == 0
    with Image.open(tmp_path / "j.apng") as im:
        assert im.n_frames == 6 and im.size == (72, 72)
        assert im.convert("RGBA").getpixel((0, 0)) == (0x33, 0x66, 0x99, 255)  # on the colour asked for


@pytest.mark.parametrize("args, message", [
    (["-o", "{t}/a.gif", "--sheet"], "--sheet writes a PNG sprite sheet and its JSON: give a name ending in .png, "
                                     "not '.gif'"),
    (["-o", "{t}/a.png", "--packed"], "--packed packs a sprite sheet: add --sheet"),
    (["-o", "{t}/a.png"], "a .png output is a sprite sheet: add --sheet"),
    (["-o", "{t}/a.avi"], "unknown output type '.avi': use .gif, .mp4, .webm, .apng, .png with --sheet"),
    (["-o", "{t}/a.png", "--sheet", "--dump-rig", "{t}/a.json"], "is where the sprite sheet's JSON goes"),
    (["-o", "{t}/d.png", "--sheet"], "a sprite sheet's JSON goes there"),
])
def test_bad_combinations_are_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                             message: str) -> None:
    (tmp_path / "d.json").mkdir()
    assert _render(*[a.format(t=tmp_path) for a in args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"]  # nothing written


def test_a_sheet_never_replaces_a_file_of_the_character_folder(sample_dir: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    texture = (sample_dir / "texture.png").read_bytes()
    assert main(["render", str(sample_dir), *SHORT, "-o", str(sample_dir / "texture.png"), "--sheet"]) == 1
    assert "is a file of a character folder" in capsys.readouterr().err
    assert (sample_dir / "texture.png").read_bytes() == texture
    assert main(["render", str(sample_dir), *SHORT, "-o", str(sample_dir / "jump_sheet.png"), "--sheet"]) == 0
    (sample_dir / "jump_sheet.png").unlink()
    (sample_dir / "jump_sheet.json").unlink()


def test_several_motions_go_into_one_sheet_one_tag_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "boy.png"
    assert main(["render", "sample", "-m", "idle", "-m", "wave", "-m", "jump", "-n", "4", "-s", "48", "-o", str(out),
                 "--sheet", "--packed"]) == 0
    assert "(12 frames, 3 motions, 48x48)" in capsys.readouterr().out
    data = json.loads(out.with_suffix(".json").read_text())
    tags = data["meta"]["frameTags"]
    assert [(t["name"], t["from"], t["to"]) for t in tags] == [("idle", 0, 3), ("wave", 4, 7), ("jump", 8, 11)]
    names = list(data["frames"])
    assert names[4:6] == ["wave_0000", "wave_0001"] and len(names) == 12
    durations = [e["duration"] for e in data["frames"].values()]
    assert sum(durations[4:8]) == round(61 / 30 * 1000) and sum(durations[8:]) == round(67 / 30 * 1000)
    assert main(["render", "sample", "-m", "idle", "-m", "wave", "-o", str(tmp_path / "two.gif")]) == 1
    assert "several motions go into one sprite sheet only" in capsys.readouterr().err
    assert main(["render", "sample", "-m", "idle", "-m", "wave", "-o", str(tmp_path / "two.png"), "--sheet",
                 "--dump-rig", str(tmp_path / "rig.json")]) == 1
    assert "--dump-rig writes the rig of one motion" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boy.json", "boy.png"]
