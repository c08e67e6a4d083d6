"""GIF frame differencing: later frames send only their changed rectangle, unchanged pixels in it see-through,
and every frame decodes exactly as a full-frame encode of it does."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from studio.pipeline.encode import gif_lzw
from studio.pipeline.encode.gif import GifWriter
from test_gif import _lzw_decode_strict

RNG_SEED = 11


@dataclass(eq=False)
class Block:
    """One image of a GIF as stored: its rectangle, disposal, transparent index, and raw indices (h, w)."""

    left: int
    top: int
    disposal: int
    transparent: int | None
    indices: np.ndarray


def _blocks(path: Path) -> list[Block]:
    """The images of a GIF with a global colour table and no local ones, decoded by the strict LZW reader."""
    data = path.read_bytes()
    flags = data[10]
    pos = 13 + 3 * (2 << (flags & 7)) if flags & 0x80 else 13
    blocks, disposal, transparent = [], 0, None
    while data[pos] != 0x3B:
        if data[pos] == 0x21:
            if data[pos + 1] == 0xF9:
                packed, index = data[pos + 3], data[pos + 6]
                disposal, transparent = (packed >> 2) & 7, index if packed & 1 else None
            pos += 2
            while data[pos]:
                pos += 1 + data[pos]
            pos += 1
            continue
        assert data[pos] == 0x2C
        left, top, w, h, local = struct.unpack("<HHHHB", data[pos + 1: pos + 10])
        assert not local & 0x80
        min_size, start = data[pos + 10], pos + 11
        pos = start
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
        pixels = _lzw_decode_strict(data[start:pos], min_size, w * h)
        blocks.append(Block(left, top, disposal, transparent, np.array(pixels, np.uint8).reshape(h, w)))
        disposal, transparent = 0, None
    return blocks


def _decoded(path: Path) -> list[np.ndarray]:
    """Every frame as Pillow composites it, RGBA, fully transparent pixels zeroed."""
    frames = []
    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            rgba = np.array(frame.convert("RGBA"))
            rgba[rgba[..., 3] == 0] = 0
            frames.append(rgba)
    return frames


def _full_frame(frame: np.ndarray, palette: np.ndarray, transparent: int | None) -> np.ndarray:
    """The frame encoded whole, on its own, by Pillow, and decoded back: what a differenced frame must match."""
    image = Image.frombuffer("P", (frame.shape[1], frame.shape[0]), np.ascontiguousarray(frame), "raw", "P", 0, 1)
    image.putpalette(palette.tobytes())
    buffer = io.BytesIO()
    image.save(buffer, "GIF", **({"transparency": transparent} if transparent is not None else {}))
    buffer.seek(0)
    with Image.open(buffer) as im:
        rgba = np.array(im.convert("RGBA"))
    rgba[rgba[..., 3] == 0] = 0
    return rgba


def _write(path: Path, frames: list[np.ndarray], palette: np.ndarray, transparent: int | None,
           threaded: bool = False) -> Path:
    h, w = frames[0].shape
    with GifWriter(path, w, h, palette, transparent, threaded=threaded) as writer:
        for frame in frames:
            writer.add(frame, 40)
    return path


def _palette() -> np.ndarray:
    palette = np.random.default_rng(RNG_SEED).integers(0, 256, (256, 3)).astype(np.uint8)
    palette[255] = (255, 255, 255)
    return palette


def _scene(n: int, background: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """A textured body that stays still while a noisy arm swings, a foot taps below it and a ball moves away to
    the right, leaving its first place empty; the last frames: the ball gone, then nothing changes."""
    rng = np.random.default_rng(RNG_SEED)
    body = rng.integers(0, 8, (20, 16)).astype(np.uint8) * 3  # a few colours, in runs of texture
    body = np.repeat(body, 2, axis=1)[:, :16]
    frames = []
    for k in range(n):
        f = np.full((h, w), background, np.uint8)
        f[20:40, 10:26] = body
        f[14 + k % 4: 18 + k % 4, 26:40] = rng.integers(30, 60, (4, 14))  # the arm
        f[41:45, 12 + k % 3: 18 + k % 3] = 60  # the foot
        if k < n - 2:
            f[4:12, 4 + 6 * k: 12 + 6 * k] = 100 + k  # the ball
        frames.append(f)
    frames.append(frames[-1].copy())
    return frames


@pytest.mark.parametrize("background", ["transparent", "white"])
@pytest.mark.parametrize("threaded", [False, True])
def test_every_frame_decodes_as_its_full_frame_encode(tmp_path: Path, background: str, threaded: bool) -> None:
    palette = _palette()
    transparent = 255 if background == "transparent" else None
    frames = _scene(9, 255)
    path = _write(tmp_path / "d.gif", frames, palette, transparent, threaded)
    decoded = _decoded(path)
    assert len(decoded) == len(frames)
    for k, (got, frame) in enumerate(zip(decoded, frames)):
        assert np.array_equal(got, _full_frame(frame, palette, transparent)), f"frame {k}"
    if transparent is None:
        assert all(np.all(got[..., 3] == 255) for got in decoded)  # see-through pixels never show through
    else:
        assert np.all(decoded[-1][4:12, 4:12, 3] == 0)  # where the ball was at first: empty again


def test_unchanged_pixels_inside_the_rectangle_are_sent_see_through(tmp_path: Path) -> None:
    """Opaque GIF: the still body inside a later frame's rectangle is the frame's own transparent index."""
    palette = _palette()
    frames = _scene(6, 255)
    blocks = _blocks(_write(tmp_path / "o.gif", frames, palette, None))
    assert blocks[0].transparent is None and blocks[0].indices.shape == frames[0].shape
    for k in range(1, 4):
        block = blocks[k]
        h, w = block.indices.shape
        assert h * w < frames[k].size  # only the changed rectangle
        shown, before = frames[k][block.top: block.top + h, block.left: block.left + w], \
            frames[k - 1][block.top: block.top + h, block.left: block.left + w]
        assert block.transparent is not None and block.disposal == 1
        assert not np.any(shown[shown != before] == block.transparent)  # its index is free among changed pixels
        assert np.all(block.indices[shown == before] == block.transparent)
        assert np.array_equal(block.indices[shown != before], shown[shown != before])


def test_transparent_gif_uses_its_own_transparent_index_and_clears_what_vanishes(tmp_path: Path) -> None:
    frames = _scene(6, 255)
    blocks = _blocks(_write(tmp_path / "t.gif", frames, _palette(), 255))
    assert all(block.transparent == 255 for block in blocks)
    # the arm moves down a row each frame, so its top row vanishes: each frame is cleared after it is shown
    assert [block.disposal for block in blocks[:4]] == [2, 2, 2, 2]
    decoded = _decoded(tmp_path / "t.gif")
    assert all(np.array_equal(got, _full_frame(f, _palette(), 255)) for got, f in zip(decoded, frames))


def test_transparent_gif_sends_a_still_body_see_through_while_nothing_vanishes(tmp_path: Path) -> None:
    """Bars growing above and below a still body: nothing turns transparent, so frames are left (disposal 1),
    and the body inside their rectangle is sent as the GIF's transparent index."""
    still = _scene(1, 255)[0]
    still[14:18, 26:40] = 255  # no arm
    frames = []
    for k in range(5):
        f = still.copy()
        f[2, 26 - 4 * k: 30] = 9  # grows to the left
        f[46, 6: 10 + 4 * k] = 9  # grows to the right
        frames.append(f)
    blocks = _blocks(_write(tmp_path / "g.gif", frames, _palette(), 255))
    for k in range(1, 4):
        block = blocks[k]
        assert block.disposal == 1 and block.transparent == 255
        h, w = block.indices.shape
        shown = frames[k][block.top: block.top + h, block.left: block.left + w]
        assert h > 40
        body = (slice(20 - block.top, 40 - block.top), slice(10 - block.left, 26 - block.left))
        assert np.all(block.indices[body] == 255) and np.all(shown[body] != 255)
    assert all(np.array_equal(got, _full_frame(f, _palette(), 255)) for got, f in zip(_decoded(tmp_path / "g.gif"),
                                                                                        frames))


