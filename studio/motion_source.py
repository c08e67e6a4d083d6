"""Which motion to play: a bundled clip name, a BVH file or an AD motion config, with its retarget config."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from studio.pipeline.automap import auto_configs
from studio.pipeline.bvh import Bvh, read_bvh
from studio.pipeline.character import Character
from studio.pipeline.config import ConfigError, MotionConfig, RetargetConfig, read_motion_config, read_retarget_config

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
    """The bundled motion library: ``$STUDIO_MOTIONS`` or ``motions/`` beside the package."""
    override = os.environ.get("STUDIO_MOTIONS")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "motions"


def bundled_motions() -> list[str]:
    """Names of the bundled clips, sorted."""
    folder = motions_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(MOTION_SUFFIX)] for p in folder.glob(f"*{MOTION_SUFFIX}"))


def _fits(config: RetargetConfig, character: Character) -> bool:
    needed = set(config.joint_mapping) | {j for c in config.root_offset.char_chains for j in c}
    return needed <= set(character.names)


def _resolve_bvh_path(config: MotionConfig, config_path: Path) -> Path:
    """AD configs point into AD's tree (``examples/bvh/fair1/dab.bvh``): try it as given, beside the
    config, then a BVH of the same name (or ending in ``_<name>``) near the config."""
    raw = Path(config.filepath)
    candidates = [raw, config_path.parent / raw, config_path.parent / raw.name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    for base in (config_path.parent, *list(config_path.parents)[:3]):
        for folder in (base, base / "bvh"):
            if folder.is_dir():
                for found in sorted(folder.glob(f"*{raw.name}")):
                    if found.name == raw.name or found.name.endswith("_" + raw.name):
                        return found
    raise MotionSourceError(f"{config_path}: its filepath {config.filepath!r} does not exist; pass the clip with "
                            "--bvh FILE.bvh")


def load_motion(spec: str, character: Character, retarget_path: str | Path | None = None,
                bvh_path: str | Path | None = None) -> MotionSource:
    """Resolve ``spec`` (bundled NAME, FILE.bvh or MOTION_CFG.yaml) into a playable MotionSource.

    Without a retarget config, or when the given one names joints the character lacks, the mapping is
    built automatically from the BVH's joint names (studio.pipeline.automap).
    """
    notes: list[str] = []
    path = Path(spec)
    motion_config: MotionConfig | None = None
    retarget_config: RetargetConfig | None = None
    if spec in bundled_motions() and not path.is_file():
        folder = motions_dir()
        config_path = folder / f"{spec}{MOTION_SUFFIX}"
        motion_config = read_motion_config(config_path)
        bvh = read_bvh(Path(bvh_path) if bvh_path else folder / motion_config.filepath)
        if retarget_path is None and (folder / BUNDLED_RETARGET).is_file():
            retarget_config = read_retarget_config(folder / BUNDLED_RETARGET)
        label = spec
    elif path.suffix.lower() == ".bvh":
        bvh = read_bvh(path)
        label = path.stem
    elif path.suffix.lower() in (".yaml", ".yml"):
        motion_config = read_motion_config(path)
        bvh = read_bvh(Path(bvh_path) if bvh_path else _resolve_bvh_path(motion_config, path))
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
    if motion_config is None or retarget_config is None:
        auto_motion, auto_retarget, auto_notes = auto_configs(bvh, character.names,
                                                              [character.parent_name(j) for j in range(len(character.names))],
                                                              filepath=str(path),
                                                              char_locations=character.rest.tolist())
        notes.extend(auto_notes)
        motion_config = motion_config or auto_motion
        retarget_config = retarget_config or auto_retarget
    return MotionSource(label, bvh, motion_config, retarget_config, tuple(notes))


__all__ = ["MotionSource", "MotionSourceError", "ConfigError", "bundled_motions", "load_motion", "motions_dir"]
