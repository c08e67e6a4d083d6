"""Which motion to play: a bundled clip name, a BVH file or an AD motion config, with its retarget config."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from studio.pipeline.motion.bvh import Bvh, read_bvh
from studio.pipeline.motion.config import (ConfigError, MotionConfig, RetargetConfig, read_motion_config,
                                          read_retarget_config)

if TYPE_CHECKING:  # `studio motions` lists the clips without loading cv2 and numba, which a Character brings
    from studio.pipeline.character import Character

BUNDLED_RETARGET = "biped.retarget.yaml"
MOTION_SUFFIX = ".motion.yaml"


class MotionSourceError(ValueError):
    """A motion that cannot be found or used; the message says what to pass instead."""


@dataclass(frozen=True)
class MotionSource:
    """A BVH clip with the two configs that say how to play it on one character."""

    label: str
    bvh: Bvh
    motion_config: MotionConfig
    retarget_config: RetargetConfig
    notes: tuple[str, ...] = field(default=())


def motions_dir() -> Path:
    """The bundled motion library: ``$STUDIO_MOTIONS``, else the package ``studio.motions`` (the repository's
    ``motions/``, installed inside the package by the wheel; an editable install maps it there too)."""
    override = os.environ.get("STUDIO_MOTIONS")
    if override:
        return Path(override)
    from importlib import resources

    folder = resources.files("studio.motions")
    if not isinstance(folder, Path):  # a zipped install: the clips are not files on disk
        raise MotionSourceError(f"the bundled motions are not files on disk ({folder}); install the studio unzipped")
    return folder


def bundled_motions() -> list[str]:
    """Names of the bundled clips, sorted."""
    folder = motions_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(MOTION_SUFFIX)] for p in folder.glob(f"*{MOTION_SUFFIX}"))


def _fits(config: RetargetConfig, character: Character) -> bool:
    needed = set(config.joint_mapping) | {j for c in config.root_offset.char_chains for j in c}
    return needed <= set(character.names)


def _resolve_bvh_path(config: MotionConfig, config_path: Path, notes: list[str]) -> Path:
    """The clip an AD motion config's ``filepath`` names, as an absolute path so that errors name the file read.

    The filepath must name a ``.bvh`` file: anything else (``../../../etc/passwd``) is refused before anything is
    opened. A relative path is tried beside the config, then from the current folder (AD's own configs point into
    AD's tree, ``examples/bvh/fair1/dab.bvh``, from the folder AD runs in), then a BVH named ``<name>`` or
    ``*_<name>`` beside the config or in a ``bvh/`` folder next to it or up to two levels up (a note says which
    file was picked).
    """
    beside = _beside(config, config_path)
    try:
        found = _find_bvh(config, config_path, beside, notes)
    except OSError as error:  # a name too long for the file system, say
        raise MotionSourceError(f"{config_path}: its filepath {_quote(config.filepath)} cannot be looked up "
                                f"({error.strerror}); pass the clip with --bvh FILE.bvh") from None
    if found is None:
        raise MotionSourceError(f"{config_path}: its filepath {_quote(config.filepath)} does not exist (not at "
                                f"{_quote(str(beside))}); pass the clip with --bvh FILE.bvh")
    return found


def _beside(config: MotionConfig, config_path: Path) -> Path:
    """The config's filepath taken from the config's folder, absolute; MotionSourceError unless it names a .bvh file."""
    beside = Path(os.path.abspath(config_path.parent / config.filepath))
    if beside.suffix.lower() != ".bvh":
        raise MotionSourceError(f"{config_path}: its filepath {_quote(config.filepath)} (resolved to "
                                f"{_quote(str(beside))}) is not a .bvh file; pass the clip with --bvh FILE.bvh")
    return beside


def _find_bvh(config: MotionConfig, config_path: Path, beside: Path, notes: list[str]) -> Path | None:
    """The first of _resolve_bvh_path's candidates that is a file, absolute; None when none is."""
    raw = Path(config.filepath)
    for candidate in (beside, raw, config_path.parent / raw.name):
        if candidate.is_file():
            return Path(os.path.abspath(candidate))
    folders = [config_path.parent, config_path.parent / "bvh", config_path.parent.parent / "bvh",
               config_path.parent.parent.parent / "bvh"]
    for folder in folders:
        if folder.is_dir():
            found = sorted(p for p in folder.glob("*" + glob.escape(raw.name))
                           if p.name == raw.name or p.name.endswith("_" + raw.name))
            if found:
                notes.append(f"{config_path.name}: filepath {config.filepath} not found; using {found[0]}")
                return Path(os.path.abspath(found[0]))
    return None


def _quote(text: str, limit: int = 120) -> str:
    """``text`` quoted for a message, its middle cut out past ``limit`` characters (a path's ends matter most)."""
    return repr(text if len(text) <= limit else text[:limit // 2] + "…" + text[-limit // 2:])


def load_motion(spec: str, character: Character, retarget_path: str | Path | None = None,
                bvh_path: str | Path | None = None) -> MotionSource:
    """Resolve ``spec`` (bundled NAME, FILE.bvh or MOTION_CFG.yaml) into a playable MotionSource.

    Without a retarget config, or when the given one names joints the character lacks, the mapping is
    built automatically from the BVH's joint names (studio.pipeline.motion.automap).
    """
    notes: list[str] = []
    path = Path(spec)
    motion_config: MotionConfig | None = None
    retarget_config: RetargetConfig | None = None
    if spec in bundled_motions() and not path.is_file():
        folder = motions_dir()
        config_path = folder / f"{spec}{MOTION_SUFFIX}"
        motion_config = read_motion_config(config_path)
        bvh = read_bvh(Path(bvh_path) if bvh_path else _beside(motion_config, config_path))
        if retarget_path is None and (folder / BUNDLED_RETARGET).is_file():
            retarget_config = read_retarget_config(folder / BUNDLED_RETARGET)
        label = spec
    elif path.suffix.lower() == ".bvh":
        bvh = read_bvh(path)
        label = path.stem
    elif path.suffix.lower() in (".yaml", ".yml"):
        motion_config = read_motion_config(path)
        bvh = read_bvh(Path(bvh_path) if bvh_path else _resolve_bvh_path(motion_config, path, notes))
        label = path.stem
    else:
        known = ", ".join(bundled_motions()) or "none installed"
        if not path.exists():
            raise MotionSourceError(f"unknown motion {spec!r}: give a bundled name ({known}), a .bvh file or an "
                                    "AD motion config .yaml")
        raise MotionSourceError(f"{spec}: not a .bvh or .yaml motion file")
    if retarget_path is not None:
        retarget_config = read_retarget_config(retarget_path)
    if retarget_config is not None and not _fits(retarget_config, character):
        notes.append(f"retarget config {Path(retarget_config.source).name or 'given'} does not fit this "
                     "character's joints: mapping built automatically")
        retarget_config = None
    if motion_config is None:
        from studio.pipeline.motion.automap import infer_motion_config_with_notes  # only for a bare BVH

        motion_config, auto_notes = infer_motion_config_with_notes(bvh, str(path))
        notes.extend(auto_notes)
    if retarget_config is None:
        from studio.pipeline.motion.automap import infer_retarget_config

        parents = [character.parent_name(j) for j in range(len(character.names))]
        retarget_config = infer_retarget_config(bvh, character.names, parents,
                                                char_locations=character.rest.tolist())
        notes.extend(retarget_config.notes)
    return MotionSource(label, bvh, motion_config, retarget_config, tuple(notes))


__all__ = ["MotionSource", "MotionSourceError", "ConfigError", "bundled_motions", "load_motion", "motions_dir"]
