"""Joint names: split BVH and character names into side, body part and variant; find body roles in a BVH."""

from __future__ import annotations

import re
from dataclasses import dataclass

from studio.pipeline.motion.bvh import Bvh

# Namespaces end at the last ':' or '|' (``mixamorig:Hips``, ``Armature|Hips``); tool prefixes follow.
_NAMESPACE = re.compile(r"^.*[:|]")
_TOOL_PREFIX = re.compile(r"^(?:bip\d+(?:[\s_]+|$)|character\d*_|(?:def|org|mch)-)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s_.\-]+")
# camelCase words: "LHipJoint" → L, Hip, Joint; "HEAD" → HEAD; "Spine3" → Spine, 3.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SIDES = {"left": "left", "l": "left", "right": "right", "r": "right"}
_VARIANTS = {"f": 0, "front": 0, "fore": 0, "b": 1, "back": 1, "hind": 1}

# BVH body parts of one side, by role; within a role, earlier aliases win ties. "shoulder" and a sided "hip"
# are ambiguous and resolved from the hierarchy (automap.py): CMU's LeftShoulder is the upper arm.
LIMB_ALIASES: dict[str, tuple[str, ...]] = {
    "clavicle": ("clavicle", "collar", "collarbone"),
    "upper_arm": ("arm", "upperarm", "uparm", "shldr", "humerus"),
    "forearm": ("forearm", "lowerarm", "lowarm", "elbow", "radius"),
    "hand": ("wrist", "hand"),
    "hand_end": ("handend", "fingers", "finger", "inhandindex", "inhandmiddle", "handmiddle1", "handindex1",
                 "middle1", "index1", "handtip", "finger2", "finger1", "fingerbase"),
    "upleg": ("upleg", "upperleg", "thigh", "femur"),
    "leg": ("leg", "lowerleg", "lowleg", "shin", "calf", "knee", "tibia"),
    "foot": ("ankle", "foot"),
    "toe": ("toebase", "toe", "toes", "toe0", "ball", "toe1"),
}
AMBIGUOUS_LIMB = ("shoulder", "hip")
CENTER_ALIASES: dict[str, tuple[str, ...]] = {
    "hips": ("hips", "hip", "pelvis", "hipcenter", "spinebase"),
    "neck": ("neck", "lowerneck", "neck1", "neck01", "neckbase", "shouldercenter"),
    "head": ("head",),
}
LIMB_ROLES = tuple(LIMB_ALIASES)
CENTER_ROLES = ("hips", "chest", "neck", "head")

# What the error messages say was tried, per role; {Side} = Left/Right, {S} = L/R, {s} = l/r.
ROLE_EXAMPLES: dict[str, tuple[str, ...]] = {
    "hips": ("Hips", "Hip", "Pelvis", "Bip01 Pelvis", "pelvis"),
    "chest": ("the spine joint both arms hang from: Spine3", "Spine2", "Chest2", "chest", "spine_03"),
    "neck": ("Neck", "lowerneck", "neck_01", "Bip01 Neck"),
    "head": ("Head", "Bip01 Head", "head"),
    "clavicle": ("{Side}Shoulder (parent of {Side}Arm)", "{Side}Collar", "{s}Collar", "clavicle_{s}",
                 "Bip01 {S} Clavicle"),
    "upper_arm": ("{Side}Arm", "{Side}Shoulder (under {Side}Collar)", "{s}Shldr", "upperarm_{s}",
                  "Bip01 {S} UpperArm", "{Side}UpArm", "{s}_shoulder"),
    "forearm": ("{Side}ForeArm", "{Side}Elbow", "{s}ForeArm", "lowerarm_{s}", "Bip01 {S} Forearm",
                "{Side}LowArm", "{s}_elbow"),
    "hand": ("{Side}Hand", "{Side}Wrist", "{s}Hand", "hand_{s}", "Bip01 {S} Hand", "{s}_wrist"),
    "hand_end": ("{Side}HandEnd", "{S}Fingers", "{Side}InHandIndex", "{Side}HandIndex1"),
    "upleg": ("{Side}UpLeg", "{Side}Hip", "{s}Thigh", "thigh_{s}", "Bip01 {S} Thigh", "{Side}UpperLeg",
              "{s}_hip"),
    "leg": ("{Side}Leg", "{Side}Knee", "{s}Shin", "calf_{s}", "Bip01 {S} Calf", "{Side}LowLeg", "{s}_knee"),
    "foot": ("{Side}Foot", "{Side}Ankle", "{s}Foot", "foot_{s}", "Bip01 {S} Foot", "{s}_ankle"),
    "toe": ("{Side}ToeBase", "{Side}Toe", "ball_{s}", "Bip01 {S} Toe0"),
}
_ROLE_WORDS = {"upper_arm": "upper arm", "upleg": "up leg (thigh)", "leg": "leg (shin)", "hand_end": "hand end",
               "clavicle": "shoulder (clavicle)", "foot": "foot (ankle)", "chest": "chest (upper spine)"}

