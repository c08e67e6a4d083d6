"""AD motion and retarget YAMLs: python/tuple tags parsed safely, specific errors, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from studio.pipeline.motion.config import (ConfigError, MotionConfig, RetargetConfig, load_yaml, read_motion_config,
                                    read_retarget_config, write_yaml)


def test_python_tuple_is_accepted_but_nothing_unsafe(tmp_path: Path) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_text("a: !!python/tuple\n- x\n- y\n")
    assert load_yaml(ok) == {"a": ("x", "y")}
    evil = tmp_path / "evil.yaml"
    evil.write_text("a: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_yaml(evil)


def test_motion_config_errors() -> None:
    good = {"filepath": "a.bvh", "groundplane_joint": "LeftFoot", "scale": 0.025, "up": "+z",
            "forward_perp_joint_vectors": [["LeftShoulder", "RightShoulder"]]}
    assert MotionConfig.from_dict(good).up == "+z"
    with pytest.raises(ConfigError, match="missing required field 'scale'"):
        MotionConfig.from_dict({k: v for k, v in good.items() if k != "scale"})
    with pytest.raises(ConfigError, match="up must be"):
        MotionConfig.from_dict({**good, "up": "-x"})
    with pytest.raises(ConfigError, match="pairs"):
        MotionConfig.from_dict({**good, "forward_perp_joint_vectors": [["A", "B", "C"]]})
    with pytest.raises(ConfigError, match="empty"):
        MotionConfig.from_dict({**good, "start_frame_idx": 10, "end_frame_idx": 5})


def test_real_configs_parse_and_round_trip(shared: Path, tmp_path: Path) -> None:
    for path in sorted((shared / "ad_config" / "retarget").glob("*.yaml")):
        config = read_retarget_config(path)
        assert config.joint_mapping and all(len(v) == 2 for v in config.joint_mapping.values())
        again = RetargetConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict())))
        assert again.joint_mapping == config.joint_mapping and again.bodypart_groups == config.bodypart_groups
    six = read_retarget_config(shared / "ad_config" / "retarget" / "six_arms.yaml")
    assert six.runtime_checks == (("above", "neck", "right_shoulder3", "left_shoulder3"),)
    for path in sorted((shared / "ad_config" / "motion").glob("*.yaml")):
        motion = read_motion_config(path)
        out = write_yaml(motion.to_dict(), tmp_path / path.name)
        assert read_motion_config(out) == MotionConfig(**{**motion.__dict__, "source": str(out)})


@pytest.mark.parametrize("field, value, match", [
    ("scale", float("nan"), "finite"),
    ("scale", True, "must be a number"),
    ("frame_time", 1e-300, "between 0.001 and 10"),
    ("start_frame_idx", 2.5, "whole number"),
    ("end_frame_idx", float("inf"), "finite"),
])
def test_motion_config_rejects_non_finite_and_odd_numbers(field: str, value: object, match: str) -> None:
    good = {"filepath": "a.bvh", "groundplane_joint": "LeftFoot", "scale": 0.025,
            "forward_perp_joint_vectors": [["LeftShoulder", "RightShoulder"]]}
    with pytest.raises(ConfigError, match=match):
        MotionConfig.from_dict({**good, field: value}, "m.yaml")


def test_retarget_config_fields_must_be_lists(shared: Path) -> None:
    data = load_yaml(shared / "ad_config" / "retarget" / "fair1_ppf.yaml")
    for field in ("char_bodypart_groups", "bvh_projection_bodypart_groups", "char_runtime_checks"):
        with pytest.raises(ConfigError, match=f"{field} must be a list"):
            RetargetConfig.from_dict({**data, field: 7}, "r.yaml")
