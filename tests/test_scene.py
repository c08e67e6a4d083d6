"""Scenes: the model and its YAML, placement (AD's camera and 2D), the shared clock, compositing in z-order over the
background, mirror and start offsets, the scene kept in a project, and clear errors for bad scene files."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import pytest
from PIL import Image

from scene_cli_fixture import studio_main  # noqa: F401 - a fixture
from studio.core.document import Document
from studio.core.project import open_project, open_project_scene, open_project_with_scene, save_project
from studio.core.render import Background
from studio.core.sample import sample_character
from studio.core.scene import Scene, SceneCharacter, SceneError, load_scene, save_scene, scene_to_dict
from studio.core.scene_camera import AdCamera, SceneCameraError, ad_placed_camera
from studio.core.scene_job import open_scene
from studio.core.scene_render import SceneAnimation, over_premultiplied
from studio.pipeline.character import Character, read_character, write_character
from studio.pipeline.motion.config import ConfigError

RED, BLUE, GREEN = (220, 30, 30), (30, 40, 210), (0, 255, 0)
SIZE = (120, 100)


def _solid(colour: tuple[int, int, int]) -> Character:
    """The sample character painted one flat colour (so a pixel says which character it is)."""
    base = sample_character()
    texture = base.texture.copy()
    texture[:, :, :3] = colour
    return Character(base.names, base.parents, base.rest, texture, base.mask)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("chars")
    return {name: write_character(_solid(colour), root / name) for name, colour in (("red", RED), ("blue", BLUE))}


def _entry(folder: Path, **values: object) -> SceneCharacter:
    return SceneCharacter(str(folder), str(values.pop("motion", "wave")), **values)  # type: ignore[arg-type]


def _alpha(scene: Scene, k: int) -> np.ndarray:
    return SceneAnimation(scene).render_rgba(k)[:, :, 3]


# ------------------------------------------------------------------------------------------------ compositing
def test_two_characters_in_z_order_over_the_background(folders: dict[str, Path]) -> None:
    red = _entry(folders["red"], position=(0.45, 0.6), scale=1.4, z=1)
    blue = _entry(folders["blue"], position=(0.55, 0.6), scale=1.4, z=0)
    both = Scene((red, blue), SIZE, "#00ff00", frames=4)
    swapped = Scene((red, SceneCharacter(**{**blue.__dict__, "z": 2})), SIZE, "#00ff00", frames=4)
    for k in (0, 3):
        red_alone, blue_alone = _alpha(Scene((red,), SIZE, frames=4), k), _alpha(Scene((blue,), SIZE, frames=4), k)
        overlap, blue_only = (red_alone == 255) & (blue_alone == 255), (red_alone == 0) & (blue_alone == 255)
        empty = (red_alone == 0) & (blue_alone == 0)
        assert overlap.sum() > 100 and blue_only.sum() > 100 and empty.sum() > 1000
        animation = SceneAnimation(both)
        frame = animation.render_rgba(k, animation.background)
        assert (frame[overlap][:, :3] == RED).all()  # the higher z wins where they overlap
        assert (frame[blue_only][:, :3] == BLUE).all()
        assert (frame[empty][:, :3] == GREEN).all() and (frame[:, :, 3] == 255).all()  # the background elsewhere
        animation = SceneAnimation(swapped)
        assert (animation.render_rgba(k, animation.background)[overlap][:, :3] == BLUE).all()


def test_equal_z_draws_later_characters_in_front(folders: dict[str, Path]) -> None:
    blue = _entry(folders["blue"], position=(0.5, 0.6))
    scene = Scene((_entry(folders["red"], position=(0.5, 0.6)), blue), SIZE, frames=2)
    assert scene.drawing_order() == [0, 1]
    frame = SceneAnimation(scene).render_rgba(0)
    covered = _alpha(Scene((blue,), SIZE, frames=2), 0) == 255
    assert covered.sum() > 300 and (frame[covered][:, :3] == BLUE).all()


def test_transparent_background_stays_transparent_and_an_image_background_shows(folders: dict[str, Path],
                                                                                tmp_path: Path) -> None:
    across, down = np.meshgrid(np.linspace(0, 255, SIZE[0]), np.linspace(0, 255, SIZE[1]))
    gradient = np.dstack([across, down, np.full(SIZE[::-1], 77.0)]).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "bg.png"), gradient[:, :, ::-1])
    entry = _entry(folders["red"], position=(0.5, 0.6))
    frame = SceneAnimation(Scene((entry,), SIZE, frames=2)).render_rgba(1)
    assert frame[0, 0, 3] == 0 and (frame[:, :, 3] == 255).sum() > 500
    animation = SceneAnimation(Scene((entry,), SIZE, str(tmp_path / "bg.png"), frames=2))
    shown = animation.render_rgba(1, animation.background)
    clear = frame[:, :, 3] == 0
    assert np.array_equal(shown[clear][:, :3], gradient[clear])


def test_a_character_rasterised_in_its_box_equals_the_whole_canvas_render(folders: dict[str, Path]) -> None:
    entry = _entry(folders["red"], position=(0.1, 0.9), scale=1.3, mirror=True)  # partly off the canvas
    actor = SceneAnimation(Scene((entry,), SIZE, frames=5)).actors[0]
    for j in range(5):
        whole = actor.animation.render_premultiplied(j)
        box = actor.box(j)
        assert box is not None
        top, bottom, left, right = box
        assert np.array_equal(actor.layer(j, box), whole[top:bottom, left:right])
        whole[top:bottom, left:right] = 0
        assert not whole.any()


def test_premultiplied_over_rounds_like_compositing() -> None:
    rng = np.random.default_rng(3)
    alpha = rng.integers(0, 256, (40, 40, 1))
    top = np.concatenate([rng.integers(0, 256, (40, 40, 3)) * alpha // 255, alpha], axis=2).astype(np.uint8)
    below = np.full((40, 40, 4), 200, np.uint8)
    exact = top + (below.astype(float) * (255 - top[:, :, 3:4]) / 255)
    over_premultiplied(top, below)
    assert np.abs(below - exact).max() <= 0.5 + 1e-9


# ------------------------------------------------------------------------------------------------ place and time
def test_mirror_flips_the_animation_about_the_root(folders: dict[str, Path]) -> None:
    width = SIZE[0]
    at = ((width - 1) / 2 / width, 0.6)  # the root on the canvas's middle column: a flip maps pixel i to w-1-i
    entry = _entry(folders["red"], position=at)
    plain = _alpha(Scene((entry,), SIZE, frames=6), 3) > 127
    mirrored = _alpha(Scene((SceneCharacter(**{**entry.__dict__, "mirror": True}),), SIZE, frames=6), 3) > 127
    flipped = plain[:, ::-1]
    assert (mirrored != flipped).sum() <= 0.02 * plain.sum()
    assert (plain != flipped).sum() > 0.1 * plain.sum()  # the pose is not symmetric: the check can fail


def test_start_offset_holds_the_first_pose_then_plays_the_clip(folders: dict[str, Path]) -> None:
    base = SceneAnimation(Scene((_entry(folders["red"], position=(0.5, 0.6)),), SIZE))
    late = SceneAnimation(Scene((_entry(folders["red"], position=(0.5, 0.6), start=0.5),), SIZE))
    shift = round(0.5 / base.frame_time)
    assert late.frame_time == base.frame_time and late.n_frames == base.n_frames + shift
    assert [late.frames_of(k)[0] for k in range(shift + 3)] == [0] * (shift + 1) + [1, 2]
    assert np.array_equal(late.render_rgba(shift - 1), base.render_rgba(0))  # still waiting
    assert np.array_equal(late.render_rgba(shift + 20), base.render_rgba(20))
    assert not np.array_equal(base.render_rgba(20), base.render_rgba(0))


def test_the_clock_runs_to_the_longest_clip_and_holds_the_shorter_ones(folders: dict[str, Path]) -> None:
    scene = Scene((_entry(folders["red"], motion="wave"), _entry(folders["blue"], motion="jump")), SIZE)
    animation = SceneAnimation(scene)
    counts = [actor.animation.n_frames for actor in animation.actors]
    assert animation.n_frames == max(counts) and counts[0] != counts[1]
    assert animation.frames_of(animation.n_frames - 1) == [c - 1 for c in counts]
    assert animation.frames_of(min(counts) + 2)[counts.index(min(counts))] == min(counts) - 1
    resampled = SceneAnimation(scene, frames=10)
    assert resampled.n_frames == 10
    assert resampled.frame_time * 10 == pytest.approx(animation.n_frames * animation.frame_time, rel=1e-6)


def test_scale_and_size_overrides_keep_the_layout_proportional(folders: dict[str, Path]) -> None:
    entry = _entry(folders["red"], position=(0.5, 0.6))
    small = _alpha(Scene((entry,), SIZE, frames=2), 0) > 127
    large = _alpha(Scene((entry,), (SIZE[0] * 2, SIZE[1] * 2), frames=2), 0) > 127
    assert large.sum() == pytest.approx(4 * small.sum(), rel=0.08)
    doubled = _alpha(Scene((SceneCharacter(**{**entry.__dict__, "scale": 2.0}),), SIZE, frames=2), 0) > 127
    assert doubled.sum() == pytest.approx(4 * small.sum(), rel=0.12)


def test_ad_placement_puts_the_root_where_ads_camera_sees_it() -> None:
    character = sample_character()
    camera = ad_placed_camera(character, 500, 500, AdCamera(), (0.0, 0.0, -0.5))
    root = camera.apply(character.rest[0])
    assert root[0] == pytest.approx(250.0) and root[1] == pytest.approx(272.2, abs=0.1)  # AD's own: (250, 272.23)
    right = ad_placed_camera(character, 500, 500, AdCamera(), (0.6, -0.3, -1.5)).apply(character.rest[0])
    assert right[0] > 300 and right[1] > root[1]
    with pytest.raises(SceneCameraError, match="behind it"):
        ad_placed_camera(character, 500, 500, AdCamera(), (0.0, 0.0, 3.0))
    with pytest.raises(SceneCameraError, match="straight up"):
        ad_placed_camera(character, 500, 500, AdCamera(forward=(0.0, 1.0, 0.0)), (0.0, 0.0, -0.5))


def test_the_perspective_camera_matches_ads_projection(shared: Path) -> None:
    character = read_character(shared / "characters" / "char2")
    for case in ("char2_dab", "char2_jumping_jacks"):
        reference = json.loads((shared / "ad_reference" / case / "reference.json").read_text())
        meta, render = reference["meta"], reference["meta"]["render"]
        camera = ad_placed_camera(character, *render["window"], AdCamera(tuple(render["camera_pos"]),
                                  tuple(render["camera_fwd"])), tuple(meta["char_starting_location"]))
        px = np.array(reference["frames"]["px"])
        for k, screen in render["joints_screen_px"].items():
            assert np.abs(camera.apply(px[int(k)]) - np.array(screen)).max() < 0.02  # AD's, rounded to 0.01


# ------------------------------------------------------------------------------------------------ files
def test_scene_yaml_round_trips_with_paths_relative_to_the_file(folders: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "scenes"
    shutil.copytree(folders["red"], home / "chars" / "red")
    scene = Scene((SceneCharacter(str(home / "chars" / "red"), "wave", position=(0.25, 0.5), scale=0.8, z=3,
                                  start=1.5, mirror=True),
                   SceneCharacter("sample", "idle", retarget=str(folders["blue"] / "missing.yaml"))),
                  (320, 200), "paper", frames=40, camera=AdCamera((0.1, 1.3, 2.7), (0.0, 0.5, 2.0)))
    path = save_scene(scene, home / "duo.scene.yaml")
    text = path.read_text()
    assert "character: chars/red" in text and str(folders["blue"]) in text and "studio_scene: 1" in text
    assert load_scene(path) == scene
    moved = tmp_path / "elsewhere"
    shutil.copytree(home, moved)
    assert load_scene(moved / "duo.scene.yaml").characters[0].character == str(moved / "chars" / "red")


BAD_SCENES = [
    ("studio_scene: 1\ncharacters: []\n", "non-empty list"),
    ("studio_scene: 2\ncharacters: [{character: a, motion: wave}]\n", "newer Drawing Studio"),
    ("characters: [{character: a, motion: wave}]\n", "not a studio scene"),
    ("studio_scene: 1\ncharacters: [{character: a, motion: wave, positon: [0, 0]}]\n", "unknown key 'positon'"),
    ("studio_scene: 1\ncharacters: [{character: a}]\n", "characters[0]: missing 'motion'"),
    ("studio_scene: 1\ncharacters: [{character: a, motion: wave, scale: -1}]\n", "scale must be"),
    ("studio_scene: 1\ncharacters: [{character: a, motion: wave, z: 1.5}]\n", "z must be a whole number"),
    ("studio_scene: 1\ncharacters: [{character: a, motion: wave, mirror: 'yes'}]\n", "mirror must be true or false"),
    ("studio_scene: 1\ncharacters: [{character: a, motion: wave, position: [0.5]}]\n", "position must be"),
    ("studio_scene: 1\nsize: [4, 4]\ncharacters: [{character: a, motion: wave}]\n", "size must be"),
    ("studio_scene: 1\ncamera: {position: [0, 1]}\ncharacters: [{character: a, motion: wave}]\n", "camera position"),
    ("studio_scene: 1\nframes: 0\ncharacters: [{character: a, motion: wave}]\n", "frames must be"),
    ("studio_scene: 1\ncolour: red\ncharacters: [{character: a, motion: wave}]\n", "unknown key 'colour'"),
]


@pytest.mark.parametrize("text, words", BAD_SCENES)
def test_bad_scene_files_say_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SceneError) as caught:
        load_scene(path)
    message = str(caught.value)
    assert words in message and message.startswith(str(path)) and "\n" not in message


def test_malformed_yaml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("studio_scene: [1\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_scene(tmp_path / "bad.yaml")


@pytest.mark.parametrize("entry, words", [
    ({"character": "nowhere", "motion": "wave"}, "character 1 (nowhere):"),
    ({"character": "red", "motion": "gone.bvh"}, "gone.bvh"),
    ({"character": "red", "motion": "no_such_clip"}, "unknown motion 'no_such_clip'"),
    ({"character": "project", "motion": "wave"}, "only a scene kept in a project"),
])
def test_bad_scene_contents_fail_in_one_line_naming_the_character(
        studio_main: Callable[[Sequence[str]], int], folders: dict[str, Path], tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str], entry: dict[str, str], words: str) -> None:
    shutil.copytree(folders["red"], tmp_path / "red")
    (tmp_path / "s.yaml").write_text(json.dumps({"studio_scene": 1, "size": [64, 64], "characters": [entry]}))
    assert studio_main(["scene", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out.gif")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("studio: error:") and words in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out.gif").exists()


def test_a_studio_scene_needs_an_output_and_neither_format_is_refused(
        studio_main: Callable[[Sequence[str]], int], tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text("studio_scene: 1\ncharacters: [{character: sample, motion: wave}]\n")
    assert studio_main(["scene", str(tmp_path / "s.yaml")]) == 1
    assert "give the output with -o" in capsys.readouterr().err
    (tmp_path / "other.yaml").write_text("name: not a scene\n")
    assert studio_main(["scene", str(tmp_path / "other.yaml"), "-o", str(tmp_path / "o.gif")]) == 1
    assert "neither a studio scene" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["out.gif", "out.mp4", "frames", "out.apng", "sheet.png"])
def test_the_cli_writes_a_scene(studio_main: Callable[[Sequence[str]], int], folders: dict[str, Path],  # noqa: F811
                                tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    scene = Scene((_entry(folders["red"], position=(0.35, 0.6)), _entry(folders["blue"], position=(0.65, 0.6))),
                  (96, 64), "white")
    save_scene(scene, tmp_path / "s.scene.yaml")
    sheet = ["--sheet"] if name == "sheet.png" else []
    assert studio_main(["scene", str(tmp_path / "s.scene.yaml"), "-n", "5", "-o", str(tmp_path / name), *sheet]) == 0
    assert "2 characters, 5 frames" in capsys.readouterr().out
    if name == "frames":
        first = cv2.imread(str(tmp_path / name / "frame_0000.png"))[:, :, ::-1]
        assert len(list((tmp_path / name).iterdir())) == 5
    elif name == "sheet.png":
        data = json.loads((tmp_path / "sheet.json").read_text())
        sizes = [frame["sourceSize"] for frame in data["frames"].values()]  # the "hash" layout: frames by name
        assert sizes == [{"w": 96, "h": 64}] * 5 and [t["name"] for t in data["meta"]["frameTags"]] == ["s"]
        first = None
    elif name == "out.mp4":
        assert (tmp_path / name).stat().st_size > 1000
        first = None
    else:
        image = Image.open(tmp_path / name)
        assert image.n_frames == 5
        first = np.array(image.convert("RGB"))
    if first is not None:
        assert first.shape == (64, 96, 3) and (first[0, 0] == 255).all()
        assert (first[:, :40] == RED).all(axis=2).sum() > 50 and (first[:, 56:] == BLUE).all(axis=2).sum() > 50


@pytest.mark.parametrize("name", ["out.gif", "out.mp4", "frames"])
def test_a_cancelled_scene_export_leaves_nothing(folders: dict[str, Path], tmp_path: Path, name: str) -> None:
    from studio.core.scene_job import export_scene
    from studio.pipeline.files.atomic import ExportCancelled

    asked: list[int] = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 3

    animation = SceneAnimation(Scene((_entry(folders["red"]), _entry(folders["blue"], position=(0.6, 0.6))),
                                     (64, 48), frames=8))
    with pytest.raises(ExportCancelled):
        export_scene(animation, tmp_path / name, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_a_gif_over_an_image_background(folders: dict[str, Path], tmp_path: Path) -> None:
    from studio.core.scene_job import export_scene

    picture = np.zeros((64, 96, 3), np.uint8)
    picture[:, :48], picture[:, 48:] = (250, 200, 40), (40, 160, 250)
    cv2.imwrite(str(tmp_path / "bg.png"), picture[:, :, ::-1])
    scene = Scene((_entry(folders["red"], position=(0.5, 0.6)),), (96, 64), str(tmp_path / "bg.png"), frames=3)
    export_scene(SceneAnimation(scene), tmp_path / "bg.gif")
    image = Image.open(tmp_path / "bg.gif")
    frame = np.array(image.convert("RGB")).astype(int)
    assert image.n_frames == 3 and "transparency" not in image.info
    assert np.abs(frame[2, 2] - picture[2, 2]).max() <= 8 and np.abs(frame[-3, -3] - picture[-3, -3]).max() <= 8
    assert (np.abs(frame - RED).max(axis=2) <= 8).sum() > 50


# ------------------------------------------------------------------------------------------------ in a project
def test_a_scene_kept_in_a_project_round_trips(folders: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "work"
    shutil.copytree(folders["red"], home / "red")
    doc = Document.from_character(sample_character())
    scene = Scene((SceneCharacter("project", "wave", position=(0.5, 0.6), z=1),
                   SceneCharacter(str(home / "red"), "idle", position=(0.3, 0.6), mirror=True, start=0.25)),
                  (96, 80), "paper", frames=6)
    path = save_project(doc, home / "duo.studio", scene=scene)
    assert open_project_scene(path) == scene
    stored = json.loads(zipfile.ZipFile(path).read("project.json"))["scene"]
    assert stored["characters"][1]["character"] == "red"  # relative to the project's folder
    reopened, kept = open_project_with_scene(path)
    assert kept == scene and reopened.skeleton is not None
    assert open_project(path).size == doc.size
    shutil.copytree(home, tmp_path / "moved")
    assert open_project_scene(tmp_path / "moved" / "duo.studio").characters[1].character == str(tmp_path / "moved"
                                                                                                   / "red")
    opened = open_scene(path)
    assert opened.kind == "project" and opened.own is not None
    frame = SceneAnimation(opened.scene, own=opened.own).render_rgba(2, Background(colour=(250, 246, 236)))
    assert (frame[:, :, :3] == RED).all(axis=2).sum() > 30 and (frame[:, :, :3] != RED).any(axis=2).sum() > 30


def test_a_project_without_a_scene_has_none(tmp_path: Path) -> None:
    path = save_project(Document.from_character(sample_character()), tmp_path / "solo.studio")
    assert open_project_scene(path) is None
    assert "scene" not in json.loads(zipfile.ZipFile(path).read("project.json"))
    with pytest.raises(SceneError, match="keeps no scene"):
        open_scene(path)


def test_a_damaged_scene_in_a_project_is_a_project_error(tmp_path: Path) -> None:
    from studio.core.project import ProjectError

    path = save_project(Document.from_character(sample_character()), tmp_path / "p.studio",
                        scene=Scene((SceneCharacter("sample", "wave"),)))
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["project.json"])
    data["scene"]["characters"][0]["scale"] = "big"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, json.dumps(data) if name == "project.json" else content)
    with pytest.raises(ProjectError, match="its scene: characters\\[0\\]: scale must be"):
        open_project_scene(path)


def test_scene_to_dict_is_plain_data(folders: dict[str, Path]) -> None:
    data = scene_to_dict(Scene((_entry(folders["red"], position=(0.1, 0.2)),)))
    assert json.loads(json.dumps(data)) == data and data["characters"][0]["position"] == [0.1, 0.2]


@pytest.mark.parametrize("target", ["texture.png", "background.png"])
def test_a_scene_sheet_never_replaces_a_character_file_or_an_input(
        studio_main: Callable[[Sequence[str]], int], tmp_path: Path, target: str,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_character(_solid(RED), tmp_path / "red")
    cv2.imwrite(str(tmp_path / "background.png"), np.full((64, 96, 3), 200, np.uint8))
    save_scene(Scene((_entry(folder, position=(0.5, 0.6)),), (96, 64), str(tmp_path / "background.png")),
               tmp_path / "s.scene.yaml")
    victim = folder / target if target == "texture.png" else tmp_path / target
    before = victim.read_bytes()
    assert studio_main(["scene", str(tmp_path / "s.scene.yaml"), "-n", "2", "-o", str(victim), "--sheet"]) == 1
    assert "write the sprite sheet elsewhere" in capsys.readouterr().err
    assert victim.read_bytes() == before and not victim.with_suffix(".json").exists()