# Character joints: AD's 16 names and a few synonyms, by body part.
CHAR_CENTER = {"root": "root", "hip": "hip", "hips": "hip", "pelvis": "hip", "torso": "torso", "chest": "torso",
               "spine": "torso", "neck": "neck", "head": "head"}
CHAR_LIMB = {"shoulder": "shoulder", "elbow": "elbow", "hand": "hand", "wrist": "hand", "hip": "hip",
             "knee": "knee", "foot": "foot", "ankle": "foot"}
ARM_PARTS = ("shoulder", "elbow", "hand")
LEG_PARTS = ("hip", "knee", "foot")


def role_key(role: str, side: str | None) -> str:
    """'forearm', 'left' → 'left_forearm'; centre roles have no side."""
    return f"{side}_{role}" if side else role


def role_label(key: str) -> str:
    """'left_forearm' → 'left forearm', for messages."""
    side, _, role = key.partition("_")
    if side not in ("left", "right"):
        return _ROLE_WORDS.get(key, key.replace("_", " "))
    return f"{side} {_ROLE_WORDS.get(role, role.replace('_', ' '))}"


def role_examples(key: str) -> list[str]:
    """Example BVH names for a role key such as 'left_forearm'."""
    side, _, role = key.partition("_")
    if side not in ("left", "right"):
        return list(ROLE_EXAMPLES.get(key, ()))
    fill = {"Side": side.title(), "S": side[0].upper(), "s": side[0]}
    return [t.format(**fill) for t in ROLE_EXAMPLES.get(role, ())]


def strip_namespace(name: str) -> str:
    """Drop ``mixamorig:``, ``Armature|``, ``Bip01 ``, ``Character1_`` and similar prefixes."""
    return _TOOL_PREFIX.sub("", _NAMESPACE.sub("", name.strip()))


def namespace_of(name: str) -> str:
    """The prefix :func:`strip_namespace` removes (``'mixamorig:'``, ``'Bip01 '``), or ''."""
    rest = strip_namespace(name)
    return name.strip()[: len(name.strip()) - len(rest)] if rest else name.strip()


def words(name: str) -> list[str]:
    """Words of a name, split at separators, camelCase and digits: 'LHipJoint' → ['L', 'Hip', 'Joint']."""
    out: list[str] = []
    for part in _SEPARATORS.split(name):
        out.extend(_WORD.findall(part))
    return out


def _known_limb_base(base: str) -> bool:
    return base in AMBIGUOUS_LIMB or any(base in aliases for aliases in LIMB_ALIASES.values())


@dataclass(frozen=True)
class NameParts:
    """A parsed joint name: side ('left', 'right' or None), lowercase base word, variant (char joints)."""

    side: str | None
    base: str
    variant: str = ""


def _take_side(tokens: list[str]) -> tuple[str | None, list[str]]:
    if len(tokens) > 1 and tokens[0].lower() in _SIDES:
        return _SIDES[tokens[0].lower()], tokens[1:]
    if len(tokens) > 1 and tokens[-1].lower() in _SIDES:
        return _SIDES[tokens[-1].lower()], tokens[:-1]
    return None, tokens


def parse_bvh_name(name: str) -> NameParts:
    """'mixamorig:LeftForeArm' → (left, 'forearm'); 'Bip01 L Thigh' → (left, 'thigh'); 'lhand' → (left, 'hand')."""
    side, tokens = _take_side(words(strip_namespace(name)))
    base = "".join(tokens).lower()
    if side is None and not _known_limb_base(base):
        for glued in ("left", "right", "l", "r"):  # all-lowercase names such as CMU's "lhand"
            if base.startswith(glued) and _known_limb_base(base[len(glued):]):
                return NameParts(_SIDES[glued], base[len(glued):])
    return NameParts(side, base)