def test_a_frame_whose_changes_use_every_index_is_sent_plainly(tmp_path: Path) -> None:
    """Opaque, 256 colours: no index is free for see-through, so the frame keeps its pixels (and still decodes)."""
    palette = _palette()
    rng = np.random.default_rng(RNG_SEED)
    first = np.zeros((32, 32), np.uint8)
    first[16:] = np.repeat(rng.integers(0, 4, (16, 8)).astype(np.uint8), 4, axis=1)  # runs that stay
    second = first.copy()
    second[:8] = np.arange(256, dtype=np.uint8).reshape(8, 32)  # every index, changed
    blocks = _blocks(_write(tmp_path / "full.gif", [first, second], palette, None))
    assert blocks[1].transparent is None
    assert [np.array_equal(got, _full_frame(f, palette, None)) for got, f in
            zip(_decoded(tmp_path / "full.gif"), [first, second])] == [True, True]


def test_masking_pays_only_with_fewer_runs_and_takes_a_free_index() -> None:
    """Unchanged pixels scattered through a run of one colour: see-through would cut the run, so it is skipped.
    A block of unchanged noise: masked, with the hint when no changed pixel holds it, else the lowest free index."""
    canvas = np.zeros((4, 40), np.uint8)
    canvas[:, ::2] = 7  # every other pixel already shows 7
    frame = np.full((4, 40), 7, np.uint8)
    out = np.full_like(frame, 99)
    assert gif_lzw.mask_unchanged(frame, canvas, 0, 0, 4, 40, -1, 256, 255, out) == -1
    assert np.all(out == 99)  # untouched
    noise = np.random.default_rng(RNG_SEED).integers(1, 200, (4, 40)).astype(np.uint8)
    canvas[:] = 0
    canvas[:, 10:30] = noise[:, 10:30]  # one unchanged block of noise in the middle: worth it
    taken = int(noise[1, 0])  # a changed pixel's colour: not usable, so the lowest free index
    assert gif_lzw.mask_unchanged(noise, canvas, 1, 0, 4, 40, -1, 256, taken, out) == 0
    assert np.all(out[1:, 10:30] == 0) and np.array_equal(out[1:, :10], noise[1:, :10])
    assert np.array_equal(out[1:, 30:], noise[1:, 30:]) and np.all(out[0] == 99)  # only the rectangle written
    assert gif_lzw.mask_unchanged(noise, canvas, 1, 0, 4, 40, -1, 256, 220, out) == 220  # the hint is free
    assert np.all(out[1:, 10:30] == 220)
    assert gif_lzw.mask_unchanged(noise, canvas, 0, 0, 4, 40, 200, 256, 3, out) == 200  # a transparent GIF's own


@pytest.mark.parametrize("transparent", [255, None])
def test_a_second_decoder_agrees(tmp_path: Path, transparent: int | None) -> None:
    """OpenCV's own GIF reader (not Pillow's) shows every frame as it was given."""
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "imreadanimation"):
        pytest.skip("this OpenCV cannot read animations")
    palette = _palette()
    frames = _scene(9, 255)
    ok, animation = cv2.imreadanimation(str(_write(tmp_path / "c.gif", frames, palette, transparent)))
    assert ok and len(animation.frames) == len(frames)
    for k, (got, frame) in enumerate(zip(animation.frames, frames)):
        expected = np.zeros((*frame.shape, 4), np.uint8)
        expected[..., :3] = palette[frame][..., ::-1]  # BGR
        expected[..., 3] = 255
        if transparent is not None:
            expected[frame == transparent] = 0
        got = got.copy() if got.shape[2] == 4 else np.dstack([got, np.full(frame.shape, 255, np.uint8)])
        got[got[..., 3] == 0] = 0
        assert np.array_equal(got, expected), f"frame {k}"
