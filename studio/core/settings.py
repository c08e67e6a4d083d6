"""The user's persisted settings (backend, endpoint, S3 share, folders) in a JSON file under platformdirs."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.core.share import MAX_EXPIRES, ShareSettings
from studio.pipeline.files.atomic import atomic_write_path

BACKENDS = ("auto", "embedded", "manual", "torchserve", "torch", "mm")
APP_NAME = "drawing-studio"


def config_dir() -> Path:
    """``$STUDIO_CONFIG_DIR`` or the platform's user config folder."""
    override = os.environ.get("STUDIO_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME))


@dataclass
class AppSettings:
    """backend: auto (torchserve when an endpoint is set, else embedded when installed, else manual), embedded,
    manual, torchserve, torch or mm; endpoint: TorchServe's base URL; checkpoint: .pth/.mar for
    torch and mm. The TorchServe token is read from $STUDIO_TORCHSERVE_TOKEN, never stored."""

    backend: str = "auto"
    endpoint: str = ""
    checkpoint: str = ""
    share: ShareSettings = field(default_factory=ShareSettings)
    last_folder: str = ""
    export_folder: str = ""
    recent: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def load(cls, path: Path | None = None) -> "AppSettings":
        """The saved settings; defaults (with a note in ``problems``) when the file is missing or unreadable."""
        path = path or config_dir() / "settings.json"
        settings = cls()
        if not path.is_file():
            return settings
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            settings.problems.append(f"{path}: unreadable ({exc}); using the defaults")
            return settings
        for f in fields(cls):
            if f.name in data and f.name not in ("share", "problems"):
                setattr(settings, f.name, _typed(data[f.name], getattr(settings, f.name)))
        share = data.get("share")
        if isinstance(share, dict):
            for f in fields(ShareSettings):
                if f.name in share:
                    setattr(settings.share, f.name, _typed(share[f.name], getattr(settings.share, f.name)))
        if not 1 <= settings.share.expires <= MAX_EXPIRES:
            settings.problems.append(f"share link expiry {settings.share.expires} s in {path} is outside 1 s..7 days: "
                                     "using 7 days")
            settings.share.expires = MAX_EXPIRES
        if settings.backend not in BACKENDS:
            settings.problems.append(f"unknown backend {settings.backend!r} in {path}: using auto")
            settings.backend = "auto"
        return settings

    def save(self, path: Path | None = None) -> Path:
        path = path or config_dir() / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data.pop("problems")
        with atomic_write_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path

    def export_dir(self) -> Path:
        """Where one-click exports go: the chosen folder, else Pictures/Drawing Studio."""
        if self.export_folder:
            return Path(self.export_folder)
        from platformdirs import user_pictures_dir

        return Path(user_pictures_dir()) / "Drawing Studio"

    def remember(self, path: str | Path, keep: int = 8) -> None:
        text = str(Path(path).resolve())
        self.recent = [text] + [p for p in self.recent if p != text][: keep - 1]
        self.last_folder = str(Path(text).parent)


def _typed(value: Any, default: Any) -> Any:
    """``value`` when it has the default's type (int for float too), else the default."""
    if isinstance(default, bool) or default is None:
        return value if isinstance(value, bool) else default
    if isinstance(default, list):
        return [str(v) for v in value] if isinstance(value, list) else default
    if isinstance(default, float) and isinstance(value, int):
        return float(value)
    return value if isinstance(value, type(default)) else default
