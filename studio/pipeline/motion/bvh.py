"""BVH motion-capture files read safely into a Bvh: hierarchy, channels and motion (written by bvh_writer)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.pipeline.files.capped_read import NotRegularFileError, open_regular, read_at_most
from studio.pipeline.quoting import excerpt

ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
_ALL_CHANNELS = ROTATION_CHANNELS + POSITION_CHANNELS
END_SITE_SUFFIX = "_end"


from studio.pipeline.motion.bvh_limits import (MAX_ABS_VALUE, MAX_BVH_BYTES, MAX_DEPTH, MAX_FRAME_TIME, MAX_FRAMES,
                                              MAX_HIERARCHY_BYTES, MAX_JOINT_FRAMES, MAX_JOINTS, MAX_NAME,
                                              MIN_FRAME_TIME, USABLE)

__all__ = ["Bvh", "BvhError", "parse_bvh", "read_bvh", "unusable_value", "MAX_ABS_VALUE", "MAX_BVH_BYTES", "MAX_DEPTH",
           "MAX_FRAME_TIME", "MAX_FRAMES", "MAX_HIERARCHY_BYTES", "MAX_JOINT_FRAMES", "MAX_JOINTS", "MAX_NAME",
           "MIN_FRAME_TIME", "USABLE", "ROTATION_CHANNELS", "POSITION_CHANNELS", "END_SITE_SUFFIX"]


class BvhError(ValueError):
    """A BVH file that cannot be read; the message names the file and line."""


@dataclass(frozen=True, eq=False)
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
_MOTION_LINE = re.compile(r"^[^\S\n]*MOTION", re.IGNORECASE | re.MULTILINE)
_FIRST_WORD = re.compile(r"\s*(\S{1,40})")


class _Tokens:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, line: int | None = None) -> BvhError:
        where = f"{self.source}, line {line}" if line else self.source
        return BvhError(f"{where}: {message}")


def _parse_float(token: str, tokens: _Tokens, line: int, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise tokens.error(f"expected a number for {what}, found {excerpt(token)}", line) from None
    if not abs(value) < MAX_ABS_VALUE:
        raise tokens.error(f"{what} {excerpt(token)} is not a usable number: {USABLE}", line)
    return value


def _line_number(text: str, index: int) -> int:
    """1-based number of the line holding ``text[index]``."""
    return text.count("\n", 0, index) + 1


def parse_bvh(text: str, source: str = "<bvh>") -> Bvh:
    """Parse BVH text. Any rotation order, End Sites, and numbers like ``.03333`` are accepted.

    The caps above are checked before anything large is built; over one, BvhError says which.
    """
    tok = _Tokens(source)
    if len(text) > MAX_BVH_BYTES:
        raise tok.error(f"larger than {MAX_BVH_BYTES // 2**20} MB, the most a BVH file may hold")
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark, as some Windows exporters write
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    first = _FIRST_WORD.match(text)
    if first is None or first.group(1).upper() != "HIERARCHY":
        raise tok.error("not a BVH file: it must start with HIERARCHY", _line_number(text, first.start(1)) if first
                        else 1)
    found = _MOTION_LINE.search(text)
    if found is None:
        raise tok.error("no MOTION section: the file is truncated", max(text.count("\n") + (text[-1:] != "\n"), 1))
    if found.start() > MAX_HIERARCHY_BYTES:
        raise tok.error(f"the HIERARCHY section is {found.start() // 1024} KB; at most {MAX_HIERARCHY_BYTES // 1024}"
                        " KB is read (a 73-joint skeleton takes 12 KB)")
    motion_line = _line_number(text, found.start())
    names, parents, offsets, channels, end_sites = _parse_hierarchy(text[:found.start()], motion_line, tok)
    motion, frame_time = _parse_motion(text, found.start(), motion_line, names, channels, tok)
    return Bvh(tuple(names), tuple(parents), np.array(offsets, float), tuple(channels), motion,
               frame_time, frozenset(end_sites))


def _parse_hierarchy(text: str, motion_line: int, tok: _Tokens) -> tuple[
        list[str], list[int], list[list[float]], list[tuple[str, ...]], set[int]]:
    """Joints of the HIERARCHY section ``text`` (the lines before MOTION): names, parents, offsets, channels, End Sites.
    """
    # Tokenise line by line so errors can name lines.
    stream = [(m.group(0), number) for number, raw_line in enumerate(text.split("\n"), start=1)
              for m in _TOKEN.finditer(raw_line)]
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

    def add_joint(name: str, parent: int, line: int) -> None:
        nonlocal pending
        if len(names) >= MAX_JOINTS:
            raise tok.error(f"more than {MAX_JOINTS} joints; a BVH skeleton may have at most {MAX_JOINTS}", line)
        if len(name) > MAX_NAME:
            raise tok.error(f"joint name {excerpt(name)} is longer than {MAX_NAME} characters", line)
        names.append(name)
        parents.append(parent)
        offsets.append([0.0, 0.0, 0.0])
        channels.append(())
        pending = len(names) - 1

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
                raise tok.error(f"JOINT {excerpt(name)} outside any ROOT", line)
            if key == "ROOT" and names:
                raise tok.error("more than one ROOT: only one skeleton per file is supported", line)
            if name in names:
                raise tok.error(f"joint name {excerpt(name)} appears twice", line)
            add_joint(name, stack[-1] if stack else -1, line)
        elif key == "END":
            site, _ = take()
            if site.upper() != "SITE":
                raise tok.error(f"expected 'End Site', found 'End' {excerpt(site)}", line)
            if not stack:
                raise tok.error("End Site outside any joint", line)
            add_joint(names[stack[-1]] + END_SITE_SUFFIX, stack[-1], line)
            end_sites.add(len(names) - 1)
        elif word == "{":
            if pending is None:
                raise tok.error("'{' without a joint", line)
            if len(stack) >= MAX_DEPTH:
                raise tok.error(f"joints nest more than {MAX_DEPTH} levels deep", line)
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
            channels[stack[-1]] = _channels(take()[0], take, stack[-1], line, names, end_sites, tok)
        elif any(word.lower() == c.lower() for c in _ALL_CHANNELS):
            raise tok.error(f"channel name {word!r} outside a CHANNELS list (is a CHANNELS count too small?)", line)
        else:
            raise tok.error(f"unknown keyword {excerpt(word)} in HIERARCHY", line)
    if stack:
        raise tok.error(f"joint {excerpt(names[stack[-1]])} is not closed with '}}' before MOTION", motion_line)
    if not names:
        raise tok.error("HIERARCHY has no ROOT", motion_line)
    return names, parents, offsets, channels, end_sites


def _channels(count_token: str, take: Callable[[], tuple[str, int]], joint: int, line: int, names: list[str],
              end_sites: set[int], tok: _Tokens) -> tuple[str, ...]:
    """The channel names of one ``CHANNELS n ...`` line, canonically spelt, after its count ``count_token``."""
    if not count_token.isdigit():
        raise tok.error(f"CHANNELS count must be an integer, found {excerpt(count_token)}", line)
    if len(count_token) > 1 or int(count_token) > len(_ALL_CHANNELS):
        raise tok.error(f"CHANNELS count {excerpt(count_token)} is more than the {len(_ALL_CHANNELS)} channels "
                        "there are", line)
    if joint in end_sites:
        raise tok.error("an End Site cannot have CHANNELS", line)
    found = []
    for _ in range(int(count_token)):
        channel, ln = take()
        canonical = next((c for c in _ALL_CHANNELS if c.lower() == channel.lower()), None)
        if canonical is None or ln != line:
            raise tok.error(f"CHANNELS {count_token} on joint {excerpt(names[joint])}: "
                            f"expected {count_token} channel names, found {excerpt(channel)}", line)
        found.append(canonical)
    if len(set(found)) != len(found):
        raise tok.error(f"repeated channel on joint {excerpt(names[joint])}", line)
    return tuple(found)


def _next_line(text: str, start: int) -> tuple[str, int]:
    """The line of ``text`` that begins at ``start``, and where the next one begins."""
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    return text[start:end], end + 1


def _header_value(text: str, start: int, line: int, label: str, tok: _Tokens) -> tuple[str, int]:
    """The value of the ``label: value`` line ``line`` (1-based) that begins at ``start``, and the next line's start."""
    if start >= len(text):
        raise tok.error(f"missing '{label}' line after MOTION: the file is truncated", line - 1)
    raw, after = _next_line(text, start)
    head, _, value = raw.strip().partition(":")
    if " ".join(head.split()).lower() != label.lower() or not value.strip():  # "Frame\tTime:" too
        raise tok.error(f"expected '{label}: ...', found {excerpt(raw.strip())}", line)
    return value.strip(), after


