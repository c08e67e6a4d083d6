"""AnimatedDrawings motion and retarget YAML configs: safe loading, validation, writing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studio.pipeline.files.atomic import atomic_write_path
from studio.pipeline.quoting import clip, excerpt
from studio.pipeline.files.capped_read import NotRegularFileError, open_regular, read_at_most

PROJECTION_METHODS = ("frontal", "sagittal", "pca")


class ConfigError(ValueError):
    """A motion or retarget config that cannot be used; the message names the file and field."""


# AD's configs are a few KB with no anchors and nesting under 6 levels; these caps are far above any real
# config and far below what hurts: a 500-byte "billion laughs" of nested aliases took 41 s and 5.4 GB (its
# error message alone held 2.8 GB), and a char_cfg.yaml nested 100k deep crashed with RecursionError.
MAX_YAML_BYTES = 1024 * 1024  # file size read at most
MAX_YAML_ALIASES = 64  # ``*name`` references per document
MAX_YAML_NODES = 100_000  # nodes per document, counting what every alias repeats
MAX_YAML_DEPTH = 64  # nested lists and mappings

class _LimitExceeded(yaml.YAMLError):
    """A document over one of the caps above; raised while composing, before anything is constructed."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class _TupleSafeLoader(yaml.SafeLoader):
    """SafeLoader that also accepts AD's ``!!python/tuple`` tags (as tuples), and nothing else unsafe.

    It counts while composing: aliases, nodes (an alias counts all the nodes it repeats) and nesting depth,
    and stops at the first cap exceeded, so neither memory nor recursion grows with a hostile document."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0
        self._nodes = 0
        self._weights: dict[int, int] = {}  # id(node) → nodes it expands to, aliases included

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _LimitExceeded(f"more than {MAX_YAML_ALIASES} aliases (*name references)", mark)
            node = super().compose_node(parent, index)
            self._count(self._weights.get(id(node), 1), mark)
            return node
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _LimitExceeded(f"nested more than {MAX_YAML_DEPTH} levels deep", mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        self._weights[id(node)] = 1 + sum(self._weights.get(id(c), 1) for c in children)
        self._count(1, mark)
        return node

    def _count(self, nodes: int, mark: Any) -> None:
        self._nodes += nodes
        if self._nodes > MAX_YAML_NODES:
            raise _LimitExceeded(f"more than {MAX_YAML_NODES} values, counting what aliases repeat", mark)


def _construct_tuple(loader: yaml.SafeLoader, node: yaml.Node) -> tuple[Any, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, "!!python/tuple must be a list", node.start_mark)
    return tuple(loader.construct_sequence(node, deep=True))


_TupleSafeLoader.add_constructor("tag:yaml.org,2002:python/tuple", _construct_tuple)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file safely; AD's ``!!python/tuple`` becomes a tuple. Raises ConfigError, also for a file
    over MAX_YAML_BYTES or a document over the alias, node or depth caps."""
    path = Path(path)
    try:
        with open_regular(path) as file:
            raw = read_at_most(file, MAX_YAML_BYTES)
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError(f"{path}: too large for a YAML config (over {MAX_YAML_BYTES // 1024} KB)")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a YAML text file ({exc.__class__.__name__})") from None
    except NotRegularFileError as exc:
        raise ConfigError(str(exc)) from None
    try:
        return yaml.load(text, Loader=_TupleSafeLoader)  # noqa: S506 - SafeLoader subclass
    except _LimitExceeded as exc:
        raise ConfigError(f"{path}, line {exc.problem_mark.line + 1}: refused YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: malformed YAML: {clip(str(problem))}") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors raise these on values they cannot build: an int of over 4300 digits, or an
        # explicit tag on a value it does not fit ("!!bool abc" is a KeyError, "!!timestamp" an AttributeError)
        raise ConfigError(f"{path}: unreadable value in YAML ({type(exc).__name__}: {clip(str(exc), 80)})") from None


def _require(data: dict[str, Any], key: str, source: str) -> Any:
    if key not in data or data[key] is None:
        raise ConfigError(f"{source}: missing required field '{key}'")
    return data[key]


def _names(value: Any, source: str, what: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source}: {what} must be a list of joint names, found {excerpt(value)}")
    return tuple(value)


