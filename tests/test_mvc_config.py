"""AD's MVC configs read as they are: a temporary ``examples/`` tree laid out as AD's checkout holds it (char2 in
char1's and char4's places, char5 and char6 in their own), configs from ../shared/data/ad_config, BVHs from
../shared/data/bvh; frame counts and sizes as AD's configs imply; what is not supported says so."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from scene_cli_fixture import studio_main  # noqa: F401 - a fixture
from studio.core.mvc_config import MvcConfigError, read_mvc_config
from studio.core.scene import SceneError
from studio.core.scene_job import open_scene
from studio.core.scene_render import SceneAnimation

MVC = "examples/config/mvc"
BACKGROUND_SIZE = (300, 400)  # background_example's WINDOW_DIMENSIONS: width, height


@pytest.fixture(scope="module")
def ad_tree(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ad")
    examples = root / "examples"
    for place, ours in (("char1", "char2"), ("char2", "char2"), ("char4", "char2"), ("char5", "char5"),
                        ("char6", "char6")):
        shutil.copytree(shared / "characters" / ours, examples / "characters" / place)
    for kind in ("mvc", "motion", "retarget"):
        shutil.copytree(shared / "ad_config" / kind, examples / "config" / kind)
    for name, place in (("fair1_dab", "fair1/dab"), ("cmu1_jumping_jacks", "cmu1/jumping_jacks"),
                        ("rokoko_jesse_dance", "rokoko/jesse_dance")):
        (examples / "bvh" / place).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared / "bvh" / f"{name}.bvh", examples / "bvh" / f"{place}.bvh")
    across, down = np.meshgrid(np.linspace(0, 255, BACKGROUND_SIZE[0]), np.linspace(0, 255, BACKGROUND_SIZE[1]))
    picture = np.dstack([down, across, np.full(across.shape, 90.0)]).astype(np.uint8)  # BGR
    cv2.imwrite(str(examples / "characters" / "char4" / "background.png"), picture)
    return root


@pytest.fixture
def in_tree(ad_tree: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ad_tree)
    return ad_tree


@pytest.mark.parametrize("name, characters, size", [
    ("multiple_characters_example", 2, (500, 500)),
    ("background_example", 1, BACKGROUND_SIZE),
    ("six_arms_example", 1, (500, 500)),
    ("interactive_window_example", 1, (500, 500)),
])
def test_ad_examples_load_with_ads_frame_count_and_size(in_tree: Path, name: str, characters: int,
                                                        size: tuple[int, int]) -> None:
    opened = open_scene(f"{MVC}/{name}.yaml")
    animation = SceneAnimation(opened.scene)
    # dab.yaml plays frames [0, 339) of a 339-frame BVH at 1/30 s: AD renders 339 frames, the longest clip's count
    assert (animation.n_frames, len(animation.actors)) == (339, characters)
    assert animation.frame_time == pytest.approx(0.0333333, abs=1e-6)
    assert (animation.width, animation.height) == size
    assert opened.kind == "ad" and opened.interactive == (name == "interactive_window_example")
    expected = "output_video.mp4" if opened.interactive else "video.gif"  # AD's default, else the config's
    assert opened.output == in_tree / expected


def test_multiple_characters_stand_where_their_retarget_configs_put_them(in_tree: Path) -> None:
    animation = SceneAnimation(open_scene(f"{MVC}/multiple_characters_example.yaml").scene)
    roots = [actor.animation.canvas_vertices(0).mean(axis=0) for actor in animation.actors]
    assert roots[0][0] > 300 and roots[1][0] < 200  # duo1 at x = +0.6, duo2 at x = -0.6 (world units)
    assert abs(roots[0][1] - roots[1][1]) < 5
    assert [a.entry.z for a in animation.actors] == [0, 1]  # later in AD's list paints over earlier


def test_background_example_honours_camera_window_and_image(in_tree: Path) -> None:
    opened = open_scene(f"{MVC}/background_example.yaml")
    scene = opened.scene
    assert scene.camera.position == (0.1, 1.3, 2.7) and scene.camera.forward == (0.0, 0.5, 2.0)
    assert scene.background == str(in_tree / "examples/characters/char4/background.png")
    animation = SceneAnimation(scene, frames=3)
    frame = animation.render_rgba(1, animation.background)
    picture = cv2.imread(scene.background)[:, :, ::-1]
    alone = animation.render_rgba(1)[:, :, 3] == 0
    assert frame.shape == (400, 300, 4) and alone.sum() > 50_000
    assert np.array_equal(frame[alone][:, :3], picture[alone])  # stretched to the window: here the same size


def test_ad_placement_reproduces_ads_rendered_joints(shared: Path, in_tree: Path) -> None:
    import json

    reference = json.loads((shared / "ad_reference/char2_dab/reference.json").read_text())
    animation = SceneAnimation(open_scene(f"{MVC}/interactive_window_example.yaml").scene)
    actor = animation.actors[0]
    errors = []
    for k, screen in reference["meta"]["render"]["joints_screen_px"].items():
        ours = actor.animation.camera.apply(actor.animation.pose.joints[actor.frame_at(int(k) * animation.frame_time)])
        errors.append(np.linalg.norm(ours - np.array(screen), axis=1))
    assert np.mean(errors) < 1.5 and np.max(errors) < 6, np.max(errors)  # the retargeting's own small differences


@pytest.mark.parametrize("name, missing", [
    ("export_gif_example", "examples/characters/char3/char_cfg.yaml not found"),
    ("different_bvh_skeleton_example", "examples/characters/char3/char_cfg.yaml not found"),
    ("rokoko_motion_example", "examples/characters/char3/char_cfg.yaml not found"),
    ("four_legs_example", "examples/config/motion/zombie.yaml not found"),
    ("export_mp4_example", "examples/config/motion/zombie.yaml not found"),
])
def test_ad_examples_naming_files_this_tree_lacks_say_which(in_tree: Path, name: str, missing: str) -> None:
    with pytest.raises(SceneError) as caught:
        open_scene(f"{MVC}/{name}.yaml")
    assert missing in str(caught.value) and str(caught.value).startswith(f"{MVC}/{name}.yaml:")


def test_a_motion_configs_missing_bvh_is_named(in_tree: Path) -> None:
    config = in_tree / "examples/config/motion/elsewhere.yaml"
    config.write_text((in_tree / "examples/config/motion/dab.yaml").read_text().replace("fair1/dab", "fair9/dab"))
    path = _six_arms_with(in_tree, "scene", "ANIMATED_CHARACTERS", [{
        "character_cfg": "examples/characters/char2/char_cfg.yaml", "motion_cfg": str(config.relative_to(in_tree)),
        "retarget_cfg": "examples/config/retarget/fair1_ppf.yaml"}])
    with pytest.raises(MvcConfigError, match="motion_cfg elsewhere.yaml's filepath: examples/bvh/fair9/dab.bvh not "
                                             "found"):
        read_mvc_config(path)


def test_names_resolve_from_the_current_folder_then_from_the_ad_tree(ad_tree: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ad = read_mvc_config(ad_tree / MVC / "multiple_characters_example.yaml")
    assert ad.output == tmp_path / "video.gif"  # OUTPUT_VIDEO_PATH: from the folder it runs in
    assert ad.scene.characters[0].character == str(ad_tree / "examples/characters/char1")
    assert ad.scene.characters[0].bvh == str(ad_tree / "examples/bvh/fair1/dab.bvh")
    assert any("not in the current folder" in note for note in ad.notes)
    (tmp_path / "examples").mkdir()  # a tree of its own here, without the characters: AD would look here first
    lone = tmp_path / "examples" / "lone.yaml"
    lone.write_text("scene:\n  ANIMATED_CHARACTERS:\n  - {character_cfg: examples/characters/char2/char_cfg.yaml,"
                    " motion_cfg: m.yaml, retarget_cfg: r.yaml}\n")
    with pytest.raises(MvcConfigError, match=f"examples/characters/char2/char_cfg.yaml not found \\(looked from "
                                             f"{tmp_path}; AD resolves"):
        read_mvc_config(lone)


UNSUPPORTED = [
    ("scene", "ADD_FLOOR", True, "not supported: scene.ADD_FLOOR: true (it draws a floor)"),
    ("view", "DRAW_AD_RIG", True, "not supported: view.DRAW_AD_RIG"),
    ("view", "DRAW_AD_TXTR", False, "not supported: view.DRAW_AD_TXTR: false"),
    ("view", "CAMERA_FOV", 40, "unknown key view.CAMERA_FOV"),
    (None, "lights", {}, "unknown key lights"),
    ("view", "WINDOW_DIMENSIONS", [500], "view.WINDOW_DIMENSIONS must be [width, height]"),
    ("view", "CAMERA_POS", [0, 1], "view.CAMERA_POS must be [x, y, z]"),
    ("view", "CLEAR_COLOR", [1, 1, 1], "view.CLEAR_COLOR must be [r, g, b, a]"),
    ("controller", "MODE", "headless", "controller.MODE must be 'interactive' or 'video_render'"),
    ("controller", "FRAME_TIME", 0, "controller.FRAME_TIME must be"),
    ("view", "BACKGROUND_IMAGE", "nowhere.png", "view.BACKGROUND_IMAGE: nowhere.png not found"),
    ("scene", "ANIMATED_CHARACTERS", [], "scene.ANIMATED_CHARACTERS must be a non-empty list"),
]


def _six_arms_with(in_tree: Path, section: str | None, key: str, value: object) -> Path:
    data = yaml.safe_load((in_tree / MVC / "six_arms_example.yaml").read_text())
    (data if section is None else data.setdefault(section, {}))[key] = value
    path = in_tree / "odd.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("section, key, value, words", UNSUPPORTED)
def test_what_ad_configs_ask_that_the_studio_cannot_do_is_named(in_tree: Path, section: str | None, key: str,
                                                                value: object, words: str) -> None:
    with pytest.raises(MvcConfigError) as caught:
        read_mvc_config(_six_arms_with(in_tree, section, key, value))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_clear_colour_frame_time_and_codec(in_tree: Path) -> None:
    base = (in_tree / MVC / "six_arms_example.yaml").read_text()
    path = in_tree / "tuned.yaml"
    path.write_text(base.replace("./video.gif", "./video.mp4") + "\n  OUTPUT_VIDEO_CODEC: mp4v\n  FRAME_TIME: 0.05\n"
                    "view:\n  CLEAR_COLOR: [1.0, 0.5, 0.0, 1.0]\n")
    ad = read_mvc_config(path)
    assert ad.scene.background == "#ff8000" and ad.scene.frame_time == 0.05
    assert any("H.264" in note for note in ad.notes)
    animation = SceneAnimation(ad.scene)
    assert animation.frame_time == pytest.approx(0.05) and animation.n_frames == 339  # slower, every frame kept


def test_an_interactive_config_needs_an_output(studio_main: Callable[[Sequence[str]], int],  # noqa: F811
                                               in_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert studio_main(["scene", f"{MVC}/interactive_window_example.yaml"]) == 1
    err = capsys.readouterr().err
    assert "not supported" in err and "interactive" in err and len(err.strip().splitlines()) == 1
    assert studio_main(["scene", f"{MVC}/interactive_window_example.yaml", "-n", "3", "-s", "64",
                        "-o", "i.gif"]) == 0
    assert Image.open(in_tree / "i.gif").n_frames == 3


def test_background_example_to_png_frames(studio_main: Callable[[Sequence[str]], int],  # noqa: F811
                                          in_tree: Path) -> None:
    assert studio_main(["scene", f"{MVC}/background_example.yaml", "-n", "4", "-o", "bg_frames"]) == 0
    frames = sorted((in_tree / "bg_frames").iterdir())
    first = np.array(Image.open(frames[0]))
    picture = cv2.imread(str(in_tree / "examples/characters/char4/background.png"))[:, :, ::-1]
    assert len(frames) == 4 and first.shape[:2] == (400, 300)
    assert np.array_equal(first[0, 0, :3], picture[0, 0]) and np.array_equal(first[-1, -1, :3], picture[-1, -1])


@pytest.mark.slow
def test_studio_scene_renders_ads_multiple_characters_example_as_it_is(
        studio_main: Callable[[Sequence[str]], int], in_tree: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    assert studio_main(["scene", "examples/config/mvc/multiple_characters_example.yaml"]) == 0
    assert "2 characters, 339 frames" in capsys.readouterr().out
    gif = Image.open(in_tree / "video.gif")  # OUTPUT_VIDEO_PATH: ./video.gif
    assert (gif.n_frames, gif.size) == (339, (500, 500))
    for k in (0, 170, 338):
        gif.seek(k)
        alpha = np.array(gif.convert("RGBA"))[:, :, 3]
        assert alpha[0, 0] == 0  # AD's clear colour: transparent
        assert (alpha[:, :220] > 0).sum() > 2000 and (alpha[:, 280:] > 0).sum() > 2000  # both characters
