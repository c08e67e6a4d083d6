"""Automatic AD motion and retarget configs for any BVH skeleton and any character's joint names."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np

from studio.pipeline.motion.bvh import USABLE, Bvh, unusable_value
from studio.pipeline.motion.config import BodypartGroup, MotionConfig, ProjectionGroup, RetargetConfig, RootOffset
from studio.pipeline.motion.joint_names import (LEG_PARTS, LOWER_CHAIN, SIDES, UPPER_CHAIN, BvhTree, NameParts, char_part,
                                         family_name, find_roles, namespace_of, parse_char_name, role_examples,
                                         role_key, role_label, trunk_path, variant_rank)
from studio.pipeline.motion.kinematics import world_positions

# AD's fair1 clips: thigh + shin = 21.68 BVH units at scale 0.025, so a normalised leg is 0.542 long.
LEG_LENGTH = 0.5419
_LISTED_JOINTS = 40  # joints a "found joints" message lists; a 1000-joint file names the first 40 and a count


class MappingError(ValueError):
    """A BVH or character that cannot be mapped automatically; the message names every missing joint."""


@dataclass(frozen=True)
class SkeletonFamily:
    """A recognised BVH naming convention and where each body role lives in this file.

    name: 'fair1', 'cmu', 'rokoko', 'mixamo', '3dsmax', 'daz', 'unreal', 'biped' (generic) or 'unknown'.
    prefix: the namespace on the joint names ('mixamorig:', 'Bip01 ', ''). roles: role key → BVH joint name,
    e.g. 'hips', 'chest', 'neck', 'head', 'left_upper_arm', 'right_foot'; roles not found are absent.
    """

    name: str
    prefix: str
    roles: dict[str, str]

    def describe(self) -> str:
        return f"detected {self.name} skeleton" + (f" (prefix {self.prefix!r})" if self.prefix else "")


def detect_family(bvh: Bvh) -> SkeletonFamily:
    """Recognise the naming convention of ``bvh`` and locate each body role (see :class:`SkeletonFamily`)."""
    tree = BvhTree(bvh)
    prefixes = Counter(namespace_of(bvh.names[j]) for j in tree.joints)
    prefix = prefixes.most_common(1)[0][0] if prefixes else ""
    prefix = prefix if prefixes[prefix] * 2 > len(tree.joints) else ""
    roles = {k: bvh.names[j] for k, j in find_roles(tree).items()}
    name = family_name(tree, prefix) if roles else "unknown"
    return SkeletonFamily(name, prefix, roles)


def _require(family: SkeletonFamily, bvh: Bvh, keys: Sequence[str]) -> None:
    missing = [k for k in dict.fromkeys(keys) if k not in family.roles]
    if not missing:
        return
    found = [n for j, n in enumerate(bvh.names) if j not in bvh.end_sites]
    shown = ", ".join(found[:_LISTED_JOINTS]) + (f" and {len(found) - _LISTED_JOINTS} more"
                                                 if len(found) > _LISTED_JOINTS else "")
    what = "; ".join(f"cannot find {role_label(k)} (tried {', '.join(role_examples(k))})" for k in missing)
    raise MappingError(f"BVH skeleton {family.name!r}: {what}; found joints: {shown}")


def _up_axis(bvh: Bvh, family: SkeletonFamily, world: np.ndarray) -> tuple[str, str]:
    """'+y' or '+z' from the mean feet → head direction over the clip, and a note."""
    names = bvh.names
    top = next(family.roles[k] for k in ("head", "neck", "chest") if k in family.roles)
    bottoms = [family.roles[f"{s}_foot"] for s in SIDES if f"{s}_foot" in family.roles] or [family.roles["hips"]]
    v = (world[:, names.index(top)] - world[:, [names.index(b) for b in bottoms]].mean(axis=1)).mean(axis=0)
    if top in bottoms or np.linalg.norm(v) < 1e-9:
        raise MappingError(f"BVH skeleton {family.name!r}: cannot tell which way is up ({top} is not above "
                           f"{', '.join(bottoms)})")
    axis = int(np.argmax(np.abs(v)))
    up = ("+" if v[axis] > 0 else "-") + "xyz"[axis]
    if up not in ("+y", "+z"):
        raise MappingError(f"BVH skeleton {family.name!r} is {up} up ({top} lies along {up} from "
                           f"{', '.join(bottoms)}); the retargeter supports only +y or +z up")
    return up, f"up axis {up} ({top} is above {' and '.join(bottoms)} along {up})"


def _leg_length(bvh: Bvh, family: SkeletonFamily) -> float | None:
    """Mean rest length of thigh + shin (up leg → foot bone lengths), BVH units."""
    lengths = []
    for side in SIDES:
        top, foot = family.roles.get(f"{side}_upleg"), family.roles.get(f"{side}_foot")
        if top is None or foot is None:
            continue
        j, total, stop = bvh.names.index(foot), 0.0, bvh.names.index(top)
        while j != stop and j >= 0:
            total += float(np.linalg.norm(bvh.offsets[j]))
            j = bvh.parents[j]
        lengths.append(total)
    length = float(np.mean(lengths)) if lengths else 0.0
    return length if length > 1e-9 else None


def _motion_parts(bvh: Bvh, filepath: str, family: SkeletonFamily) -> tuple[MotionConfig, list[str]]:
    _require(family, bvh, ["hips", "left_upleg", "right_upleg", "left_foot"])
    if not any(k in family.roles for k in ("head", "neck", "chest")):
        _require(family, bvh, ["head"])
    if bad := unusable_value(bvh):  # parse_bvh refuses these; a Bvh built in code would read as "-x up"
        raise MappingError(f"BVH skeleton {family.name!r}: {bad} is not a usable number: {USABLE}")
    world = world_positions(bvh)
    up, up_note = _up_axis(bvh, family, world)
    roles, first = family.roles, world[0]

    def gap(a: str, b: str) -> float:
        return float(np.linalg.norm(first[bvh.names.index(roles[a])] - first[bvh.names.index(roles[b])]))

    pairs: list[tuple[str, str]] = []
    arms = [k for k in ("clavicle", "upper_arm") if f"left_{k}" in roles and f"right_{k}" in roles]
    if arms:  # clavicles, unless they sit on top of each other (CMU's collars have zero offsets)
        use = arms[0]
        if use == "clavicle" and "upper_arm" in arms and gap("left_clavicle", "right_clavicle") < \
                0.1 * gap("left_upper_arm", "right_upper_arm"):
            use = "upper_arm"
        pairs.append((roles[f"left_{use}"], roles[f"right_{use}"]))
    pairs.append((roles["left_upleg"], roles["right_upleg"]))
    leg = _leg_length(bvh, family)
    if leg is not None:
        scale = LEG_LENGTH / leg
        scale_note = f"scale {float(f'{scale:.3g}'):g}: legs are {leg:.3g} BVH units long (AD's fair1 convention)"
    else:
        height = float(np.ptp(first, axis=0).max())
        scale = 1.134 / max(height, 1e-9)  # fair1 stands 45.4 units tall at scale 0.025
        scale_note = f"scale {float(f'{scale:.3g}'):g}: from the figure's height, {height:.3g} BVH units"
    config = MotionConfig(filepath, roles["left_foot"], tuple(pairs), float(f"{scale:.3g}"), up,
                          source=f"automatic motion config for {filepath or 'a BVH'}")
    notes = [up_note, scale_note, f"ground joint {roles['left_foot']}; forward from "
             + ", ".join(f"{a}→{b}" for a, b in pairs)]
    return config, notes


def infer_motion_config(bvh: Bvh, filepath: str = "", family: SkeletonFamily | None = None) -> MotionConfig:
    """AD motion config for ``bvh``: up axis, ground joint, forward pairs and scale, inferred. Raises MappingError."""
    return _motion_parts(bvh, filepath, family or detect_family(bvh))[0]


@dataclass(frozen=True)
class _CharJoint:
    name: str
    side: str | None
    part: str | None
    variant: str


def _char_joints(names: Sequence[str]) -> list[_CharJoint]:
    out = []
    for name in names:
        parts: NameParts = parse_char_name(name)
        out.append(_CharJoint(name, parts.side, char_part(parts), parts.variant))
    return out


def _bones(part: str, side: str | None, neck_role: str) -> tuple[str, str] | None:
    """The BVH role pair (proximal, distal) that drives a character body part, or None for unmapped parts."""
    if side is None:
        return {"torso": ("hips", "chest"), "neck": ("hips", neck_role), "head": ("hips", neck_role)}.get(part)
    pair = {"elbow": ("upper_arm", "forearm"), "hand": ("forearm", "hand"), "knee": ("upleg", "leg"),
            "foot": ("leg", "foot")}.get(part)
    return None if pair is None else (role_key(pair[0], side), role_key(pair[1], side))


def infer_retarget_config(bvh: Bvh, char_joints: Sequence[str], char_parents: Sequence[str | None] | None = None,
                          family: SkeletonFamily | None = None,
                          char_locations: Sequence[Sequence[float]] | None = None) -> RetargetConfig:
    """AD retarget config that drives the character's joints from ``bvh``, mirroring AD's own configs.

    char_locations: optional (J, 2) pixel positions (y down); they pick the topmost shoulder pair for the
    tadpole check and keep a horizontal torso (a four-legged figure) unmapped. Raises MappingError.
    """
    family = family or detect_family(bvh)
    chars = _char_joints(char_joints)
    known = [c for c in chars if c.part is not None and c.part != "root"]
    if not known:
        raise MappingError(f"none of the character's joints ({', '.join(char_joints)}) is an AD joint name "
                           "(hip, torso, neck, left_/right_ shoulder, elbow, hand, hip, knee, foot, optionally "
                           "numbered or suffixed _f/_b): nothing to map")
    parents = dict(zip(char_joints, char_parents)) if char_parents is not None else {}
    locations = dict(zip(char_joints, (tuple(map(float, p)) for p in char_locations))) if char_locations else {}
    notes: list[str] = []
    neck_role = "neck" if family.name == "fair1" or "head" not in family.roles else "head"
    has_neck = any(c.part == "neck" for c in chars)
    legs = {(c.side, c.variant) for c in chars if c.side and c.part in ("knee", "foot")}
    quadruped = len(legs) > 2
    torso = next((c.name for c in chars if c.part == "torso"), None)
    hip = next((c.name for c in chars if c.part == "hip" and c.side is None), None)
    if torso and hip and torso in locations and hip in locations:
        dx, dy = np.subtract(locations[torso], locations[hip])
        quadruped = quadruped or abs(dx) > abs(dy)

    wanted: dict[str, tuple[str, str]] = {}
    for c in chars:
        if c.part == "head" and has_neck:  # a drawn head above a drawn neck follows the BVH's neck → head
            if "neck" in family.roles and "head" in family.roles:
                wanted[c.name] = ("neck", "head")
            else:
                notes.append(f"char joint {c.name!r} is left unmapped: the BVH has no separate neck and head")
            continue
        if c.part is None:
            continue
        if c.part == "torso" and quadruped:
            notes.append(f"char joint {c.name!r} is left unmapped: a four-legged or horizontal body keeps its "
                         "drawn angle")
            continue
        bones = _bones(c.part, c.side, neck_role)
        if bones is not None:
            wanted[c.name] = bones
    still = [c.name for c in chars if c.side and c.part in ("shoulder", "hip")]
    if still:
        notes.append(f"{', '.join(still)} are not mapped, as in AD: they follow the torso and the root")
    needed = ["hips"] + [r for pair in wanted.values() for r in pair]
    if any(c.part in ("knee", "foot") for c in chars):
        needed += [role_key(r, s) for s in ("right", "left") for r in ("foot", "leg", "upleg")]
    _require(family, bvh, needed)
    roles = family.roles
    mapping = {name: (roles[a], roles[b]) for name, (a, b) in wanted.items()}

    groups = _bodypart_groups(chars, parents, roles, notes)
    checks = _runtime_checks(chars, locations) if has_neck else ()
    return RetargetConfig((0.0, 0.0, -0.5), _projection_groups(bvh, family), tuple(groups),
                          _root_offset(chars, parents, roles), mapping, checks,
                          source=f"automatic retarget config ({family.name} skeleton)", notes=tuple(notes))


def _projection_groups(bvh: Bvh, family: SkeletonFamily) -> tuple[ProjectionGroup, ...]:
    roles = family.roles
    # A clavicle with no length (CMU's collars) sits on the spine: it would only blur the arms' plane.
    upper = [roles[role_key(r, s)] for s in ("right", "left") for r in UPPER_CHAIN if role_key(r, s) in roles
             and (r != "clavicle" or np.linalg.norm(bvh.offsets[bvh.names.index(roles[role_key(r, s)])]) > 1e-9)]
    lower = [roles[role_key(r, s)] for s in ("right", "left") for r in LOWER_CHAIN if role_key(r, s) in roles]
    tree = BvhTree(bvh)
    trunk = [bvh.names[j] for j in trunk_path(tree, {k: bvh.names.index(v) for k, v in roles.items()})]
    trunk += [roles[k] for k in ("chest", "neck", "head") if k in roles and roles[k] not in trunk]
    return (ProjectionGroup("Upper Limbs", tuple(upper), "pca"), ProjectionGroup("Lower Limbs", tuple(lower), "pca"),
            ProjectionGroup("Trunk", tuple(trunk), "frontal"))


def _bodypart_groups(chars: list[_CharJoint], parents: dict[str, str | None], roles: dict[str, str],
                     notes: list[str]) -> list[BodypartGroup]:
    """Trunk (shoulders, side hips, hip, torso, neck) driven by the hips; one group per arm and per leg."""
    trunk = [c.name for c in chars if c.side and c.part in ("shoulder",)]
    trunk += [c.name for c in chars if c.side and c.part == "hip"]
    trunk += [c.name for part in ("hip", "torso", "neck", "head") for c in chars if c.part == part and not c.side]
    limbs: dict[tuple[int, int, tuple[int, int]], list[str]] = {}
    drivers: dict[tuple[int, int, tuple[int, int]], str] = {}
    for c in chars:
        if c.side and c.part in ("elbow", "hand", "knee", "foot"):
            arm = c.part in ("elbow", "hand")
            key = (0 if arm else 1, SIDES.index(c.side), variant_rank(c.variant))
            limbs.setdefault(key, []).append(c.name)
            drivers[key] = roles.get(role_key("hand" if arm else "foot", c.side), "")
    home: dict[str, tuple[str, tuple[int, int, tuple[int, int]] | None]] = {n: ("trunk", None) for n in trunk}
    home.update({n: ("limb", k) for k, names in limbs.items() for n in names})
    for c in chars:
        if c.part is not None:
            continue
        parent = parents.get(c.name)
        where = home.get(parent, ("trunk", None)) if parent else ("trunk", None)
        home[c.name] = where
        (limbs[cast(tuple[int, int, tuple[int, int]], where[1])] if where[0] == "limb" else trunk).append(c.name)
        notes.append(f"char joint {c.name!r} has no BVH counterpart: it follows its parent "
                     f"{parent!r}" if parent else f"char joint {c.name!r} has no BVH counterpart: it is left unmapped")
    groups = [BodypartGroup(tuple(trunk), (roles["hips"],))] if trunk else []
    groups += [BodypartGroup(tuple(limbs[k]), (drivers[k],)) for k in sorted(limbs)]
    return groups


def _root_offset(chars: list[_CharJoint], parents: dict[str, str | None], roles: dict[str, str]) -> RootOffset:
    """Leg chains foot → knee → hip, for every drawn leg (front and back ones too)."""
    by_key = {(c.side, c.variant, c.part): c.name for c in chars if c.side}
    legs = sorted({(c.side, c.variant) for c in chars if c.side and c.part in ("knee", "foot")},
                  key=lambda sv: (variant_rank(sv[1]), SIDES.index(sv[0] or "left")))
    char_chains = []
    for side, variant in legs:
        chain = [by_key.get((side, variant, p)) for p in LEG_PARTS[::-1]]
        if chain[2] is None and chain[1] is not None:
            chain[2] = parents.get(chain[1])
        char_chains.append(tuple(n for n in chain if n))
    bvh_chains = tuple(tuple(roles[role_key(r, s)] for r in ("foot", "leg", "upleg")) for s in ("right", "left")
                       if all(role_key(r, s) in roles for r in ("foot", "leg", "upleg"))) if legs else ()
    return RootOffset("Lower Limbs", bvh_chains, tuple(char_chains))


def _runtime_checks(chars: list[_CharJoint], locations: dict[str, tuple[float, ...]]) -> tuple[tuple[str, ...], ...]:
    """AD's tadpole check: the neck must be above the line between the (topmost or last) shoulders."""
    neck = next(c.name for c in chars if c.part == "neck")
    pair = []
    for side in ("right", "left"):
        shoulders = [c.name for c in chars if c.side == side and c.part == "shoulder"]
        if not shoulders:
            return ()
        placed = [s for s in shoulders if s in locations]
        pair.append(min(placed, key=lambda s: locations[s][1]) if len(placed) == len(shoulders) else shoulders[-1])
    return (("above", neck, pair[0], pair[1]),)


def infer_motion_config_with_notes(bvh: Bvh, filepath: str = "") -> tuple[MotionConfig, list[str]]:
    """The inferred motion config and the notes that explain it (family, up axis, scale, ground)."""
    family = detect_family(bvh)
    motion, notes = _motion_parts(bvh, filepath, family)
    return motion, [family.describe(), *notes]


def auto_configs(bvh: Bvh, char_joints: Sequence[str], char_parents: Sequence[str | None] | None = None,
                 filepath: str = "", char_locations: Sequence[Sequence[float]] | None = None,
                 ) -> tuple[MotionConfig, RetargetConfig, list[str]]:
    """Both configs for ``bvh`` on a character, and human-readable notes on every decision taken."""
    family = detect_family(bvh)
    motion, motion_notes = _motion_parts(bvh, filepath, family)
    retarget = infer_retarget_config(bvh, char_joints, char_parents, family, char_locations)
    return motion, retarget, [family.describe(), *motion_notes, *retarget.notes]


__all__ = ["MappingError", "SkeletonFamily", "auto_configs", "detect_family", "infer_motion_config",
           "infer_motion_config_with_notes",
           "infer_retarget_config", "LEG_LENGTH"]