@dataclass(frozen=True)
class MotionConfig:
    """AD's motion config: which BVH, which slice, and how to normalise it."""

    filepath: str
    groundplane_joint: str
    forward_perp_joint_vectors: tuple[tuple[str, str], ...]
    scale: float
    up: str = "+y"
    start_frame_idx: int = 0
    end_frame_idx: int | None = None
    frame_time: float | None = None
    source: str = ""

    @classmethod
    def from_dict(cls, data: Any, source: str = "<motion config>") -> "MotionConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a motion config must be a mapping of fields")
        pairs = _require(data, "forward_perp_joint_vectors", source)
        if not isinstance(pairs, (list, tuple)) or not pairs:
            raise ConfigError(f"{source}: forward_perp_joint_vectors must be a non-empty list of joint pairs")
        vectors = []
        for pair in pairs:
            names = _names(pair, source, "each forward_perp_joint_vectors entry")
            if len(names) != 2:
                raise ConfigError(f"{source}: forward_perp_joint_vectors entries are pairs, "
                                  f"found {excerpt(list(names))}")
            vectors.append((names[0], names[1]))
        up_raw = data.get("up", "+y")
        up = up_raw.strip() if isinstance(up_raw, str) else ""
        if up not in ("+y", "+z"):
            raise ConfigError(f"{source}: up must be '+y' or '+z', found {excerpt(up_raw)}")
        scale = _number(_require(data, "scale", source), source, "scale")
        if not 1e-6 <= scale <= 1e6:
            raise ConfigError(f"{source}: scale must be between 1e-6 and 1e6, found {scale:g}")
        start_raw = data.get("start_frame_idx")  # not ``or 0``: that reads ``false`` as frame 0
        start = 0 if start_raw is None else _integer(start_raw, source, "start_frame_idx")
        end_raw = data.get("end_frame_idx")
        end = None if end_raw is None else _integer(end_raw, source, "end_frame_idx")
        if start < 0 or (end is not None and end <= start):
            raise ConfigError(f"{source}: frame slice [{start}, {end}) is empty or negative")
        frame_time = data.get("frame_time")
        if frame_time is not None:
            frame_time = _number(frame_time, source, "frame_time")
            if not 1e-3 <= frame_time <= 10.0:
                raise ConfigError(f"{source}: frame_time must be between 0.001 and 10 seconds, found {frame_time:g}")
        ground = _require(data, "groundplane_joint", source)
        if not isinstance(ground, str):
            raise ConfigError(f"{source}: groundplane_joint must be a joint name")
        return cls(str(_require(data, "filepath", source)), ground, tuple(vectors), scale, up, start, end,
                   frame_time, source)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "filepath": self.filepath,
            "start_frame_idx": self.start_frame_idx,
            "end_frame_idx": self.end_frame_idx,
            "groundplane_joint": self.groundplane_joint,
            "forward_perp_joint_vectors": [list(p) for p in self.forward_perp_joint_vectors],
            "scale": self.scale,
            "up": self.up,
        }
        if self.frame_time is not None:
            data["frame_time"] = self.frame_time
        return data


