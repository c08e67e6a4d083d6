"""YAML is read with bounded work: aliases, node count, nesting depth and file size are capped while composing;
booleans are not numbers; error messages quote a short excerpt, never the document."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.pipeline.motion import config
from studio.pipeline.character import CharacterError, read_character
from studio.pipeline.motion.config import ConfigError, MotionConfig, RetargetConfig, load_yaml
from studio.pipeline.quoting import excerpt

SHORT = 300  # characters an error message may take


def laughs(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs": each anchor lists the previous one ``width`` times, 500 bytes for 9**9 values."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def refused(path: Path, match: str) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        load_yaml(path)
    message = str(info.value)
    assert len(message) < SHORT and "\n" not in message
    return message


def test_billion_laughs_is_refused_before_it_is_built(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(laughs())
    assert path.stat().st_size < 1000
    refused(path, "refused YAML: more than .* (aliases|values)")


def test_few_aliases_that_repeat_a_large_anchor_are_counted_as_what_they_repeat(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    big = config.MAX_YAML_NODES // 50  # 50 aliases of it make more than MAX_YAML_NODES values
    path.write_text(f"a: &a [{', '.join(['1'] * big)}]\nb: [{', '.join(['*a'] * 50)}]\n")
    assert 50 < config.MAX_YAML_ALIASES
    refused(path, f"more than {config.MAX_YAML_NODES} values, counting what aliases repeat")


def test_an_alias_or_two_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("pair: &p [Hips, Spine]\nfirst: *p\nsecond: *p\n")
    assert load_yaml(path) == {"pair": ["Hips", "Spine"], "first": ["Hips", "Spine"], "second": ["Hips", "Spine"]}


@pytest.mark.parametrize("text", ["width: " + "[" * 100_000 + "]" * 100_000 + "\n",
                                  "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v\n"])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "char_cfg.yaml"
    path.write_text(text)
    refused(path, f"nested more than {config.MAX_YAML_DEPTH} levels deep")


def test_a_file_over_the_size_cap_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# padding\n" * (config.MAX_YAML_BYTES // 10 + 1))  # valid YAML: only comments
    refused(path, "too large for a YAML config")


def test_a_giant_integer_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "int.yaml"
    path.write_text("scale: " + "9" * 5000 + "\n")  # over Python's 4300-digit int parsing limit
    refused(path, "unreadable value")


@pytest.mark.parametrize("text", ["!!timestamp", "!!bool abc", "!!int ''", "a: !!float [1]", "!!binary 1"])
def test_a_tag_that_does_not_fit_its_value_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(text + "\n")
    refused(path, "unreadable value in YAML|malformed YAML")


def test_excerpt_is_short_whatever_the_value() -> None:
    shared = ["lol"] * 10
    for _ in range(30):
        shared = [shared] * 10  # 10**30 leaves if printed in full
    for value in (shared, "x" * 10_000_000, {f"k{i}": i for i in range(100_000)}, 0x1 << 100_000):
        assert len(excerpt(value)) <= 80


def test_retarget_config_message_quotes_an_excerpt_not_the_value(shared: Path) -> None:
    data = load_yaml(shared / "ad_config" / "retarget" / "fair1_ppf.yaml")
    data["bvh_projection_bodypart_groups"][0]["method"] = "m" * 1_000_000
    with pytest.raises(ConfigError, match="projection method must be one of") as info:
        RetargetConfig.from_dict(data, "r.yaml")
    assert len(str(info.value)) < SHORT


def test_character_with_a_billion_laughs_is_a_short_character_error(tmp_path: Path) -> None:
    folder = tmp_path / "c"  # the config is read first: no texture or mask needed
    folder.mkdir()
    (folder / "char_cfg.yaml").write_text(laughs() + "width: 40\nheight: 30\n"
                                          "skeleton: [{name: root, parent: null, loc: *a8}]\n")
    with pytest.raises(CharacterError, match="refused YAML") as info:  # was 41 s, 5.4 GB and a 2.8 GB message
        read_character(folder)
    assert len(str(info.value)) < SHORT


def test_motion_config_start_frame_false_is_not_frame_zero() -> None:
    data = {"filepath": "a.bvh", "groundplane_joint": "Hips", "forward_perp_joint_vectors": [["L", "R"]],
            "scale": 1.0, "start_frame_idx": False}
    with pytest.raises(ConfigError, match="start_frame_idx must be a number, found False"):
        MotionConfig.from_dict(data, "m.yaml")


def test_motion_config_number_beyond_float_range_is_a_config_error() -> None:
    data = {"filepath": "a.bvh", "groundplane_joint": "Hips", "forward_perp_joint_vectors": [["L", "R"]],
            "scale": 10 ** 400}
    with pytest.raises(ConfigError, match="scale must be a number"):
        MotionConfig.from_dict(data, "m.yaml")


def test_real_configs_and_characters_are_within_every_cap(shared: Path) -> None:
    paths = sorted((shared / "ad_config").rglob("*.yaml")) + sorted((shared / "characters").rglob("*.yaml"))
    assert paths
    for path in paths:
        load_yaml(path)
