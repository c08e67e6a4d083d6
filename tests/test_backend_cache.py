"""loaded_backend: a running window or worker loads a pose model once, and again only when its settings or its
checkpoint file change (issue 16, goal 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.core import annotate
from studio.core.annotate import loaded_backend
from studio.pipeline.pose.embedded import available


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    annotate._LOADED.clear()


@pytest.mark.skipif(not available(), reason="the embedded model is not installed")
def test_the_same_settings_give_the_same_loaded_backend() -> None:
    first = loaded_backend("embedded")
    assert loaded_backend("embedded") is first
    assert loaded_backend("manual") is not first
    assert loaded_backend("embedded") is not first  # only the latest is kept: never two models held


def test_the_settings_make_the_backend() -> None:
    backend = loaded_backend("torchserve", endpoint="http://127.0.0.1:9", deadline=3.0)
    assert backend.name == "torchserve"
    assert loaded_backend("torchserve", endpoint="http://127.0.0.1:9", deadline=3.0) is backend
    assert loaded_backend("torchserve", endpoint="http://127.0.0.1:9", deadline=4.0) is not backend


def test_a_replaced_checkpoint_is_loaded_again(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="custom embedded weights load through torch")
    from studio.pipeline.pose.embedded import build_network, save_weights

    weights = tmp_path / "pose.pt"
    save_weights(build_network(), weights)
    first = loaded_backend("embedded", checkpoint=str(weights))
    assert loaded_backend("embedded", checkpoint=str(weights)) is first
    save_weights(build_network(), weights)
    stamp = weights.stat()
    os.utime(weights, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))  # even within the clock's tick
    assert loaded_backend("embedded", checkpoint=str(weights)) is not first


@pytest.mark.skipif(not available(), reason="the embedded model is not installed")
def test_threads_sharing_the_loaded_model_get_their_own_answers() -> None:
    """Two annotations can overlap in the window (a manual one while an automatic one runs). OpenCV's network
    behind the embedded model mixed their inputs up (wrong joints, or an assertion); the shared backend takes
    turns, so each thread gets exactly what it would get alone."""
    import threading

    import numpy as np

    from studio.core.sample import sample_image

    image = sample_image()
    boxes = [(10.0 + 3 * i, 12.0 + 2 * i, 300.0 - 4 * i, 380.0 - 3 * i) for i in range(4)]
    shared = loaded_backend("embedded")
    alone = {box: shared.pose(image, box).keypoints for box in boxes}
    wrong: list[tuple[float, ...]] = []

    def worker(box: tuple[float, float, float, float]) -> None:
        for _ in range(40):
            try:
                if not np.array_equal(shared.pose(image, box).keypoints, alone[box]):
                    wrong.append(box)
            except Exception:  # noqa: BLE001 - OpenCV's assertion when two inputs collide
                wrong.append(box)

    threads = [threading.Thread(target=worker, args=(box,)) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not wrong