def _parse_motion(text: str, start: int, motion_line: int, names: list[str], channels: list[tuple[str, ...]],
                  tok: _Tokens) -> tuple[np.ndarray, float]:
    """The MOTION section of ``text``, which begins at ``start`` on line ``motion_line``: (F, C) values, frame time.

    The header's frame count is checked against the caps before the frame lines are counted, and the frame lines
    are counted before any is parsed, so a lying header cannot make the reader build more than the caps allow.
    """
    _, after = _next_line(text, start)
    frames_text, after = _header_value(text, after, motion_line + 1, "Frames", tok)
    if not frames_text.isdigit():
        raise tok.error(f"Frames must be a whole number, found {excerpt(frames_text)}", motion_line + 1)
    if len(frames_text) > 9 or int(frames_text) > MAX_FRAMES:
        raise tok.error(f"Frames: {excerpt(frames_text)} is more than the {MAX_FRAMES} a BVH clip may have",
                        motion_line + 1)
    n_frames = int(frames_text)
    if n_frames * len(names) > MAX_JOINT_FRAMES:
        raise tok.error(f"{n_frames} frames of {len(names)} joints is more than the {MAX_JOINT_FRAMES:,} "
                        "joint-frames a clip may hold", motion_line + 1)
    time_text, after = _header_value(text, after, motion_line + 2, "Frame Time", tok)
    frame_time = _parse_float(time_text, tok, motion_line + 2, "Frame Time")
    if not MIN_FRAME_TIME <= frame_time <= MAX_FRAME_TIME:
        raise tok.error(f"Frame Time must be a positive number of seconds from {MIN_FRAME_TIME:g} to "
                        f"{MAX_FRAME_TIME:g}, found {frame_time:g}", motion_line + 2)
    first = motion_line + 2  # 0-based index of the first frame line
    end = _content_end(text, after)  # the frame lines are text[after:end], read in place: no copy of them
    n_lines = text.count("\n", after, end) + 1 if end > after else 0
    if n_lines < n_frames:
        raise tok.error(f"truncated motion: header says {n_frames} frames, file has {n_lines}",
                        first + n_lines or first)
    if n_lines > n_frames:
        raise tok.error(f"more frame lines than 'Frames: {n_frames}'", first + n_frames + 1)
    if n_frames == 0:
        raise tok.error("the clip has no frames", motion_line + 1)
    n_channels = sum(len(c) for c in channels)
    try:  # numpy's C reader, fed line by line: 0.13 s and no copy for 20,000 frames of 183 channels
        motion = np.loadtxt(_lines(text, after, end), dtype=float, comments=None, ndmin=2)
    except ValueError:
        motion = np.empty(0)
    if motion.shape != (n_frames, n_channels):  # a line it refused or skipped (blank): find and name it
        motion = _parse_frame_lines(_lines(text, after, end), n_frames, n_channels, first, tok)
    if bad := _unusable_motion(motion, names, channels):
        raise tok.error(f"{bad[1]} is not a usable number: {USABLE}", first + bad[0] + 1)
    return motion, frame_time


