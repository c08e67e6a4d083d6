"""The deformable rig of a character: mesh, prefactorised ARAP, triangle ownership and per-frame draw order."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from studio.pipeline.deform.arap import ArapSolver
from studio.pipeline.character import Character
from studio.pipeline.motion.config import BodypartGroup
from studio.pipeline.deform.mesh import Mesh, assign_triangles_to_bones, build_mesh


@dataclass(eq=False)
class Rig:
    """Everything that depends on the character only, built once and reused for every frame and clip.

    mesh: the triangulated mask; solver: ARAP with all joints as handles, factorised once.
    owner: (m,) joint index owning each triangle; by_joint: triangle indices per joint.
    """

    character: Character
    mesh: Mesh
    solver: ArapSolver
    owner: np.ndarray
    by_joint: list[np.ndarray]
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, character: Character, spacing: float | None = None, mesh: Mesh | None = None) -> "Rig":
        """``mesh``: reuse one built from this character's mask (a joint drag changes the joints only)."""
        started = time.perf_counter()
        if mesh is None:
            mesh = build_mesh(character.mask, spacing)
        meshed = time.perf_counter()
        solver = ArapSolver(mesh, character.rest)
        factorised = time.perf_counter()
        owner = assign_triangles_to_bones(mesh, character.rest, np.array(character.parents))
        by_joint = [np.flatnonzero(owner == j).astype(np.int32) for j in range(len(character.names))]
        timings = {"mesh": meshed - started + time.perf_counter() - factorised,
                   "arap_factorise": factorised - meshed}
        return cls(character, mesh, solver, owner, by_joint, timings)

    @property
    def snapped_joints(self) -> list[tuple[str, float]]:
        """Joints that lay outside the mesh and were snapped onto it: (name, distance px)."""
        return [(self.character.names[i], float(d)) for i, d in self.solver.snapped]

    def deform(self, joints: np.ndarray) -> np.ndarray:
        """(J, 2) posed joint positions → (n, 2) deformed mesh vertices, texture px."""
        return self.solver.solve(joints)


class DrawOrder:
    """Triangle order per frame from AD's body-part groups (painter's algorithm, no depth test)."""

    def __init__(self, rig: Rig, groups: tuple[BodypartGroup, ...]) -> None:
        names = rig.character.names
        self.group_joints = [[names.index(j) for j in g.char_joints if j in names] for g in groups]
        grouped = {j for g in self.group_joints for j in g}
        # Joints in no group are drawn first, behind everything.
        loose = [j for j in range(len(names)) if j not in grouped]
        self.base = np.concatenate([rig.by_joint[j] for j in loose] or [np.empty(0, np.int32)]).astype(np.int32)
        self.by_joint = rig.by_joint
        self._cache: dict[tuple[tuple[int, ...], tuple[bool, ...]], np.ndarray] = {}

    def triangles(self, order: np.ndarray, reversed_: np.ndarray) -> np.ndarray:
        """Triangle indices, first drawn first, for one frame's group order and reversal flags."""
        key = (tuple(int(g) for g in order), tuple(bool(r) for r in reversed_))
        cached = self._cache.get(key)
        if cached is None:
            parts = [self.base]
            for g in key[0]:
                joints = self.group_joints[g][::-1] if key[1][g] else self.group_joints[g]
                parts.extend(self.by_joint[j] for j in joints)
            cached = np.concatenate(parts).astype(np.int32)
            self._cache[key] = cached
        return cached
