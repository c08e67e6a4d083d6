"""The ``studio`` CLI end to end: GIF/MP4/PNG exports, timing rules, one-line errors, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli.main import main
from studio.core.sample import sample_character_files

pytestmark = pytest.mark.slow  # end to end: real exports, and `studio` run in subprocesses


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_character_files(tmp_path_factory.mktemp("sample") / "boy")


def gif_frames(path: Path) -> tuple[list[np.ndarray], list[int], dict]:
    image = Image.open(path)
    frames, delays = [], []
    for k in range(image.n_frames):
        image.seek(k)
        delays.append(image.info["duration"])
        frames.append(np.array(image.convert("RGBA")))
    return frames, delays, dict(image.info)


def test_render_bundled_motion_to_gif(sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wave.gif"
    assert main(["render", str(sample_dir), "--motion", "wave", "--size", "160x120", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    frames, delays, info = gif_frames(out)
    assert len(frames) == 61 and info["loop"] == 0
    assert all(d % 10 == 0 and d >= 20 for d in delays)
    assert sum(delays) == pytest.approx(61 / 30 * 1000, abs=10)  # 1/30 s frames: 30, 30, 40, ...
    first = frames[0]
    assert first.shape == (120, 160, 4)
    # Transparent background, an opaque figure, and the figure kept inside the frame on every frame.
    assert first[0, 0, 3] == 0 and (first[:, :, 3] == 255).sum() > 500
    for frame in frames:
        alpha = frame[:, :, 3]
        assert not alpha[0].any() and not alpha[-1].any() and not alpha[:, 0].any() and not alpha[:, -1].any()
    assert not np.array_equal(frames[0], frames[7])  # it moves


def test_frame_count_resamples_keeping_duration(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "jump.gif"
    assert main(["render", str(sample_dir), "-m", "jump", "-n", "20", "-s", "96", "-o", str(out)]) == 0
    frames, delays, _ = gif_frames(out)
    assert len(frames) == 20
    assert sum(delays) == pytest.approx(67 / 30 * 1000, abs=10)


def test_png_frames_and_colour_background(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    assert main(["render", str(sample_dir), "-m", "idle", "-n", "6", "-s", "80", "-b", "#336699", "-o", str(out)]) == 0
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 6
    image = np.array(Image.open(pngs[0]).convert("RGBA"))
    assert tuple(image[0, 0]) == (0x33, 0x66, 0x99, 255)


def test_mp4_export(sample_dir: Path, tmp_path: Path) -> None:
    import imageio_ffmpeg

    out = tmp_path / "cheer.mp4"
    assert main(["render", str(sample_dir), "-m", "cheer", "-n", "12", "-s", "64x48", "-o", str(out)]) == 0
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    assert tuple(meta["size"]) == (64, 48)
    assert sum(1 for _ in reader) == 12


def test_gif_never_plays_slow(sample_dir: Path, tmp_path: Path) -> None:
    """A clip faster than 50 fps is resampled for GIF, not written with delays a viewer would clamp."""
    out = tmp_path / "fast.gif"
    assert main(["render", str(sample_dir), "-m", "wave", "-n", "300", "-s", "64", "-o", str(out)]) == 0
    frames, delays, _ = gif_frames(out)
    assert len(frames) < 300 and min(delays) >= 20
    assert sum(delays) == pytest.approx(61 / 30 * 1000, abs=20)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio.cli.main", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("make, match", [
    (lambda d, t: ["render", str(t / "nope"), "-m", "wave", "-o", str(t / "a.gif")], "not a character folder"),
    (lambda d, t: ["render", str(d), "-m", "moonwalk", "-o", str(t / "a.gif")], "unknown motion 'moonwalk'"),
    (lambda d, t: ["render", str(d), "-m", "wave", "-o", str(t / "a.avi")], "unknown output type"),
    (lambda d, t: ["render", str(d), "-m", str(t / "bad.bvh"), "-o", str(t / "a.gif")], "line 10: frame 0 has 2 values"),
    (lambda d, t: ["render", str(d), "-m", "wave", "-b", "plaid", "-o", str(t / "a.gif")], "background 'plaid'"),
])
def test_errors_are_one_line_without_traceback(sample_dir: Path, tmp_path: Path, make, match: str) -> None:
    (tmp_path / "bad.bvh").write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xrotation Yrotation "
                                      "Zrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n0 0\n")
    result = run_cli(*make(sample_dir, tmp_path))
    assert result.returncode == 1
    assert match in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("a.*"))


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    result = run_cli("--verbose", "render", str(tmp_path / "none"), "-m", "wave", "-o", str(tmp_path / "a.gif"))
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_motions_lists_the_bundled_clips() -> None:
    result = run_cli("motions", "--json")
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"idle", "walk", "wave", "jump", "dance", "cheer"} <= names


CHARACTERS = ("char2", "char5", "char6")
MOTIONS = {  # BVH → its AD motion config and retarget config
    "fair1_dab.bvh": ("dab.yaml", "fair1_ppf.yaml"),
    "cmu1_jumping_jacks.bvh": ("jumping_jacks.yaml", "cmu1_pfp.yaml"),
    "rokoko_jesse_dance.bvh": ("jesse_dance.yaml", "mixamo_fff.yaml"),
}


@pytest.mark.parametrize("character", CHARACTERS)
@pytest.mark.parametrize("bvh", sorted(MOTIONS))
def test_every_real_character_with_every_real_bvh(shared: Path, tmp_path: Path, character: str, bvh: str) -> None:
    """Automatic mapping for all; AD's own configs where they fit the character (else mapped automatically)."""
    char_dir = shared / "characters" / character
    out = tmp_path / "auto.gif"
    assert main(["render", str(char_dir), "-m", str(shared / "bvh" / bvh), "-n", "8", "-s", "96", "-o", str(out)]) == 0
    assert Image.open(out).n_frames == 8
    motion_cfg, retarget_cfg = MOTIONS[bvh]
    out = tmp_path / "ad.gif"
    assert main(["render", str(char_dir), "-m", str(shared / "ad_config" / "motion" / motion_cfg),
                 "--bvh", str(shared / "bvh" / bvh), "-r", str(shared / "ad_config" / "retarget" / retarget_cfg),
                 "-n", "8", "-s", "96", "-o", str(out)]) == 0
    assert Image.open(out).n_frames == 8


