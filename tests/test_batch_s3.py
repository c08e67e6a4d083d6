"""studio batch with S3 input and output (a real ``weed mini``): two local "pods" of an Indexed Job cover every
drawing once, presigned links in results.json, resuming past a half-finished upload, --share from a local output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest
from batch_cli_fixture import studio_batch_main  # noqa: F401 - the fixture
from s3_fixture import WeedS3, aws_env
from test_batch import FLAGS, write_drawings

pytestmark = pytest.mark.slow  # end to end: a real S3 server, studio in subprocesses

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).with_name("batch_cli_fixture.py")
NAMES = ["d0", "d1", "d2", "d3", "d4"]
MOTIONS = ["wave", "jump"]
Main = Callable[[Sequence[str]], int]


def keys(server: WeedS3, prefix: str) -> set[str]:
    client: Any = server.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=prefix)
    return {item["Key"][len(prefix):] for page in pages for item in page.get("Contents", [])}


def get(server: WeedS3, key: str) -> bytes:
    client: Any = server.client()
    return bytes(client.get_object(Bucket=server.bucket, Key=key)["Body"].read())


@pytest.fixture(scope="module")
def uploaded(weed_s3: WeedS3, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Five drawings (and a note that is not one) under s3://bucket/in/; returns that prefix."""
    client: Any = weed_s3.client()
    for path in write_drawings(tmp_path_factory.mktemp("in"), len(NAMES)):
        client.upload_file(str(path), weed_s3.bucket, f"in/{path.name}")
    client.put_object(Bucket=weed_s3.bucket, Key="in/notes.txt", Body=b"not a drawing")
    return f"s3://{weed_s3.bucket}/in/"


def pod(server: WeedS3, index: int, count: int, source: str, output: str, root: Path,
        *extra: str) -> subprocess.Popen[str]:
    """One pod of the Indexed Job: the batch CLI in a fresh process, told its index as Kubernetes tells it."""
    env = aws_env(root, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key,
                  AWS_ENDPOINT_URL=server.endpoint, JOB_COMPLETION_INDEX=str(index), STUDIO_BATCH_SHARDS=str(count),
                  STUDIO_CONFIG_DIR=str(root / f"config{index}"))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.Popen([sys.executable, str(FIXTURE), "batch", source, "-o", output, "-m", ",".join(MOTIONS),
                             "--json", *FLAGS, *extra], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def rendered(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["name"], m) for d in report["drawings"] for m in d["rendered"]]


def test_two_pods_cover_every_drawing_once(weed_s3: WeedS3, uploaded: str, tmp_path: Path) -> None:
    output = f"s3://{weed_s3.bucket}/out/"
    pods = [pod(weed_s3, i, 2, uploaded, output, tmp_path, "--share") for i in (0, 1)]  # side by side
    reports = [finish(p) for p in pods]
    names = [[d["name"] for d in r["drawings"]] for r in reports]
    assert names == [["d0", "d2", "d4"], ["d1", "d3"]]  # disjoint, together complete
    assert all(r["total"] == len(NAMES) for r in reports)
    work = rendered(reports[0]) + rendered(reports[1])
    assert sorted(work) == sorted((n, m) for n in NAMES for m in MOTIONS)  # each rendered exactly once

    found = keys(weed_s3, "out/")
    for name in NAMES:
        assert {f"{name}/wave.gif", f"{name}/jump.gif", f"{name}/results.json",
                f"{name}/character/char_cfg.yaml", f"{name}/character/texture.png"} <= found
        assert get(weed_s3, f"out/{name}/wave.gif").startswith(b"GIF8")
        results = json.loads(get(weed_s3, f"out/{name}/results.json"))
        assert sorted(results) == sorted(MOTIONS)
        with urllib.request.urlopen(results["jump"], timeout=10) as reply:  # a presigned link that works
            assert reply.read() == get(weed_s3, f"out/{name}/jump.gif")

    again = finish(pod(weed_s3, 1, 2, uploaded, output, tmp_path, "--share"))  # a pod restarted
    assert rendered(again) == [] and [d["status"] for d in again["drawings"]] == ["kept", "kept"]


