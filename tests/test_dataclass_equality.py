"""Dataclasses that hold numpy arrays compare by identity: a generated ``==`` over arrays raises ValueError."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import numpy as np

import studio.core
import studio.pipeline
from studio.core.document import Document, Skeleton


def _dataclasses() -> list[type]:
    found: list[type] = []
    for package in (studio.core, studio.pipeline):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            found += [obj for obj in vars(module).values() if inspect.isclass(obj) and dataclasses.is_dataclass(obj)
                      and obj.__module__ == module.__name__]
    return found


def test_no_dataclass_in_core_or_pipeline_compares_arrays_with_its_generated_eq() -> None:
    offenders = [f"{cls.__module__}.{cls.__qualname__}.{f.name}" for cls in _dataclasses()
                 if cls.__dataclass_params__.eq  # type: ignore[attr-defined]
                 for f in dataclasses.fields(cls) if f.compare and "ndarray" in str(f.type)]
    assert offenders == []


def test_two_blank_documents_compare_without_raising() -> None:
    a, b = Document.blank(8, 8), Document.blank(8, 8)
    assert a != b and a == a  # identity: two documents are two documents, however alike
    assert len({a, b}) == 2


def test_swapping_sides_swaps_each_left_right_pair_of_joints() -> None:
    skeleton = Skeleton(("root", "left_hand", "right_hand"), (-1, 0, 0), np.array([[0.0, 0], [1, 2], [3, 4]]))
    assert skeleton.joints_sides_swapped().tolist() == [[0, 0], [3, 4], [1, 2]]