def test_dump_rig_passes_ad_compare(shared: Path, tmp_path: Path) -> None:
    reference = shared / "ad_reference" / "char2_jumping_jacks" / "reference.json"
    if not reference.is_file():
        pytest.skip(f"{reference} not present")
    dump = tmp_path / "rig.json"
    assert main(["render", str(shared / "characters" / "char2"), "-m",
                 str(shared / "ad_config" / "motion" / "jumping_jacks.yaml"),
                 "--bvh", str(shared / "bvh" / "cmu1_jumping_jacks.bvh"),
                 "-r", str(shared / "ad_config" / "retarget" / "cmu1_pfp.yaml"),
                 "-s", "64", "--dump-rig", str(dump), "-o", str(tmp_path / "jj.gif")]) == 0
    data = json.loads(dump.read_text())
    data["meta"]["case"] = "char2_jumping_jacks"
    dump.write_text(json.dumps(data))
    result = subprocess.run([sys.executable, str(reference.parents[1] / "compare.py"), str(reference), str(dump),
                             "--max-mean-angle", "1.0"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_a_resampled_dump_labels_each_frame_with_its_clip_time(sample_dir: Path, tmp_path: Path) -> None:
    """A GIF is capped at 50 fps, so a 100-frame clip at 100 fps plays 50 frames: frame k shows clip frame 2k."""
    from studio.core.motion_source import load_motion
    from studio.pipeline.motion.bvh import read_bvh
    from studio.pipeline.motion.bvh_writer import format_bvh
    from studio.core.sample import sample_character

    source = load_motion("wave", sample_character())
    fast = source.bvh.with_motion(np.repeat(source.bvh.motion, 2, axis=0)[:100], frame_time=0.01)
    clip = tmp_path / "fast.bvh"
    clip.write_text(format_bvh(fast))
    dump = tmp_path / "rig.json"
    assert main(["render", str(sample_dir), "-m", str(clip), "-s", "48", "--dump-rig", str(dump),
                 "-o", str(tmp_path / "fast.gif")]) == 0
    data = json.loads(dump.read_text())
    assert data["meta"]["resampled"] and read_bvh(clip).n_frames == 100
    frames = data["frames"]
    assert frames["bvh_frame_idx"][:4] == [0, 2, 4, 6]
    np.testing.assert_allclose(frames["time"][:4], [0.0, 0.02, 0.04, 0.06])


def test_gif_over_an_image_background(sample_dir: Path, tmp_path: Path) -> None:
    backdrop = np.zeros((30, 40, 3), np.uint8)
    backdrop[:, :20] = (0, 0, 255)  # BGR red on the left, green on the right
    backdrop[:, 20:] = (0, 255, 0)
    import cv2

    cv2.imwrite(str(tmp_path / "bg.png"), backdrop)
    out = tmp_path / "bg.gif"
    assert main(["render", str(sample_dir), "-m", "idle", "-n", "4", "-s", "80", "-b", str(tmp_path / "bg.png"),
                 "-o", str(out)]) == 0
    frames, _, info = gif_frames(out)
    assert len(frames) == 4 and "transparency" not in info
    assert tuple(frames[0][2, 2, :3]) == (255, 0, 0) and tuple(frames[0][2, -3, :3]) == (0, 255, 0)


def test_png_output_never_replaces_other_files(sample_dir: Path, tmp_path: Path) -> None:
    precious = tmp_path / "important"
    precious.mkdir()
    (precious / "thesis.docx").write_text("years of work")
    for target in (precious, sample_dir):
        result = run_cli("render", str(sample_dir), "-m", "idle", "-n", "2", "-s", "32", "-o", str(target))
        assert result.returncode == 1 and ("refusing" in result.stderr or "other files" in result.stderr)
    assert (precious / "thesis.docx").read_text() == "years of work"
    assert (sample_dir / "char_cfg.yaml").is_file()
    # A folder of earlier frames is fine to replace.
    frames = tmp_path / "frames"
    assert main(["render", str(sample_dir), "-m", "idle", "-n", "3", "-s", "32", "-o", str(frames)]) == 0
    assert main(["render", str(sample_dir), "-m", "idle", "-n", "2", "-s", "32", "-o", str(frames)]) == 0
    assert len(list(frames.glob("*.png"))) == 2


def test_rig_dump_is_written_only_after_a_successful_export(sample_dir: Path, tmp_path: Path) -> None:
    dump = tmp_path / "rig.json"
    result = run_cli("render", str(sample_dir), "-m", "idle", "--dump-rig", str(dump), "-o",
                     str(tmp_path / "missing" / "x.gif"))
    assert result.returncode == 1 and "does not exist" in result.stderr
    assert not dump.exists() and not list(tmp_path.glob(".*"))


def test_frame_count_is_bounded(sample_dir: Path, tmp_path: Path) -> None:
    result = run_cli("render", str(sample_dir), "-m", "idle", "-n", "50000000", "-o", str(tmp_path / "x.mp4"))
    assert result.returncode == 1 and "too many" in result.stderr


def test_fit_camera_keeps_a_fast_clip_in_frame(shared: Path, tmp_path: Path) -> None:
    """Few frames of a fast dance: big jumps between frames must not let the figure leave the canvas."""
    out = tmp_path / "fit"
    assert main(["render", str(shared / "characters" / "char2"), "-m", str(shared / "bvh" / "rokoko_jesse_dance.bvh"),
                 "--camera", "fit", "-n", "12", "-s", "200", "-o", str(out)]) == 0
    for png in sorted(out.glob("*.png")):
        alpha = np.array(Image.open(png))[:, :, 3]
        assert not (alpha[0].any() or alpha[-1].any() or alpha[:, 0].any() or alpha[:, -1].any()), png.name