def test_a_half_finished_upload_is_not_an_output(weed_s3: WeedS3, uploaded: str, tmp_path: Path,
                                                 s3_env: WeedS3, studio_batch_main: Main,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    output = f"s3://{weed_s3.bucket}/resume/"
    argv = ["batch", uploaded, "-o", output, "-m", ",".join(MOTIONS), "--endpoint-url", weed_s3.endpoint, "--json",
            "--shards", "5", "--shard-index", "3", *FLAGS]
    assert studio_batch_main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert rendered(first) == [("d3", "wave"), ("d3", "jump")]

    client: Any = weed_s3.client()
    client.delete_object(Bucket=weed_s3.bucket, Key="resume/d3/wave.gif")
    upload = client.create_multipart_upload(Bucket=weed_s3.bucket, Key="resume/d3/wave.gif")  # a pod killed mid-PUT
    client.upload_part(Bucket=weed_s3.bucket, Key="resume/d3/wave.gif", UploadId=upload["UploadId"], PartNumber=1,
                       Body=b"GIF89a" + b"\0" * 1000)
    assert studio_batch_main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert rendered(second) == [("d3", "wave")] and second["drawings"][0]["kept"] == ["jump"]
    assert not second["drawings"][0]["annotated"]  # its character folder came back from S3
    assert get(weed_s3, "resume/d3/wave.gif").startswith(b"GIF89a") and len(get(weed_s3, "resume/d3/wave.gif")) > 100
    assert json.loads(get(weed_s3, "resume/d3/results.json")) == {
        "wave": f"s3://{weed_s3.bucket}/resume/d3/wave.gif", "jump": f"s3://{weed_s3.bucket}/resume/d3/jump.gif"}


def test_two_pods_render_again_for_new_settings_once_each(weed_s3: WeedS3, uploaded: str, tmp_path: Path) -> None:
    """Finished objects made with other settings are rendered again, each by one pod; the record lives beside them
    in S3, so a third pair with the same settings renders nothing, and results.json lists that run's motions."""
    output = f"s3://{weed_s3.bucket}/settings/"
    first = [finish(p) for p in [pod(weed_s3, i, 2, uploaded, output, tmp_path, "-s", "40") for i in (0, 1)]]
    assert sorted(rendered(first[0]) + rendered(first[1])) == sorted((n, m) for n in NAMES for m in MOTIONS)

    larger = [finish(p) for p in [pod(weed_s3, i, 2, uploaded, output, tmp_path, "-s", "56", "-b", "white")
                                  for i in (0, 1)]]
    work = rendered(larger[0]) + rendered(larger[1])
    assert sorted(work) == sorted((n, m) for n in NAMES for m in MOTIONS)  # every output again, exactly once
    drawings = [d for r in larger for d in r["drawings"]]
    assert all(d["changed"] == ["size 40x40 -> 56x56", "background transparent -> white"] for d in drawings)
    assert not any(d["annotated"] for d in drawings)  # the same pose backend: the character folders stand
    for name in NAMES:
        record = json.loads(get(weed_s3, f"settings/{name}/render-settings.json"))
        assert {f: (s["size"], s["background"]) for f, s in record["outputs"].items()} == {
            "wave.gif": ([56, 56], "white"), "jump.gif": ([56, 56], "white")}

    again = [finish(p) for p in [pod(weed_s3, i, 2, uploaded, output, tmp_path, "-s", "56", "-b", "white", "-m",
                                     "jump") for i in (0, 1)]]
    assert rendered(again[0]) + rendered(again[1]) == []
    for name in NAMES:
        assert json.loads(get(weed_s3, f"settings/{name}/results.json")) == {
            "jump": f"s3://{weed_s3.bucket}/settings/{name}/jump.gif"}


def test_share_from_a_local_output_and_a_list_file_in_s3(weed_s3: WeedS3, uploaded: str, tmp_path: Path,
                                                         s3_env: WeedS3, studio_batch_main: Main,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    client: Any = weed_s3.client()
    client.put_object(Bucket=weed_s3.bucket, Key="lists/two.txt", Body=b"# relative to the list\n../in/d1.png\n"
                      b"s3://" + weed_s3.bucket.encode() + b"/in/d4.png\n")
    out = tmp_path / "out"
    code = studio_batch_main(["batch", f"s3://{weed_s3.bucket}/lists/two.txt", "-o", str(out), "-m", "wave",
                              "--share", "--bucket", weed_s3.bucket, "--prefix", "shared/", "--endpoint-url",
                              weed_s3.endpoint, *FLAGS])
    assert code == 0, capsys.readouterr().err
    for name in ("d1", "d4"):
        url = json.loads((out / name / "results.json").read_text())["wave"]
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.read() == (out / name / "wave.gif").read_bytes()
    assert keys(weed_s3, "shared/") == {"d1/wave.gif", "d4/wave.gif"}


def test_s3_trouble_is_one_line(weed_s3: WeedS3, tmp_path: Path, studio_batch_main: Main,
                                capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in aws_env(tmp_path, AWS_ACCESS_KEY_ID=weed_s3.access_key,
                               AWS_SECRET_ACCESS_KEY="wrong-secret-0123456789").items():
        monkeypatch.setenv(name, value)
    code = studio_batch_main(["batch", f"s3://{weed_s3.bucket}/in/", "-o", str(tmp_path / "out"), "-m", "wave",
                              "--endpoint-url", weed_s3.endpoint])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "refused the credentials" in err[0] and "wrong-secret" not in err[0]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", weed_s3.secret_key)
    code = studio_batch_main(["batch", "s3://no-such-bucket/in/", "-o", str(tmp_path / "out"), "-m", "wave",
                              "--endpoint-url", weed_s3.endpoint])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == ["studio: error: The bucket 'no-such-bucket' does not exist at "
                                 f"{weed_s3.endpoint}."]
    write_drawings(tmp_path / "in", 1)
    code = studio_batch_main(["batch", str(tmp_path / "in"), "-o", "s3://no-such-bucket/out", "-m", "wave",
                              "--endpoint-url", weed_s3.endpoint])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""  # refused once, before any drawing
    assert captured.err.strip().splitlines() == ["studio: error: The bucket 'no-such-bucket' does not exist at "
                                                 f"{weed_s3.endpoint}."]
