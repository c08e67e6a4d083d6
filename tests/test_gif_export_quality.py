"""A render's GIF over a colour keeps the frames' soft edges (mapped to the palette), and every GIF's colour table
holds only the entries its frames use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from studio.core.motion_source import load_motion
from studio.core.render import Animation, Background
from studio.core.render_job import export_animation
from studio.core.sample import sample_character


def _animation() -> Animation:
    character = sample_character()
    return Animation(character, load_motion("wave", character), (160, 160), frames=6)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / mse) if mse else float("inf")


def test_a_gif_on_a_colour_keeps_the_soft_edges(tmp_path: Path) -> None:
    animation, white = _animation(), Background(colour=(255, 255, 255))
    export_animation(animation, tmp_path / "white.gif", white)
    with Image.open(tmp_path / "white.gif") as gif:
        shown = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
    assert len(shown) == animation.n_frames
    for k, frame in enumerate(shown):
        full_colour = animation.render_rgba(k, white)[:, :, :3]
        assert _psnr(frame, full_colour) > 40.0  # hard-edged indices scored 35-38 dB here


def test_the_colour_table_holds_only_the_entries_used(tmp_path: Path) -> None:
    animation = _animation()
    for name, background in (("clear.gif", Background()), ("white.gif", Background(colour=(255, 255, 255)))):
        export_animation(animation, tmp_path / name, background)
        data = (tmp_path / name).read_bytes()
        assert data[10] & 0x80, "a global colour table"
        table = 2 ** ((data[10] & 0x07) + 1)
        with Image.open(tmp_path / name) as gif:
            assert gif.mode == "P"  # the first frame, as indices (Pillow turns later ones into RGB)
            highest = int(np.asarray(gif).max())
        assert highest < table < 256  # the sample's texture has far fewer than 255 colours


def test_mapping_over_a_colour_in_one_pass_equals_compositing_first() -> None:
    from studio.pipeline.compositing import over, unpremultiply
    from studio.pipeline.encode.palette import quantise_over_colour, quantise_to_palette

    rng = np.random.default_rng(3)
    straight = rng.integers(0, 256, (40, 50, 4), dtype=np.uint8)
    straight[::3, ::2, 3] = 0
    straight[1::4, :, 3] = 255
    premultiplied = straight.copy()
    premultiplied[:, :, :3] = (straight[:, :, :3].astype(np.uint16) * straight[:, :, 3:] + 127) // 255
    palette = rng.integers(0, 256, (37, 3), dtype=np.uint8)
    colour = (250, 240, 10)
    one_pass = quantise_over_colour(premultiplied, colour, palette)
    rest = 255 - premultiplied[:, :, 3:].astype(np.int64)
    exact = premultiplied[:, :, :3] + (np.array(colour) * rest + 127) // 255  # composited, rounded once
    assert np.array_equal(one_pass, quantise_to_palette(np.minimum(exact, 255).astype(np.uint8), palette))
    # against compositing the straight colours first (rounded twice): the same picks almost everywhere
    two_pass = quantise_to_palette(over(unpremultiply(premultiplied.copy()), colour), palette)
    assert (one_pass == two_pass).mean() > 0.97


def test_an_opaque_table_keeps_a_spare_entry_when_it_would_be_full() -> None:
    from studio.pipeline.encode.palette import used_entries

    palette = np.arange(256 * 3, dtype=np.int64).reshape(256, 3).astype(np.uint8)
    assert len(used_entries(palette, 31, opaque=True)) == 33  # 32 would fill a 32-entry table: no index to spare
    assert len(used_entries(palette, 31, opaque=False)) == 32  # a transparent GIF marks with its transparent index
    assert len(used_entries(palette, 40, opaque=True)) == 41  # a 64-entry table has spare slots already
    assert len(used_entries(palette, 255, opaque=True)) == 256
