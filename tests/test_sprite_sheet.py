"""Sprite sheets: the JSON checked against the image, for grid and packed sheets of rendered frames and of synthetic
ones; trimming, aliasing, packing, durations, tags; and sheets refused or cancelled before anything is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.core.document import ExportSettings
from studio.core.export_jobs import export_all, export_animation_for, export_motion
from studio.core.render import Background
from studio.core.render_job import RenderError, export_animation
from studio.core.sample import sample_character
from studio.pipeline.encode.sprite_sheet import (PACK_PADDING, SHEET_MAX_SIDE, FrameTag, SheetError, check_sheet_size,
                                                 frame_durations_ms, frame_names, trim_rect, write_sprite_sheet)
from studio.pipeline.files.atomic import ExportCancelled


def _read(png: Path) -> tuple[np.ndarray, dict[str, Any]]:
    with Image.open(png) as im:
        assert im.mode == "RGBA"
        sheet = np.array(im)
    return sheet, json.loads(png.with_suffix(".json").read_text())


def _cut(sheet: np.ndarray, entry: dict[str, Any]) -> np.ndarray:
    r = entry["frame"]
    return sheet[r["y"]:r["y"] + r["h"], r["x"]:r["x"] + r["w"]]


def _placed_back(sheet: np.ndarray, entry: dict[str, Any]) -> np.ndarray:
    """The whole frame as an engine rebuilds it: the rectangle's pixels at spriteSourceSize on a clear canvas."""
    size, at = entry["sourceSize"], entry["spriteSourceSize"]
    frame = np.zeros((size["h"], size["w"], 4), np.uint8)
    frame[at["y"]:at["y"] + at["h"], at["x"]:at["x"] + at["w"]] = _cut(sheet, entry)
    return frame


def _moving_squares(n: int, h: int = 30, w: int = 40) -> list[np.ndarray]:
    """RGBA frames: a square moving over a transparent canvas, a half-transparent pixel, the last two equal."""
    frames = []
    for k in range(n):
        f = np.zeros((h, w, 4), np.uint8)
        f[4 + k:14 + k, 3 + 2 * k:9 + 2 * k] = (200, 30 + 20 * k, 40, 255)
        f[h - 1, w - 1] = (10, 20, 30, 77)
        frames.append(f)
    frames.append(frames[-1].copy())
    return frames


@pytest.fixture(scope="module")
def animation() -> Any:
    """The sample dancing, 12 frames at 64²: frames rendered directly are what the sheet must hold."""
    return export_animation_for(sample_character(), "dance", ExportSettings(size=64, frames=12), None)


def _rendered(animation: Any) -> list[np.ndarray]:
    return [animation.render_rgba(k).copy() for k in range(animation.n_frames)]


@pytest.mark.parametrize("packed", [False, True])
def test_a_sheet_of_a_render_holds_every_frame_where_its_json_says(animation: Any, tmp_path: Path,
                                                                    packed: bool) -> None:
    out = tmp_path / "dance.png"
    export_animation(animation, out, Background(), kind="sheet-packed" if packed else "sheet", name="dance")
    sheet, data = _read(out)
    frames = _rendered(animation)
    entries = list(data["frames"].values())
    assert list(data["frames"]) == [f"dance_{k:04d}" for k in range(12)]  # playing order, tag-relative names
    assert len(entries) == len(frames) == 12
    meta = data["meta"]
    assert (meta["size"]["w"], meta["size"]["h"]) == (sheet.shape[1], sheet.shape[0])
    assert meta["image"] == "dance.png" and meta["format"] == "RGBA8888" and meta["scale"] == "1"
    assert meta["frameTags"] == [{"name": "dance", "from": 0, "to": 11, "direction": "forward"}]
    for k, (entry, frame) in enumerate(zip(entries, frames)):
        assert entry["rotated"] is False and entry["sourceSize"] == {"w": 64, "h": 64}
        assert np.array_equal(_placed_back(sheet, entry), frame), k
        if packed:
            assert entry["trimmed"] is True and entry["frame"]["w"] < 64 and entry["frame"]["h"] < 64
            crop = _cut(sheet, entry)
            assert crop[:, :, 3].any(axis=1).all() and crop[:, :, 3].any(axis=0).all(), k  # trimmed to the figure
        else:
            assert entry["trimmed"] is False and entry["spriteSourceSize"] == {"x": 0, "y": 0, "w": 64, "h": 64}
            assert np.array_equal(_cut(sheet, entry), frame), k
    # Durations in whole ms that add up to the clip's length (resampled clips keep their duration).
    durations = [e["duration"] for e in entries]
    assert sum(durations) == round(animation.n_frames * animation.frame_time * 1000)
    assert max(durations) - min(durations) <= 1
    assert sheet[0, 0, 3] == 0 or packed  # transparent where there is no character


