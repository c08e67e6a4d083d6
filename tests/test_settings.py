"""Persisted user settings: round trip, tolerant reading, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

from studio.core.settings import AppSettings
from studio.core.share import ShareSettings


def test_settings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = AppSettings(backend="torchserve", endpoint="http://127.0.0.1:8080",
                           share=ShareSettings(bucket="b", endpoint_url="http://s3", expires=3600))
    settings.remember(tmp_path / "a.studio")
    settings.save(path)
    again = AppSettings.load(path)
    assert again == settings and again.recent == [str((tmp_path / "a.studio").resolve())]
    text = path.read_text().lower()
    assert "secret" not in text and "token" not in text and "password" not in text


def test_a_corrupt_or_odd_file_gives_defaults_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    settings = AppSettings.load(path)
    assert settings == AppSettings() and "unreadable" in settings.problems[0]
    path.write_text(json.dumps({"backend": "magic", "endpoint": 42, "share": {"expires": "soon", "bucket": "x"}}))
    settings = AppSettings.load(path)
    assert settings.backend == "auto" and settings.endpoint == "" and settings.share.expires == 7 * 24 * 3600
    assert settings.share.bucket == "x" and "unknown backend" in settings.problems[0]


def test_missing_file_is_the_defaults(tmp_path: Path) -> None:
    assert AppSettings.load(tmp_path / "none.json") == AppSettings()


def test_share_settings_are_one_class_and_a_secret_added_by_hand_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"share": {"bucket": "b", "endpoint_url": None, "aws_secret_access_key": "x"}}))
    settings = AppSettings.load(path)
    assert isinstance(settings.share, ShareSettings)
    assert settings.share == ShareSettings(bucket="b") and not hasattr(settings.share, "aws_secret_access_key")
    settings.save(path)
    assert "aws_secret" not in path.read_text()
