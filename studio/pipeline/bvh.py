"""BVH motion-capture files: parse, write, and forward kinematics to joint world positions."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.pipeline.atomic import atomic_write_path

ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
_ALL_CHANNELS = ROTATION_CHANNELS + POSITION_CHANNELS
END_SITE_SUFFIX = "_end"


class BvhError(ValueError):
    """A BVH file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Bvh:
    """A parsed BVH clip.

    names: joint names in file order; End Sites are joints named ``<parent>_end`` with no channels.
    parents: (J,) parent index per joint, -1 for the root; parents precede children.
    offsets: (J, 3) float64 rest offsets from the parent, file units.
    channels: per joint, the channel names in file order (e.g. ``("Zrotation", "Xrotation", "Yrotation")``).
    motion: (F, C) float64 channel values, C = sum of channel counts, degrees for rotations.
    frame_time: seconds per frame.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    motion: np.ndarray
    frame_time: float
    end_sites: frozenset[int] = field(default_factory=frozenset)

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered by the clip: n_frames × frame_time."""
        return self.n_frames * self.frame_time

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"BVH has no joint named {name!r}") from None

    def channel_offsets(self) -> np.ndarray:
        """(J,) index of each joint's first channel column in ``motion``."""
        counts = [len(c) for c in self.channels]
        return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)

    def with_motion(self, motion: np.ndarray, frame_time: float | None = None) -> "Bvh":
        return Bvh(self.names, self.parents, self.offsets, self.channels, np.asarray(motion, float),
                   self.frame_time if frame_time is None else frame_time, self.end_sites)


_TOKEN = re.compile(r"\S+")


class _Tokens:
    def __init__(self, text: str, source: str) -> None:
        self.items: list[tuple[str, int]] = []
        self.source = source
        self.lines = text.splitlines()
        self.pos = 0

    def error(self, message: str, line: int | None = None) -> BvhError:
        where = f"{self.source}, line {line}" if line else self.source
        return BvhError(f"{where}: {message}")