def parse_char_name(name: str) -> NameParts:
    """'right_elbow2' → (right, 'elbow', '2'); 'left_knee_f' → (left, 'knee', 'f'); 'neck' → (None, 'neck')."""
    tokens = words(name)
    variant = ""
    if len(tokens) > 1 and (tokens[-1].isdigit() or tokens[-1].lower() in _VARIANTS):
        variant, tokens = tokens[-1].lower(), tokens[:-1]
    side, tokens = _take_side(tokens)
    return NameParts(side, "".join(tokens).lower(), variant)


def variant_rank(variant: str) -> tuple[int, int]:
    """Sort key: no variant, then numbers ascending, front before back (AD's six_arms / four_legs order)."""
    if not variant:
        return (0, 0)
    if variant.isdigit():
        return (1, int(variant))
    return (2, _VARIANTS.get(variant, 9))


def char_part(parts: NameParts) -> str | None:
    """AD body part of a parsed character joint name, or None when it is not one we know."""
    if parts.side is None:
        return CHAR_CENTER.get(parts.base)
    return CHAR_LIMB.get(parts.base)


# Locating body roles in a BVH hierarchy: names first, the hierarchy to break ties and ambiguities.
SIDES = ("left", "right")
UPPER_CHAIN = ("clavicle", "upper_arm", "forearm", "hand", "hand_end")
LOWER_CHAIN = ("upleg", "leg", "foot", "toe")
_UPPER_ARM_WORDS = set(LIMB_ALIASES["upper_arm"])
_CLAVICLE_WORDS = set(LIMB_ALIASES["clavicle"])
_UPLEG_WORDS = set(LIMB_ALIASES["upleg"]) | {"hip"}


class BvhTree:
    """Parent/child/depth lookups over a BVH's joints (End Sites excluded)."""

    def __init__(self, bvh: Bvh) -> None:
        self.names, self.parents = bvh.names, bvh.parents
        self.joints = [j for j in range(len(bvh.names)) if j not in bvh.end_sites]
        self.parts = {j: parse_bvh_name(bvh.names[j]) for j in self.joints}
        self.children: dict[int, list[int]] = {j: [] for j in range(len(bvh.names))}
        self.depth = [0] * len(bvh.names)
        for j, p in enumerate(bvh.parents):
            if p >= 0:
                self.children[p].append(j)
                self.depth[j] = self.depth[p] + 1

    def ancestors(self, j: int) -> list[int]:
        """j, its parent, ... up to the root."""
        out = [j]
        while self.parents[out[-1]] >= 0:
            out.append(self.parents[out[-1]])
        return out

    def is_below(self, j: int, anchor: int | None) -> bool:
        return anchor is None or anchor in self.ancestors(j)[1:]

    def common_ancestor(self, a: int, b: int) -> int:
        up = set(self.ancestors(a))
        return next(j for j in self.ancestors(b) if j in up)


def _limb_role(tree: BvhTree, j: int) -> str | None:
    """Role of a sided joint, resolving CMU's 'Shoulder' (upper arm under a Collar) and 'Hip' (thigh)."""
    base = tree.parts[j].base
    kids = [tree.parts[c].base for c in tree.children[j] if c in tree.parts]
    if base == "shoulder":
        parent = tree.parents[j]
        if parent >= 0 and parent in tree.parts and tree.parts[parent].base in _CLAVICLE_WORDS:
            return "upper_arm"
        return "clavicle" if any(k in _UPPER_ARM_WORDS or k == "shoulder" for k in kids) else "upper_arm"
    if base == "hip":  # a pelvis-side bone above the thigh (CMU's LHipJoint is one too) is not a role
        return None if any(k in _UPLEG_WORDS for k in kids) else "upleg"
    return next((role for role, aliases in LIMB_ALIASES.items() if base in aliases), None)


def _pick(tree: BvhTree, cands: list[int], anchor: int | None, by_alias: str | None = None) -> int | None:
    """The most proximal candidate below ``anchor`` (any candidate when none is below it)."""
    if not cands:
        return None
    below = [c for c in cands if tree.is_below(c, anchor)] or cands
    if by_alias:
        order = LIMB_ALIASES[by_alias]
        return min(below, key=lambda c: (order.index(tree.parts[c].base), tree.depth[c]))
    return min(below, key=lambda c: (tree.depth[c], c))