def _unusable_motion(motion: np.ndarray, names: Sequence[str], channels: Sequence[tuple[str, ...]]
                     ) -> tuple[int, str] | None:
    """The first frame holding a value past ±MAX_ABS_VALUE or not finite, and that value described."""
    bad = np.argwhere(~(np.abs(motion) < MAX_ABS_VALUE))
    if not len(bad):
        return None
    k, column = (int(v) for v in bad[0])
    ends = np.cumsum([len(c) for c in channels])  # one past each joint's last column
    joint = int(np.searchsorted(ends, column, side="right"))
    channel = channels[joint][column - (ends[joint] - len(channels[joint]))]
    return k, f"frame {k}: {names[joint]} {channel} {motion[k, column]:g}"


def unusable_value(bvh: Bvh) -> str | None:
    """The first OFFSET or channel value of ``bvh`` past ±MAX_ABS_VALUE or not finite, described; None if none is.

    parse_bvh refuses such files; this checks a Bvh built or scaled in code.
    """
    bad = np.argwhere(~(np.abs(bvh.offsets) < MAX_ABS_VALUE))
    if len(bad):
        joint, axis = (int(v) for v in bad[0])
        return f"{bvh.names[joint]} OFFSET {'XYZ'[axis]} {bvh.offsets[joint, axis]:g}"
    found = _unusable_motion(bvh.motion, bvh.names, bvh.channels)
    return found[1] if found else None


