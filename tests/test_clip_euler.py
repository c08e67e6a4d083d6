"""Quaternion → Euler angles in clip.py against scipy's Rotation.as_euler, which it replaced (issue 16)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from studio.pipeline.motion.clip import _euler_to_quat, _quat_to_euler

ORDERS = ["".join(p) for p in itertools.permutations("XYZ")]


def scipy_euler(q: np.ndarray, order: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock
        return Rotation.from_quat(q.reshape(-1, 4)).as_euler(order, degrees=True).reshape(q.shape[:-1] + (3,))


@pytest.mark.parametrize("order", ORDERS)
def test_random_rotations_match_scipy(order: str) -> None:
    q = np.random.default_rng(7).normal(size=(5000, 4))  # not unit: both normalise
    np.testing.assert_allclose(_quat_to_euler(q, order), scipy_euler(q, order), rtol=0, atol=1e-10)


@pytest.mark.parametrize("order", ORDERS)
def test_gimbal_lock_and_right_angles_match_scipy(order: str) -> None:
    rng = np.random.default_rng(11)
    locked = rng.uniform(-180, 180, size=(400, 3))
    locked[:200, 1], locked[200:, 1] = 90.0, -90.0
    grid = np.array(list(itertools.product(range(-180, 181, 45), repeat=3)), float)  # ±180 ties included
    q = _euler_to_quat(np.concatenate([locked, grid]), order)
    ours = _quat_to_euler(q, order)
    np.testing.assert_allclose(ours, scipy_euler(q, order), rtol=0, atol=1e-10)
    assert np.all(np.abs(ours) <= 180.0) and np.all(np.abs(ours[:, 1]) <= 90.0)


def test_batched_shape_and_round_trip() -> None:
    angles = np.random.default_rng(3).uniform(-80, 80, size=(4, 5, 3))
    np.testing.assert_allclose(_quat_to_euler(_euler_to_quat(angles, "ZXY"), "ZXY"), angles, atol=1e-10)


def test_repeated_axis_is_refused() -> None:
    with pytest.raises(ValueError, match="three distinct axes"):
        _quat_to_euler(np.array([0.0, 0.0, 0.0, 1.0]), "ZXZ")