def find_roles(tree: BvhTree) -> dict[str, int]:
    """Role key ('hips', 'chest', 'left_forearm', ...) → joint index, for every role this BVH has."""
    found: dict[str, list[int]] = {}
    for j in tree.joints:
        part = tree.parts[j]
        if part.side is None:
            role = next((r for r, aliases in CENTER_ALIASES.items() if part.base in aliases), None)
        else:
            role = _limb_role(tree, j)
        if role is not None:
            found.setdefault(role_key(role, part.side), []).append(j)
    roles: dict[str, int] = {}
    for side in SIDES:
        for chain in (UPPER_CHAIN, LOWER_CHAIN):
            anchor = None
            for role in chain:
                pick = _pick(tree, found.get(role_key(role, side), []), anchor,
                             "hand_end" if role == "hand_end" else None)
                if pick is not None:
                    roles[role_key(role, side)] = pick
                    anchor = pick if role != "hand_end" else anchor
    hips = _pick(tree, found.get("hips", []), None)
    if hips is None and "left_upleg" in roles and "right_upleg" in roles:
        hips = tree.common_ancestor(roles["left_upleg"], roles["right_upleg"])
    head = _pick(tree, found.get("head", []), hips)
    neck = _pick(tree, [n for n in found.get("neck", []) if head is None or tree.is_below(head, n)], hips)
    for key, index in (("hips", hips), ("head", head), ("neck", neck)):
        if index is not None:
            roles[key] = index
    chest = _chest(tree, roles)
    if chest is not None:
        roles["chest"] = chest
        trunk = trunk_path(tree, roles)
        if len(trunk) > 2 and trunk[1] != chest:
            roles["spine"] = trunk[1]
    return roles


def _chest(tree: BvhTree, roles: dict[str, int]) -> int | None:
    """The upper-spine joint the arms hang from (fair1 Spine3, CMU Chest2, mixamo Spine2, Biped Spine1)."""
    tops = [roles.get(f"{s}_clavicle", roles.get(f"{s}_upper_arm")) for s in SIDES]
    hips, neck, head = roles.get("hips"), roles.get("neck"), roles.get("head")
    chest = tree.common_ancestor(tops[0], tops[1]) if None not in tops else None  # type: ignore[arg-type]
    while chest is not None and chest in (neck, head) and tree.parents[chest] >= 0:
        chest = tree.parents[chest]  # Biped hangs the clavicles from the neck
    if chest is None or chest == hips or (hips is not None and not tree.is_below(chest, hips)):
        upper = neck if neck is not None else head
        if upper is None:
            return None
        parent = tree.parents[upper]
        chest = parent if parent >= 0 and parent != hips and tree.is_below(parent, hips) else upper
    return chest


def trunk_path(tree: BvhTree, roles: dict[str, int]) -> list[int]:
    """Hips, the spine joints, neck and head, root first."""
    top = next((roles[k] for k in ("head", "neck", "chest") if k in roles), None)
    hips = roles.get("hips")
    if top is None or hips is None:
        return [j for j in (hips,) if j is not None]
    if not tree.is_below(top, hips):
        return [hips] + [roles[k] for k in ("chest", "neck", "head") if k in roles]
    path = tree.ancestors(top)
    return path[: path.index(hips) + 1][::-1]


def family_name(tree: BvhTree, prefix: str) -> str:
    """Which naming convention the joint names follow: 'mixamo', '3dsmax', 'cmu', ... or 'biped' (generic)."""
    bases = {p.base for p in tree.parts.values()}
    if prefix.lower().startswith("mixamorig"):
        return "mixamo"
    if prefix.lower().startswith("bip"):
        return "3dsmax"
    if bases & {"hipjoint", "lowerback", "lowerneck"}:
        return "cmu"
    if any(b.startswith("inhand") for b in bases):
        return "rokoko"
    if {"handend", "spine3"} <= bases and {"upleg", "forearm"} <= bases:
        return "fair1"
    if bases & {"shldr", "abdomen"}:
        return "daz"
    if {"upperarm", "lowerarm", "calf"} <= bases:
        return "unreal"
    if {"upleg", "forearm", "arm"} <= bases:
        return "mixamo"
    return "biped"
