"""The live preview's engine: caching, latest-wins cancellation, framing kept during a drag."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.preview import PreviewCancelled, PreviewEngine, PreviewRequest
from studio.core.sample import sample_character


def test_a_joint_drag_reuses_the_mesh_and_the_framing() -> None:
    engine = PreviewEngine()
    character = sample_character()
    first = engine.build(PreviewRequest(character, "wave", 12, 128))
    assert first.n_frames == 12 and first.render_rgba(0).shape == (128, 128, 4)
    rest = character.rest.copy()
    rest[character.index("left_hand")] += (15.0, -20.0)
    dragged = engine.build(PreviewRequest(character.with_rest(rest), "wave", 12, 128, keep_framing=True))
    assert dragged.rig.mesh is first.rig.mesh  # the mask did not change: no new mesh
    assert dragged.camera is first.camera and "framing" not in dragged.timings
    assert not np.allclose(dragged.vertices(0), first.vertices(0))  # but the figure follows the new joints
    refit = engine.build(PreviewRequest(character.with_rest(rest), "wave", 12, 128))
    assert refit.camera is not first.camera and "framing" in refit.timings


def test_a_new_mask_builds_a_new_mesh() -> None:
    engine = PreviewEngine()
    character = sample_character()
    first = engine.build(PreviewRequest(character, "idle", 4, 64))
    mask = character.mask.copy()
    mask[:, : mask.shape[1] // 8] = 0
    texture = character.texture.copy()
    texture[:, :, 3] = mask
    trimmed = type(character)(character.names, character.parents, character.rest, texture, mask)
    second = engine.build(PreviewRequest(trimmed, "idle", 4, 64))
    assert second.rig.mesh is not first.rig.mesh


def test_a_stale_request_stops_with_cancelled() -> None:
    engine = PreviewEngine()
    old = engine.submit()
    new = engine.submit()
    assert engine.is_stale(old) and not engine.is_stale(new)
    with pytest.raises(PreviewCancelled):
        engine.build(PreviewRequest(sample_character(), "idle", 4, 64), old)
    assert engine.build(PreviewRequest(sample_character(), "idle", 4, 64), new).n_frames == 4


def test_the_first_build_renders_a_frame_on_the_builders_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a new install that first frame compiles the raster kernels: it must happen where the preview is built
    (a worker thread in the window), not in the window's first paint (a 1.7 s freeze, measured)."""
    import threading

    from studio.core.render import Animation

    threads: list[int] = []
    real = Animation.render_premultiplied

    def spy(self: Animation, k: int) -> np.ndarray:
        threads.append(threading.get_ident())
        return real(self, k)

    monkeypatch.setattr(Animation, "render_premultiplied", spy)
    engine = PreviewEngine()
    builder = threading.Thread(target=engine.build, args=(PreviewRequest(sample_character(), "wave", 3, 64),))
    builder.start()
    builder.join(120)
    assert threads == [builder.ident]
    engine.build(PreviewRequest(sample_character(), "wave", 3, 64))
    assert threads == [builder.ident]  # once per engine: a joint drag's rebuild renders nothing extra