def _number(value: Any, source: str, what: str) -> float:
    """A finite number (not a bool) or ConfigError naming the field."""
    if isinstance(value, bool):
        raise ConfigError(f"{source}: {what} must be a number, found {excerpt(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        raise ConfigError(f"{source}: {what} must be a number, found {excerpt(value)}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{source}: {what} must be a finite number, found {excerpt(value)}")
    return number


def _integer(value: Any, source: str, what: str) -> int:
    number = _number(value, source, what)
    if number != int(number):
        raise ConfigError(f"{source}: {what} must be a whole number, found {excerpt(value)}")
    return int(number)


def _list(value: Any, source: str, what: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{source}: {what} must be a list, found {type(value).__name__}")
    return list(value)


@dataclass(frozen=True)
class ProjectionGroup:
    """BVH joints projected onto one plane: ``frontal``, ``sagittal`` or ``pca``."""

    name: str
    bvh_joint_names: tuple[str, ...]
    method: str


@dataclass(frozen=True)
class BodypartGroup:
    """Character joints drawn together; their depth comes from ``bvh_depth_drivers``."""

    char_joints: tuple[str, ...]
    bvh_depth_drivers: tuple[str, ...]


@dataclass(frozen=True)
class RootOffset:
    """Chains whose length ratio scales the root motion, projected with ``projection_group``."""

    projection_group: str
    bvh_chains: tuple[tuple[str, ...], ...]
    char_chains: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class RetargetConfig:
    """AD's retarget config: how BVH bones drive character joints."""

    char_starting_location: tuple[float, float, float]
    projection_groups: tuple[ProjectionGroup, ...]
    bodypart_groups: tuple[BodypartGroup, ...]
    root_offset: RootOffset
    joint_mapping: dict[str, tuple[str, str]]
    runtime_checks: tuple[tuple[str, ...], ...] = ()
    source: str = ""
    notes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<retarget config>") -> "RetargetConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a retarget config must be a mapping of fields")
        start = _require(data, "char_starting_location", source)
        if not isinstance(start, (list, tuple)) or len(start) != 3:
            raise ConfigError(f"{source}: char_starting_location must be [x, y, z]")
        groups = []
        for g in _list(_require(data, "bvh_projection_bodypart_groups", source), source,
                       "bvh_projection_bodypart_groups"):
            if not isinstance(g, dict):
                raise ConfigError(f"{source}: each bvh_projection_bodypart_groups entry must be a mapping")
            method = str(_require(g, "method", source))
            if method not in PROJECTION_METHODS:
                raise ConfigError(f"{source}: projection method must be one of {PROJECTION_METHODS}, "
                                  f"found {excerpt(method)}")
            groups.append(ProjectionGroup(str(_require(g, "name", source)),
                                          _names(_require(g, "bvh_joint_names", source), source,
                                                 "bvh_joint_names"), method))
        bodyparts = []
        for g in _list(_require(data, "char_bodypart_groups", source), source, "char_bodypart_groups"):
            if not isinstance(g, dict):
                raise ConfigError(f"{source}: each char_bodypart_groups entry must be a mapping")
            bodyparts.append(BodypartGroup(_names(_require(g, "char_joints", source), source, "char_joints"),
                                           _names(_require(g, "bvh_depth_drivers", source), source,
                                                  "bvh_depth_drivers")))
        off = _require(data, "char_bvh_root_offset", source)
        if not isinstance(off, dict):
            raise ConfigError(f"{source}: char_bvh_root_offset must be a mapping")
        root = RootOffset(str(_require(off, "bvh_projection_bodypart_group_for_offset", source)),
                          tuple(_names(c, source, "bvh_joints chain")
                                for c in _list(_require(off, "bvh_joints", source), source, "bvh_joints")),
                          tuple(_names(c, source, "char_joints chain")
                                for c in _list(_require(off, "char_joints", source), source, "char_joints")))
        if root.projection_group not in {g.name for g in groups}:
            raise ConfigError(f"{source}: root offset group {excerpt(root.projection_group)} "
                              "is not a projection group")
        mapping_raw = _require(data, "char_joint_bvh_joints_mapping", source)
        if not isinstance(mapping_raw, dict):
            raise ConfigError(f"{source}: char_joint_bvh_joints_mapping must map joint → [bvh proximal, distal]")
        mapping = {}
        for joint, bones in mapping_raw.items():
            names = _names(bones, source, f"mapping of {excerpt(joint)}")
            if len(names) != 2:
                raise ConfigError(f"{source}: mapping of {excerpt(joint)} needs two BVH joints, "
                                  f"found {excerpt(list(names))}")
            mapping[str(joint)] = (names[0], names[1])
        checks = tuple(_names(c, source, "char_runtime_checks entry")
                       for c in _list(data.get("char_runtime_checks") or [], source, "char_runtime_checks"))
        for check in checks:
            if len(check) != 4 or check[0] != "above":
                raise ConfigError(f"{source}: unsupported runtime check {excerpt(list(check))}: "
                                  "only ['above', joint, line_start, line_end] exists")
        loc = tuple(_number(v, source, "char_starting_location") for v in start)
        return cls((loc[0], loc[1], loc[2]), tuple(groups), tuple(bodyparts), root, mapping, checks, source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "char_starting_location": list(self.char_starting_location),
            "bvh_projection_bodypart_groups": [
                {"bvh_joint_names": list(g.bvh_joint_names), "method": g.method, "name": g.name}
                for g in self.projection_groups],
            "char_bodypart_groups": [
                {"bvh_depth_drivers": list(g.bvh_depth_drivers), "char_joints": list(g.char_joints)}
                for g in self.bodypart_groups],
            "char_bvh_root_offset": {
                "bvh_projection_bodypart_group_for_offset": self.root_offset.projection_group,
                "bvh_joints": [list(c) for c in self.root_offset.bvh_chains],
                "char_joints": [list(c) for c in self.root_offset.char_chains]},
            "char_joint_bvh_joints_mapping": {k: list(v) for k, v in self.joint_mapping.items()},
            "char_runtime_checks": [list(c) for c in self.runtime_checks],
        }

    def group_of(self, bvh_joint: str) -> ProjectionGroup | None:
        """The projection group that lists ``bvh_joint`` (first match), or None."""
        return next((g for g in self.projection_groups if bvh_joint in g.bvh_joint_names), None)


def read_motion_config(path: str | Path) -> MotionConfig:
    return MotionConfig.from_dict(load_yaml(path), str(path))


def read_retarget_config(path: str | Path) -> RetargetConfig:
    return RetargetConfig.from_dict(load_yaml(path), str(path))


def write_yaml(data: Any, path: str | Path) -> Path:
    """Write plain YAML (lists, never python tags) atomically."""
    path = Path(path)
    with atomic_write_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