def test_the_packed_sheet_is_smaller_than_the_grid(animation: Any, tmp_path: Path) -> None:
    export_animation(animation, tmp_path / "g.png", Background(), kind="sheet")
    export_animation(animation, tmp_path / "p.png", Background(), kind="sheet-packed")
    grid, packed = _read(tmp_path / "g.png")[0], _read(tmp_path / "p.png")[0]
    assert packed.shape[0] * packed.shape[1] < 0.6 * grid.shape[0] * grid.shape[1]
    assert grid.shape[:2] == (3 * 64, 4 * 64)  # 12 frames: 4 × 3 cells


def test_a_sheet_on_a_colour_is_opaque_and_untrimmed(animation: Any, tmp_path: Path) -> None:
    export_animation(animation, tmp_path / "w.png", Background(colour=(255, 255, 255)), kind="sheet-packed")
    sheet, data = _read(tmp_path / "w.png")
    for entry in data["frames"].values():
        assert not entry["trimmed"] and (_cut(sheet, entry)[:, :, 3] == 255).all()


def test_trimmed_frames_go_back_exactly_and_equal_frames_share_one_rectangle(tmp_path: Path) -> None:
    frames = _moving_squares(5)
    sheet_info = write_sprite_sheet(tmp_path / "s.png", frames, [40] * 6, [FrameTag("slide", 0, 5)], packed=True)
    sheet, data = _read(tmp_path / "s.png")
    entries = list(data["frames"].values())
    for k, frame in enumerate(frames):
        assert np.array_equal(_placed_back(sheet, entries[k]), frame), k
    assert entries[4]["frame"] == entries[5]["frame"]  # the repeated frame is stored once
    assert entries[0]["spriteSourceSize"] == {"x": 3, "y": 4, "w": 37, "h": 26}  # up to the corner pixel
    rects = {tuple(e["frame"].values()) for e in entries}
    assert len(rects) == 5
    for a in rects:  # inside the sheet, PACK_PADDING apart
        assert a[0] + a[2] <= sheet.shape[1] and a[1] + a[3] <= sheet.shape[0]
        for b in rects - {a}:
            apart_x = a[0] + a[2] + PACK_PADDING <= b[0] or b[0] + b[2] + PACK_PADDING <= a[0]
            apart_y = a[1] + a[3] + PACK_PADDING <= b[1] or b[1] + b[3] + PACK_PADDING <= a[1]
            assert apart_x or apart_y, (a, b)
    assert sheet_info.size == (sheet.shape[1], sheet.shape[0]) and sheet_info.frame_size == (40, 30)


def test_tags_name_the_frames_of_each_motion(tmp_path: Path) -> None:
    frames = _moving_squares(5)
    tags = [FrameTag("walk", 0, 2), FrameTag("jump", 3, 5)]
    write_sprite_sheet(tmp_path / "t.png", frames, [30, 40, 30, 50, 50, 50], tags)
    sheet, data = _read(tmp_path / "t.png")
    assert list(data["frames"]) == ["walk_0000", "walk_0001", "walk_0002", "jump_0000", "jump_0001", "jump_0002"]
    assert [t["name"] for t in data["meta"]["frameTags"]] == ["walk", "jump"]
    covered = sorted(k for t in data["meta"]["frameTags"] for k in range(t["from"], t["to"] + 1))
    assert covered == list(range(6))
    assert [e["duration"] for e in data["frames"].values()] == [30, 40, 30, 50, 50, 50]
    assert frame_names(3, [FrameTag("a", 1, 1)]) == ["frame_0000", "a_0000", "frame_0002"]


def test_durations_track_the_exact_time() -> None:
    assert frame_durations_ms(6, 1 / 30) == [33, 34, 33, 33, 34, 33]
    assert sum(frame_durations_ms(109, 0.0333333)) == round(109 * 0.0333333 * 1000)
    for n, dt in ((7, 0.0417), (300, 1 / 120), (1, 2.5)):
        d = frame_durations_ms(n, dt)
        ends = np.cumsum(d)
        assert len(d) == n and np.abs(ends - dt * 1000 * np.arange(1, n + 1)).max() <= 0.5 + 1e-9


def test_trim_of_an_empty_frame_is_one_pixel() -> None:
    empty = np.zeros((10, 12, 4), np.uint8)
    assert trim_rect(empty) == trim_rect(empty[:1, :1]) and trim_rect(empty).w == 1 and trim_rect(empty).h == 1
    empty[2, 5, 3] = 1
    assert (trim_rect(empty).x, trim_rect(empty).y, trim_rect(empty).w, trim_rect(empty).h) == (5, 2, 1, 1)