def _parse_float(token: str, tokens: _Tokens, line: int, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise tokens.error(f"expected a number for {what}, found {token!r}", line) from None
    if not math.isfinite(value):
        raise tokens.error(f"{what} is not a finite number ({token})", line)
    return value


def parse_bvh(text: str, source: str = "<bvh>") -> Bvh:
    """Parse BVH text. Any rotation order, End Sites, and numbers like ``.03333`` are accepted."""
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark, as some Windows exporters write
    lines = text.splitlines()
    tok = _Tokens(text, source)
    # Tokenise the hierarchy line by line so errors can name lines.
    stream: list[tuple[str, int]] = []
    motion_line = None
    for number, raw_line in enumerate(lines, start=1):
        stripped = raw_line.strip()
        if stripped.upper().startswith("MOTION"):
            motion_line = number
            break
        stream.extend((m.group(0), number) for m in _TOKEN.finditer(raw_line))
    if not stream or stream[0][0].upper() != "HIERARCHY":
        raise tok.error("not a BVH file: it must start with HIERARCHY", stream[0][1] if stream else 1)
    if motion_line is None:
        raise tok.error("no MOTION section: the file is truncated", max(len(lines), 1))

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    end_sites: set[int] = set()
    stack: list[int] = []
    i = 1
    pending: int | None = None  # joint whose '{' we expect

    def take() -> tuple[str, int]:
        nonlocal i
        if i >= len(stream):
            raise tok.error("unexpected end of HIERARCHY", stream[-1][1])
        item = stream[i]
        i += 1
        return item

    while i < len(stream):
        word, line = take()
        key = word.upper()
        if key in ("ROOT", "JOINT"):
            name, _ = take()
            # Names may contain spaces (3ds Max Biped: "Bip01 L Thigh"): the rest of the line is the name.
            while i < len(stream) and stream[i][1] == line and stream[i][0] != "{":
                name += " " + take()[0]
            if key == "ROOT" and stack:
                raise tok.error("ROOT inside another joint", line)
            if key == "JOINT" and not stack:
                raise tok.error(f"JOINT {name} outside any ROOT", line)
            if key == "ROOT" and names:
                raise tok.error("more than one ROOT: only one skeleton per file is supported", line)
            if name in names:
                raise tok.error(f"joint name {name!r} appears twice", line)
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            pending = len(names) - 1
        elif key == "END":
            site, _ = take()
            if site.upper() != "SITE":
                raise tok.error(f"expected 'End Site', found 'End {site}'", line)
            if not stack:
                raise tok.error("End Site outside any joint", line)
            parent = stack[-1]
            names.append(names[parent] + END_SITE_SUFFIX)
            parents.append(parent)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            end_sites.add(len(names) - 1)
            pending = len(names) - 1
        elif word == "{":
            if pending is None:
                raise tok.error("'{' without a joint", line)
            stack.append(pending)
            pending = None
        elif word == "}":
            if not stack:
                raise tok.error("unbalanced '}'", line)
            stack.pop()
        elif key == "OFFSET":
            if not stack:
                raise tok.error("OFFSET outside a joint", line)
            values = [take() for _ in range(3)]
            offsets[stack[-1]] = [_parse_float(v, tok, ln, "OFFSET") for v, ln in values]
        elif key == "CHANNELS":
            if not stack:
                raise tok.error("CHANNELS outside a joint", line)
            count_token, _ = take()
            if not count_token.isdigit():
                raise tok.error(f"CHANNELS count must be an integer, found {count_token!r}", line)
            joint = stack[-1]
            if joint in end_sites:
                raise tok.error("an End Site cannot have CHANNELS", line)
            found = []
            for _ in range(int(count_token)):
                channel, ln = take()
                canonical = next((c for c in _ALL_CHANNELS if c.lower() == channel.lower()), None)
                if canonical is None or ln != line:
                    raise tok.error(f"CHANNELS {count_token} on joint {names[joint]!r}: "
                                    f"expected {count_token} channel names, found {channel!r}", line)
                found.append(canonical)
            if len(set(found)) != len(found):
                raise tok.error(f"repeated channel on joint {names[joint]!r}", line)
            channels[joint] = tuple(found)
        elif any(word.lower() == c.lower() for c in _ALL_CHANNELS):
            raise tok.error(f"channel name {word!r} outside a CHANNELS list (is a CHANNELS count too small?)", line)
        else:
            raise tok.error(f"unknown keyword {word!r} in HIERARCHY", line)
    if stack:
        raise tok.error(f"joint {names[stack[-1]]!r} is not closed with '}}' before MOTION", motion_line)
    if not names:
        raise tok.error("HIERARCHY has no ROOT", motion_line)

    motion, frame_time = _parse_motion(lines, motion_line, sum(len(c) for c in channels), tok)
    return Bvh(tuple(names), tuple(parents), np.array(offsets, float), tuple(channels), motion,
               frame_time, frozenset(end_sites))


def _header_value(lines: list[str], index: int, label: str, tok: _Tokens) -> str:
    if index >= len(lines):
        raise tok.error(f"missing '{label}' line after MOTION: the file is truncated", index)
    line = lines[index].strip()
    head, _, value = line.partition(":")
    if head.strip().lower() != label.lower() or not value.strip():
        raise tok.error(f"expected '{label}: ...', found {line[:40]!r}", index + 1)
    return value.strip()


def _parse_motion(lines: list[str], motion_line: int, n_channels: int, tok: _Tokens) -> tuple[np.ndarray, float]:
    frames_text = _header_value(lines, motion_line, "Frames", tok)
    if not frames_text.isdigit():
        raise tok.error(f"Frames must be a whole number, found {frames_text!r}", motion_line + 1)
    n_frames = int(frames_text)
    frame_time = _parse_float(_header_value(lines, motion_line + 1, "Frame Time", tok), tok,
                              motion_line + 2, "Frame Time")
    if frame_time <= 0:
        raise tok.error(f"Frame Time must be positive, found {frame_time}", motion_line + 2)
    first = motion_line + 2  # 0-based index of the first frame line
    body = [ln for ln in lines[first:]]
    while body and not body[-1].strip():
        body.pop()
    if len(body) < n_frames:
        raise tok.error(f"truncated motion: header says {n_frames} frames, file has {len(body)}",
                        first + len(body) or first)
    if len(body) > n_frames and any(ln.strip() for ln in body[n_frames:]):
        raise tok.error(f"more frame lines than 'Frames: {n_frames}'", first + n_frames + 1)
    if n_frames == 0:
        raise tok.error("the clip has no frames", motion_line + 1)
    motion = np.empty((n_frames, n_channels), float)
    for k in range(n_frames):
        parts = body[k].split()
        if len(parts) != n_channels:
            raise tok.error(f"frame {k} has {len(parts)} values, the HIERARCHY declares {n_channels} channels",
                            first + k + 1)
        try:
            motion[k] = [float(p) for p in parts]
        except ValueError:
            bad = next(p for p in parts if not _is_float(p))
            raise tok.error(f"frame {k}: {bad!r} is not a number", first + k + 1) from None
        if not np.all(np.isfinite(motion[k])):
            raise tok.error(f"frame {k} contains NaN or infinity", first + k + 1)
    return motion, frame_time


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_bvh(path: str | Path) -> Bvh:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise BvhError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BvhError(f"{path}: is a folder, not a BVH file") from None
    return parse_bvh(text, str(path))


def format_bvh(bvh: Bvh, precision: int = 6) -> str:
    """BVH text for ``bvh``: tabs, End Sites restored, numbers with ``precision`` decimals."""
    out = ["HIERARCHY"]
    written: list[int] = []  # joints in the order their CHANNELS lines are written
    children: dict[int, list[int]] = {j: [] for j in range(len(bvh.names))}
    for j, p in enumerate(bvh.parents):
        if p >= 0:
            children[p].append(j)

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        offset = " ".join(f"{v:.{precision}f}" for v in bvh.offsets[j])
        if j in bvh.end_sites:
            out.extend([f"{pad}End Site", f"{pad}{{", f"{pad}\tOFFSET {offset}", f"{pad}}}"])
            return
        out.append(f"{pad}{'ROOT' if bvh.parents[j] < 0 else 'JOINT'} {bvh.names[j]}")
        out.append(f"{pad}{{")
        out.append(f"{pad}\tOFFSET {offset}")
        written.append(j)
        if bvh.channels[j]:
            out.append(f"{pad}\tCHANNELS {len(bvh.channels[j])} {' '.join(bvh.channels[j])}")
        for c in children[j]:
            emit(c, depth + 1)
        out.append(f"{pad}}}")

    emit(0, 0)
    out += ["MOTION", f"Frames: {bvh.n_frames}", f"Frame Time: {bvh.frame_time:.7g}"]
    # Motion columns follow the written hierarchy, which differs from bvh's order if that is not depth-first.
    starts = bvh.channel_offsets()
    columns = [starts[j] + c for j in written for c in range(len(bvh.channels[j]))]
    out += [" ".join(f"{v:.{precision}f}" for v in row) for row in bvh.motion[:, columns]]
    return "\n".join(out) + "\n"


def write_bvh(bvh: Bvh, path: str | Path, precision: int = 6) -> Path:
    """Write ``bvh`` atomically (temp file + rename)."""
    path = Path(path)
    with atomic_write_path(path) as tmp:
        tmp.write_text(format_bvh(bvh, precision), encoding="utf-8")
    return path


def _axis_rotations(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotation matrices about one axis."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    m = np.zeros(a.shape + (3, 3))
    i = "XYZ".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    m[:, i, i] = 1.0
    m[:, j, j] = c
    m[:, k, k] = c
    m[:, j, k] = -s
    m[:, k, j] = s
    return m


def local_transforms(bvh: Bvh) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint local rotation (F, J, 3, 3) and translation (F, J, 3) from the channels.

    Rotations compose in the channel order as written (``Z X Y`` gives Rz·Rx·Ry); position
    channels add to the OFFSET.
    """
    n_frames, n_joints = bvh.n_frames, len(bvh.names)
    rot = np.broadcast_to(np.eye(3), (n_frames, n_joints, 3, 3)).copy()
    trans = np.broadcast_to(bvh.offsets, (n_frames, n_joints, 3)).copy()
    starts = bvh.channel_offsets()
    for j, chans in enumerate(bvh.channels):
        for c, name in enumerate(chans):
            values = bvh.motion[:, starts[j] + c]
            if name in ROTATION_CHANNELS:
                rot[:, j] = rot[:, j] @ _axis_rotations(name[0], values)
            else:
                trans[:, j, "XYZ".index(name[0])] += values
    return rot, trans


def world_positions(bvh: Bvh) -> np.ndarray:
    """(F, J, 3) float64 world position of every joint (End Sites included), file units."""
    rot, trans = local_transforms(bvh)
    glob_rot = np.empty_like(rot)
    glob_pos = np.empty_like(trans)
    for j, p in enumerate(bvh.parents):
        if p < 0:
            glob_rot[:, j] = rot[:, j]
            glob_pos[:, j] = trans[:, j]
        else:
            glob_rot[:, j] = glob_rot[:, p] @ rot[:, j]
            glob_pos[:, j] = glob_pos[:, p] + np.einsum("fab,fb->fa", glob_rot[:, p], trans[:, j])
    return glob_pos
