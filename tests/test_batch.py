"""studio batch on local folders: sharding, the input list, results.json, resuming, per-drawing errors, -j 2."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import pytest
from batch_cli_fixture import studio_batch_main  # noqa: F401 - the fixture
from PIL import Image

from studio.core.batch import BatchRequest, Shard, batch_motions, run_batch
from studio.core.batch_input import list_drawings
from studio.core.batch_store import BatchInputError, Destination, S3Access
from studio.core.batch_tasks import BackendSpec, RenderSettings
from studio.core.sample import sample_image

TINY = RenderSettings(size=(48, 48), frames=3)
FLAGS = ["-n", "3", "-s", "48"]
Main = Callable[[Sequence[str]], int]


def write_drawings(folder: Path, count: int) -> list[Path]:
    """``count`` small, different drawings: the sample scaled to ~100 px, every other one mirrored."""
    folder.mkdir(parents=True, exist_ok=True)
    paper = sample_image()
    paths = []
    for i in range(count):
        small = cv2.resize(paper, (96 + 8 * i, 106 + 8 * i), interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small[:, ::-1] if i % 2 else small)
        path = folder / f"d{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def drawings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("drawings")
    write_drawings(folder, 3)
    (folder / "notes.txt").write_text("not a drawing")
    (folder / "sub").mkdir()
    write_drawings(folder / "sub", 1)  # subfolders are not taken
    return folder


def gif_frames(path: Path) -> int:
    with Image.open(path) as image:
        assert image.format == "GIF"
        return int(getattr(image, "n_frames", 1))


@pytest.mark.parametrize("count", [1, 2, 3, 7])
@pytest.mark.parametrize("total", [0, 1, 5, 12])
def test_shards_are_disjoint_and_together_complete(count: int, total: int) -> None:
    items = list(range(total))
    parts = [Shard(i, count).take(items) for i in range(count)]
    taken = [x for part in parts for x in part]
    assert sorted(taken) == items and len(taken) == len(set(taken))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced


def test_shard_comes_from_the_indexed_jobs_environment() -> None:
    assert Shard.from_env(environ={}) == Shard(0, 1)
    assert Shard.from_env(environ={"JOB_COMPLETION_INDEX": "2", "STUDIO_BATCH_SHARDS": "3"}) == Shard(2, 3)
    assert Shard.from_env(1, 2, environ={"JOB_COMPLETION_INDEX": "0", "STUDIO_BATCH_SHARDS": "5"}) == Shard(1, 2)
    with pytest.raises(BatchInputError, match="without the number of shards"):
        Shard.from_env(environ={"JOB_COMPLETION_INDEX": "1"})
    with pytest.raises(BatchInputError, match="out of range"):
        Shard.from_env(environ={"JOB_COMPLETION_INDEX": "3", "STUDIO_BATCH_SHARDS": "3"})
    with pytest.raises(BatchInputError, match="not a whole number"):
        Shard.from_env(environ={"JOB_COMPLETION_INDEX": "x", "STUDIO_BATCH_SHARDS": "3"})


def test_input_folder_list_file_and_name_clashes(drawings: Path, tmp_path: Path) -> None:
    assert [d.name for d in list_drawings(str(drawings), S3Access())] == ["d0", "d1", "d2"]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# two drawings\n{drawings / 'd2.png'}\n\n  d1.png  \n")
    (tmp_path / "d1.png").write_bytes((drawings / "d1.png").read_bytes())
    found = list_drawings(str(listing), S3Access())
    assert [(d.name, d.source) for d in found] == [("d1", str(tmp_path / "d1.png")), ("d2", str(drawings / "d2.png"))]
    listing.write_text(f"{drawings / 'd1.png'}\nd1.png\n")
    with pytest.raises(BatchInputError, match="share the output folder 'd1'"):
        list_drawings(str(listing), S3Access())
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match="holds no drawings"):
        list_drawings(str(tmp_path / "empty"), S3Access())
    with pytest.raises(BatchInputError, match="no such folder"):
        list_drawings(str(tmp_path / "missing"), S3Access())


def test_motions_are_checked_before_any_work(tmp_path: Path) -> None:
    assert [m.name for m in batch_motions(["wave", " jump", ""])] == ["wave", "jump"]
    with pytest.raises(BatchInputError, match="unknown motion 'dab'"):
        batch_motions(["wave", "dab"])
    with pytest.raises(BatchInputError, match="two motions named 'wave'"):
        batch_motions(["wave", "wave"])


def test_batch_writes_renders_and_results_then_resumes(drawings: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    request = BatchRequest(str(drawings), Destination(str(out)), batch_motions(["wave", "jump"]), settings=TINY)
    seen: list[str] = []
    report = run_batch(request, on_drawing=lambda d: seen.append(d.name))
    assert sorted(seen) == ["d0", "d1", "d2"] and not report.failed
    for name in ("d0", "d1", "d2"):
        results = json.loads((out / name / "results.json").read_text())
        assert results == {"wave": "wave.gif", "jump": "jump.gif"}
        assert gif_frames(out / name / "wave.gif") == 3 and gif_frames(out / name / "jump.gif") == 3
        assert (out / name / "character" / "char_cfg.yaml").is_file()
    assert all(d.annotated and sorted(d.rendered) == ["jump", "wave"] for d in report.drawings)

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = run_batch(request)
    assert [d.status for d in again.drawings] == ["kept"] * 3
    assert not any(d.rendered or d.annotated for d in again.drawings)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps  # nothing rewritten

    # a render killed half-way leaves only a temp (atomic writes): it never counts as finished
    (out / "d1" / "wave.gif").unlink()
    (out / "d1" / ".wave.gif.studio-999999-0a1b2c3d.tmp").write_bytes(b"GIF89a half")
    more = BatchRequest(str(drawings), Destination(str(out)), batch_motions(["wave", "jump", "run"]), settings=TINY)
    third = {d.name: d for d in run_batch(more).drawings}
    assert sorted(third["d1"].rendered) == ["run", "wave"] and third["d1"].kept == ["jump"]
    assert third["d0"].rendered == ["run"] and third["d0"].kept == ["wave", "jump"]
    assert not any(d.annotated for d in third.values())  # the kept character folders are used
    assert gif_frames(out / "d1" / "wave.gif") == 3
    assert json.loads((out / "d1" / "results.json").read_text()) == {"wave": "wave.gif", "jump": "jump.gif",
                                                                    "run": "run.gif"}


def test_a_bad_drawing_fails_alone_and_the_exit_code_says_so(drawings: Path, tmp_path: Path,
                                                              studio_batch_main: Main,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for name in ("d0.png", "d2.png"):
        (source / name).write_bytes((drawings / name).read_bytes())
    (source / "broken.png").write_bytes(b"this is not a PNG")
    code = studio_batch_main(["batch", str(source), "-o", str(tmp_path / "out"), "--motions", "wave", *FLAGS])
    captured = capsys.readouterr()
    assert code == 1
    assert "failed  broken: " in captured.out and "not an image" in captured.out
    assert "2 done, 0 already finished, 1 failed" in captured.out
    assert captured.err.strip().splitlines()[-1].startswith("studio: error: 1 of 3 drawings failed (broken)")
    assert "Traceback" not in captured.err
    assert (tmp_path / "out" / "d0" / "results.json").is_file() and (tmp_path / "out" / "d2" / "wave.gif").is_file()
    assert not (tmp_path / "out" / "broken" / "results.json").exists()  # a rerun takes it up


def test_two_worker_processes_render_the_same_outputs(drawings: Path, tmp_path: Path, studio_batch_main: Main,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = studio_batch_main(["batch", str(drawings), "-o", str(tmp_path / "out"), "-m", "wave,jump", "-j", "2",
                              "--json", *FLAGS])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {d["name"]: sorted(d["rendered"]) for d in report["drawings"]} == {n: ["jump", "wave"]
                                                                              for n in ("d0", "d1", "d2")}
    for name in ("d0", "d1", "d2"):
        assert gif_frames(tmp_path / "out" / name / "jump.gif") == 3
        assert json.loads((tmp_path / "out" / name / "results.json").read_text()) == {"wave": "wave.gif",
                                                                                     "jump": "jump.gif"}


@pytest.mark.parametrize("flags, message", [
    (["-m", "wave,dab"], "unknown motion 'dab'"),
    (["-m", "wave", "--shard-index", "1"], "without the number of shards"),
    (["-m", "wave", "--shard-index", "2", "--shards", "2"], "out of range"),
    (["-m", "wave", "--share"], "--share with a local output uploads to a bucket"),
    (["-m", "wave", "-b", "nowhere.png"], "background 'nowhere.png'"),
])
def test_bad_flags_are_one_line_before_any_work(drawings: Path, tmp_path: Path, studio_batch_main: Main,
                                                capsys: pytest.CaptureFixture[str], flags: list[str],
                                                message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JOB_COMPLETION_INDEX", "STUDIO_BATCH_SHARDS"):
        monkeypatch.delenv(name, raising=False)
    code = studio_batch_main(["batch", str(drawings), "-o", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("studio: error: ") and message in err[0]
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_a_file_is_refused(drawings: Path, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(BatchInputError, match="not a folder"):
        run_batch(BatchRequest(str(drawings), Destination(str(tmp_path / "out")), batch_motions(["wave"])))
    assert os.path.getsize(tmp_path / "out") == 1


def test_the_cli_builds_its_parser_without_the_batch_machinery() -> None:
    """Every command pays for what the CLI imports to build its parser: batch's rendering and S3 are not in it."""
    import subprocess
    import sys

    code = ("import sys, studio.cli.main as m; m.build_parser(); "
            "print(sorted(k for k in sys.modules if k.startswith(('studio.core.batch', 'studio.core.render', 'boto3'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "['studio.core.batch_names']"


def gif_look(path: Path) -> tuple[tuple[int, int], tuple[int, ...] | None]:
    """A GIF's size and its first frame's top-left pixel (RGB), None where it is transparent: the background."""
    with Image.open(path) as image:
        red, green, blue, alpha = image.convert("RGBA").getpixel((0, 0))  # type: ignore[misc]
        return image.size, None if alpha == 0 else (red, green, blue)


@pytest.fixture
def one_drawing(drawings: Path, tmp_path: Path) -> Path:
    source = tmp_path / "in"
    source.mkdir()
    (source / "d0.png").write_bytes((drawings / "d0.png").read_bytes())
    return source


def test_new_settings_render_finished_outputs_again(one_drawing: Path, tmp_path: Path, studio_batch_main: Main,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The review's case: the same motions at another size and background are not "already finished"."""
    out = tmp_path / "out"
    small = ["batch", str(one_drawing), "-o", str(out), "-m", "jump,wave", "-n", "3", "-s", "40"]
    assert studio_batch_main(small) == 0
    assert gif_look(out / "d0" / "wave.gif") == ((40, 40), None)
    capsys.readouterr()

    large = ["batch", str(one_drawing), "-o", str(out), "-m", "jump,wave", "-n", "3", "-s", "56", "-b", "white"]
    assert studio_batch_main(large) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("done    d0: 2 rendered; made again for new settings (size 40x40 -> 56x56, background "
                           "transparent -> white) -> ")
    for name in ("jump.gif", "wave.gif"):
        assert gif_look(out / "d0" / name) == ((56, 56), (255, 255, 255))
        assert gif_frames(out / "d0" / name) == 3
    record = json.loads((out / "d0" / "render-settings.json").read_text())
    assert record["outputs"]["wave.gif"]["size"] == [56, 56] and record["outputs"]["wave.gif"]["background"] == "white"

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert studio_batch_main(large) == 0  # the same settings again: finished
    assert capsys.readouterr().out.splitlines()[0] == "kept    d0: already finished"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps


def test_results_list_exactly_this_runs_motions(one_drawing: Path, tmp_path: Path, studio_batch_main: Main,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    base = ["batch", str(one_drawing), "-o", str(out), *FLAGS, "--json"]
    assert studio_batch_main([*base, "-m", "wave,jump"]) == 0
    assert studio_batch_main([*base, "-m", "jump", "-f", "webm"]) == 0
    assert json.loads((out / "d0" / "results.json").read_text()) == {"jump": "jump.webm"}

    capsys.readouterr()
    assert studio_batch_main([*base, "-m", "wave"]) == 0  # wave.gif is finished with these settings: kept
    captured = capsys.readouterr()
    drawing = json.loads(captured.out)["drawings"][0]
    assert drawing["status"] == "kept" and drawing["kept"] == ["wave"] and not drawing["rendered"]
    assert "kept    d0: already finished, results.json now lists this run's motions" in captured.err
    assert json.loads((out / "d0" / "results.json").read_text()) == {"wave": "wave.gif"}
    assert {p.name for p in (out / "d0").iterdir() if p.is_file()} == {
        "wave.gif", "jump.gif", "jump.webm", "results.json", "render-settings.json"}  # outputs are never deleted


def test_a_replaced_output_loses_its_record_before_it_is_rendered(one_drawing: Path, tmp_path: Path) -> None:
    """A batch stopped between deciding to render an output again and recording the new one never trusts the file:
    its entry is gone, so a rerun with either the old or the new settings renders it."""
    from studio.core.batch_input import Drawing
    from studio.core.batch_tasks import PrepareJob, prepare_drawing

    out = tmp_path / "out"
    motions = batch_motions(["wave", "jump"])
    assert not run_batch(BatchRequest(str(one_drawing), Destination(str(out)), motions, settings=TINY)).failed
    larger = RenderSettings(size=(56, 56), frames=3)
    prepared = prepare_drawing(PrepareJob(Drawing("d0", str(one_drawing / "d0.png")), motions[:1], larger,
                                          Destination(str(out)), BackendSpec(), tmp_path / "scratch"))
    assert prepared.error is None and prepared.todo == {"wave": True} and not prepared.annotated
    record = json.loads((out / "d0" / "render-settings.json").read_text())
    assert sorted(record["outputs"]) == ["jump.gif"]  # wave.gif is about to be replaced: no longer vouched for

    again = run_batch(BatchRequest(str(one_drawing), Destination(str(out)), motions, settings=TINY)).drawings[0]
    assert again.rendered == ["wave"] and again.kept == ["jump"] and again.changed == ["no settings on record"]


def test_another_pose_backend_annotates_again_and_renders_everything(one_drawing: Path, tmp_path: Path) -> None:
    from studio.core.annotate import auto_backend_name

    if auto_backend_name() == "manual":
        pytest.skip("auto is the manual backend here (no embedded model): nothing to change to")
    out = tmp_path / "out"
    motions = batch_motions(["wave"])
    manual = BatchRequest(str(one_drawing), Destination(str(out)), motions, settings=TINY,
                          backend=BackendSpec("manual"))
    assert run_batch(manual).drawings[0].annotated
    auto = run_batch(BatchRequest(str(one_drawing), Destination(str(out)), motions, settings=TINY)).drawings[0]
    assert auto.annotated and auto.rendered == ["wave"]
    assert auto.changed == [f"annotation backend manual -> {auto_backend_name()}"]
    record = json.loads((out / "d0" / "render-settings.json").read_text())
    assert record["character"]["backend"] == auto_backend_name()
    explicit = BackendSpec(auto_backend_name())  # "auto" is recorded as what it resolves to: the same annotation
    same = run_batch(BatchRequest(str(one_drawing), Destination(str(out)), motions, settings=TINY, backend=explicit))
    assert same.drawings[0].status == "kept" and not same.drawings[0].annotated