def test_bad_sheets_are_refused_and_write_nothing(tmp_path: Path) -> None:
    frames = _moving_squares(2)
    with pytest.raises(SheetError, match="the first was 40×30"):
        write_sprite_sheet(tmp_path / "a.png", frames + [np.zeros((5, 5, 4), np.uint8)], [10] * 4)
    with pytest.raises(SheetError, match="2 frames for 3 durations"):
        write_sprite_sheet(tmp_path / "a.png", frames[:2], [10] * 3)
    with pytest.raises(SheetError, match="more frames"):
        write_sprite_sheet(tmp_path / "a.png", frames, [10])
    with pytest.raises(SheetError, match="whole milliseconds"):
        write_sprite_sheet(tmp_path / "a.png", frames, [10, 0, 10])
    with pytest.raises(SheetError, match="outside 0..2"):
        write_sprite_sheet(tmp_path / "a.png", frames, [10] * 3, [FrameTag("x", 1, 3)])
    with pytest.raises(SheetError, match="unique"):
        write_sprite_sheet(tmp_path / "a.png", frames, [10] * 3, [FrameTag("x", 0, 0), FrameTag("x", 1, 2)])
    with pytest.raises(SheetError, match="RGBA"):
        write_sprite_sheet(tmp_path / "a.png", [f[:, :, :3] for f in frames], [10] * 3)
    with pytest.raises(SheetError, match=f"more than the {SHEET_MAX_SIDE} px"):
        check_sheet_size(400, 1000, 1000)
    check_sheet_size(256, 1024, 1024)  # 16 × 16 cells: exactly the limit
    with pytest.raises(SheetError, match="more than"):
        check_sheet_size(256, 1024, 1024, packed=True)  # untrimmed frames 2 px apart would not fit
    assert list(tmp_path.iterdir()) == []


def test_a_cancelled_sheet_keeps_the_old_files(tmp_path: Path) -> None:
    old_png, old_json = tmp_path / "c.png", tmp_path / "c.json"
    old_png.write_bytes(b"old sheet")
    old_json.write_text("{}")
    asked = iter(range(100))
    with pytest.raises(ExportCancelled):
        write_sprite_sheet(old_png, _moving_squares(5), [10] * 6, packed=True, cancel=lambda: next(asked) >= 3)
    assert old_png.read_bytes() == b"old sheet" and old_json.read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.png"]


def test_a_sheet_too_large_is_refused_before_any_frame_is_drawn(tmp_path: Path) -> None:
    class Unrenderable:
        """An animation whose frames must not be drawn: the size check comes first."""

        width = height = 4096
        n_frames = 20
        frame_time = 0.04
        deform_times = np.zeros(0)

        def render_rgba(self, k: int, background: Any = None) -> np.ndarray:
            raise AssertionError("a frame was drawn")

    with pytest.raises(RenderError, match="more than the 16384 px"):
        export_animation(Unrenderable(), tmp_path / "big.png", Background(), kind="sheet")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_export_all_as_sheets_writes_a_sheet_and_json_per_motion(tmp_path: Path) -> None:
    results = export_all(sample_character(), ["idle", "wave"], ExportSettings(kind="sheet-packed", size=48, frames=3),
                         tmp_path / "all")
    assert results == {"idle": "idle.png", "wave": "wave.png"}
    for motion in results:
        sheet, data = _read(tmp_path / "all" / f"{motion}.png")
        assert data["meta"]["frameTags"][0]["name"] == motion and len(data["frames"]) == 3
    out = export_motion(sample_character(), "jump", ExportSettings(kind="sheet", size=48, frames=2), tmp_path / "j.png")
    assert _read(out)[1]["meta"]["frameTags"][0]["name"] == "jump"
    with pytest.raises(RenderError, match="needs a name ending in .png"):
        export_motion(sample_character(), "jump", ExportSettings(kind="sheet", size=48, frames=2), tmp_path / "j.sheet")


def test_the_packer_stays_within_the_padded_grid_and_never_overlaps() -> None:
    """Random trimmed sizes, opaque (untrimmed) ones included: the shelf packer's sheet is never larger than the grid
    of cells as large as the largest image plus the padding, the bound the size check relies on."""
    from studio.pipeline.encode.sprite_sheet import _candidate_widths, _shelf_pack, grid_shape

    rng = np.random.default_rng(18)
    for trial in range(200):
        n = int(rng.integers(1, 60))
        sizes = [(int(rng.integers(1, 90)), int(rng.integers(1, 70))) for _ in range(n)]
        if trial % 4 == 0:
            sizes = [(90, 70)] * n  # every frame opaque: nothing trimmed
        columns, rows = grid_shape(n, 90 + PACK_PADDING, 70 + PACK_PADDING)
        fitted = []
        for width in _candidate_widths(sizes):
            rects, height = _shelf_pack(sizes, width)
            assert max(r.x + r.w for r in rects) <= width or len(rects) == 1
            boxes = np.zeros((height + 1, max(r.x + r.w for r in rects) + 1), np.int32)
            for r, (w, h) in zip(rects, sizes):
                assert (r.w, r.h) == (w, h)
                boxes[r.y:r.y + r.h, r.x:r.x + r.w] += 1
            assert boxes.max() == 1
            fitted.append(max(r.x + r.w for r in rects) <= columns * (90 + PACK_PADDING)
                          and height <= rows * (70 + PACK_PADDING))
        assert any(fitted), (trial, sizes)
