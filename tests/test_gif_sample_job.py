"""A real GIF export (the sample, merged palette) decodes frame for frame as the indexed frames it was given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from studio.core.motion_source import load_motion
from studio.core.render import Animation
from studio.core.sample import sample_character
from studio.pipeline.encode.gif import gif_frame_delays, write_gif
from studio.pipeline.encode.palette import MIN_TEXTURE_PSNR, quantise_texture


@pytest.mark.parametrize("background", ["transparent", "white"])
def test_sample_job_decodes_as_its_indexed_frames(tmp_path: Path, background: str) -> None:
    character = sample_character()
    animation = Animation(character, load_motion("dance", character), (96, 96), frames=14)
    colour = None if background == "transparent" else (255, 255, 255)
    indices, palette, reserved = quantise_texture(character.texture, background_colour=colour)
    opaque = character.texture[..., 3] >= 128
    error = palette[indices[opaque]].astype(float) - character.texture[..., :3][opaque]
    assert reserved < 255 and 10 * np.log10(255.0 ** 2 / np.mean(error ** 2)) >= MIN_TEXTURE_PSNR
    frames = [animation.render_indexed(k, indices, reserved) for k in range(animation.n_frames)]
    transparent = reserved if colour is None else None
    path = write_gif(tmp_path / "s.gif", frames, palette, transparent,
                     gif_frame_delays(len(frames), animation.frame_time))
    with Image.open(path) as im:
        decoded = [np.array(frame.convert("RGBA")) for frame in ImageSequence.Iterator(im)]
    assert len(decoded) == len(frames)
    for k, (got, frame) in enumerate(zip(decoded, frames)):
        expected = np.dstack([palette[frame], np.full(frame.shape, 255, np.uint8)])
        if transparent is not None:
            expected[frame == transparent] = 0
        got[got[..., 3] == 0] = 0
        assert np.array_equal(got, expected), f"frame {k}"