def _content_end(text: str, start: int) -> int:
    """Where ``text[start:]`` ends but for trailing whitespace (``rstrip`` would copy the whole text)."""
    end = len(text)
    while end > start:
        chunk = text[max(start, end - 4096):end]
        if kept := len(chunk.rstrip()):
            return end - len(chunk) + kept
        end -= len(chunk)
    return start


def _lines(text: str, start: int, end: int) -> Iterator[str]:
    """The lines of ``text[start:end]``, one at a time (``str.split`` would hold them all at once)."""
    while (stop := text.find("\n", start, end)) >= 0:
        yield text[start:stop]
        start = stop + 1
    yield text[start:end]


def _parse_frame_lines(lines: Iterator[str], n_frames: int, n_channels: int, first: int, tok: _Tokens) -> np.ndarray:
    """(F, C) values of the frame ``lines``, parsed in Python to name the first bad line (0-based ``first``)."""
    motion = np.empty((n_frames, n_channels), float)
    for k, line in enumerate(lines):
        parts = line.split()
        if len(parts) != n_channels:
            raise tok.error(f"frame {k} has {len(parts)} values, the HIERARCHY declares {n_channels} channels",
                            first + k + 1)
        for c, part in enumerate(parts):
            try:
                motion[k, c] = float(part)
            except ValueError:
                raise tok.error(f"frame {k}: {excerpt(part)} is not a number", first + k + 1) from None
    return motion


def read_bvh(path: str | Path) -> Bvh:
    """Read a BVH file; one over MAX_BVH_BYTES is refused without reading it whole."""
    return parse_bvh(_read_text(Path(path)), str(path))


def _read_text(path: Path) -> str:
    """The text of ``path``, decoded as UTF-8 (bad bytes replaced); the raw bytes are freed on return."""
    try:
        with open_regular(path) as stream:
            data = read_at_most(stream, MAX_BVH_BYTES)
    except FileNotFoundError:
        raise BvhError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BvhError(f"{path}: is a folder, not a BVH file") from None
    except NotRegularFileError as error:
        raise BvhError(str(error)) from None
    except OSError as error:
        raise BvhError(f"{path}: cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_BVH_BYTES:
        raise BvhError(f"{path}: larger than {MAX_BVH_BYTES // 2**20} MB, the most a BVH file may hold")
    return data.decode("utf-8", errors="replace")
