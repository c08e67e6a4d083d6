"""S3 share against a real weed mini: presigned round trips, multipart, cancel, and the user-facing errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from s3_fixture import WeedS3, free_ports

from studio.core.share import (
    MAX_EXPIRES,
    MULTIPART_THRESHOLD,
    ShareCancelled,
    ShareError,
    ShareSettings,
    share_file,
    share_files,
)

pytestmark = pytest.mark.slow  # end to end: a real S3 server (weed mini)


def _settings(server: WeedS3, **changes: object) -> ShareSettings:
    values: dict[str, object] = {"bucket": server.bucket, "endpoint_url": server.endpoint, "expires": 600}
    values.update(changes)
    return ShareSettings(**values)  # type: ignore[arg-type]


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as err:
        return err.code


def _keys(server: WeedS3, prefix: str) -> list[str]:
    listing = server.client().list_objects_v2(Bucket=server.bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return [o["Key"] for o in listing.get("Contents", [])]


# --- settings (no server) ---------------------------------------------------------------------------------------

def test_settings_validation() -> None:
    s = ShareSettings(bucket="b", endpoint_url=" http://127.0.0.1:9 ", profile=None, region=" ", expires=60)
    assert s.profile == "" and s.endpoint_url == "http://127.0.0.1:9" and s.region == "us-east-1"
    assert s.prefix == "drawings/" and ShareSettings(bucket="b").expires == MAX_EXPIRES == 604800
    for bad in (0, MAX_EXPIRES + 1, -5):
        with pytest.raises(ValueError, match="1..604800"):
            ShareSettings(bucket="b", expires=bad)
    with pytest.raises(ValueError, match="endpoint_url"):
        ShareSettings(bucket="b", endpoint_url=5)  # type: ignore[arg-type]
    assert ShareSettings().bucket == ""  # the saved default has no bucket yet: building it is fine, uploading is not
    with pytest.raises(ValueError, match="bucket"):
        ShareSettings(bucket=" ").check()
    s.expires = 30 * 24 * 3600  # the fields are plain attributes; check() looks again
    with pytest.raises(ValueError, match="1..604800"):
        s.check()


def test_an_upload_with_no_bucket_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match="bucket"):
        share_file(gif, ShareSettings(endpoint_url="http://127.0.0.1:9"))


def test_importing_share_does_not_load_boto3() -> None:
    code = ("import sys, studio.core.share; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_local_file(tmp_path: Path) -> None:
    with pytest.raises(ShareError, match="does not exist") as info:
        share_file(tmp_path / "gone.gif", ShareSettings(bucket="b"))
    assert info.value.kind == "file" and "gone.gif" in str(info.value)


@pytest.mark.parametrize("bucket", ["bad bucket!", "foo/bar", "a:b", "x" * 5000])
def test_an_invalid_bucket_name_is_one_whole_sentence(bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """boto3 refuses the name before any request, with a report on a second line after "Parameter validation
    failed:", which is all a one-line display used to show. No server: nothing is sent."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a")
    endpoint = f"http://127.0.0.1:{free_ports(1)[0]}"
    with pytest.raises(ShareError) as caught:
        share_file(gif, ShareSettings(bucket=bucket, endpoint_url=endpoint))
    message = str(caught.value)
    assert caught.value.kind == "bucket" and "\n" not in message and len(message) < 400
    assert message.startswith(f"Invalid S3 bucket name '{bucket[:20]}") and "letters, digits, dots, hyphens" in message
    from studio.cli.main import main

    assert main(["share", "--bucket", bucket, "--endpoint-url", endpoint, str(gif)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Invalid S3 bucket name" in err and "Parameter validation" not in err


# --- against weed mini ------------------------------------------------------------------------------------------

def test_small_file_round_trips_through_presigned_url(s3_env: WeedS3, tmp_path: Path) -> None:
    path = tmp_path / "dab.gif"
    path.write_bytes(b"GIF89a" + os.urandom(2000))
    seen: list[tuple[int, int]] = []
    shared = share_file(path, _settings(s3_env), progress=lambda d, t: seen.append((d, t)))
    assert shared.size == path.stat().st_size
    assert shared.key.startswith("drawings/") and shared.key.endswith("/dab.gif")
    stamp = shared.key.split("/")[1]
    assert len(stamp) == 15 and stamp[8] == "-" and stamp.replace("-", "").isdigit()
    assert _fetch(shared.url) == path.read_bytes()
    assert seen[-1] == (shared.size, shared.size)
    head = s3_env.client().head_object(Bucket=s3_env.bucket, Key=shared.key)  # type: ignore[attr-defined]
    assert head["ContentType"] == "image/gif"
    assert "X-Amz-Expires=600" in shared.url


def test_tampered_presigned_url_is_refused(s3_env: WeedS3, tmp_path: Path) -> None:
    path = tmp_path / "wave.png"
    path.write_bytes(os.urandom(500))
    url = share_file(path, _settings(s3_env), key="drawings/tamper/wave.png").url
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    sig = query["X-Amz-Signature"][0]
    query["X-Amz-Signature"] = [("0" if sig[0] != "0" else "1") + sig[1:]]
    bad_sig = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, doseq=True)))
    other_key = url.replace("/tamper/wave.png", "/tamper/wavf.png")
    assert _status(url) == 200
    assert _status(bad_sig) == 403
    assert _status(other_key) == 403


def test_large_file_goes_multipart_with_progress(s3_env: WeedS3, tmp_path: Path) -> None:
    path = tmp_path / "jumping.mp4"
    data = os.urandom(MULTIPART_THRESHOLD + 1024 * 1024)
    path.write_bytes(data)
    seen: list[tuple[int, int]] = []
    shared = share_file(path, _settings(s3_env), progress=lambda d, t: seen.append((d, t)))
    assert len(seen) > 2 and all(t == len(data) for _, t in seen)
    assert seen[-1][0] == len(data) and max(d for d, _ in seen) == len(data)
    head = s3_env.client().head_object(Bucket=s3_env.bucket, Key=shared.key)  # type: ignore[attr-defined]
    assert head["ETag"].strip('"').endswith("-2")  # two parts: a multipart upload
    assert head["ContentType"] == "video/mp4"
    assert _fetch(shared.url) == data


def test_cancel_mid_upload_leaves_nothing(s3_env: WeedS3, tmp_path: Path) -> None:
    path = tmp_path / "big.mp4"
    path.write_bytes(os.urandom(MULTIPART_THRESHOLD + 1024 * 1024))
    seen: list[int] = []
    key = "drawings/cancelled/big.mp4"
    with pytest.raises(ShareCancelled):
        share_file(path, _settings(s3_env), progress=lambda d, t: seen.append(d), cancel=lambda: len(seen) >= 3,
                   key=key)
    assert 0 < seen[-1] < path.stat().st_size
    assert _keys(s3_env, "drawings/cancelled/") == []
    uploads = s3_env.client().list_multipart_uploads(Bucket=s3_env.bucket)  # type: ignore[attr-defined]
    assert [u["Key"] for u in uploads.get("Uploads", [])] == []


@pytest.mark.parametrize("size", [100, 1024 * 1024])
def test_cancel_single_put_leaves_nothing(s3_env: WeedS3, tmp_path: Path, size: int) -> None:
    """100 B: the only progress call comes after the PUT finished; 1 MiB: the cancel lands mid-body."""
    path = tmp_path / "one.gif"
    path.write_bytes(os.urandom(size))
    seen: list[int] = []
    with pytest.raises(ShareCancelled):
        share_file(path, _settings(s3_env), progress=lambda d, t: seen.append(d), cancel=lambda: bool(seen),
                   key=f"drawings/single{size}/one.gif")
    assert seen[0] <= size and (size < 256 * 1024 or seen[0] < size)  # big enough: cancelled mid-body
    assert _keys(s3_env, f"drawings/single{size}/") == []


def test_multipart_listing_sees_open_uploads(s3_env: WeedS3) -> None:
    """Guards the cancel test: weed must list an open multipart upload, or 'none left' would prove nothing."""
    client = s3_env.client()
    upload = client.create_multipart_upload(Bucket=s3_env.bucket, Key="drawings/open/x")  # type: ignore[attr-defined]
    try:
        listed = client.list_multipart_uploads(Bucket=s3_env.bucket)  # type: ignore[attr-defined]
        assert "drawings/open/x" in [u["Key"] for u in listed.get("Uploads", [])]
    finally:
        client.abort_multipart_upload(Bucket=s3_env.bucket, Key="drawings/open/x",  # type: ignore[attr-defined]
                                      UploadId=upload["UploadId"])


def test_cancel_before_start_uploads_nothing(s3_env: WeedS3, tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text("{}")
    with pytest.raises(ShareCancelled):
        share_file(path, _settings(s3_env), cancel=lambda: True, key="drawings/early/tiny.json")
    assert _keys(s3_env, "drawings/early/") == []


def test_share_files_returns_motion_urls(s3_env: WeedS3, tmp_path: Path) -> None:
    files = {"dab": b"GIF89a-dab", "jumping": b"GIF89a-jumping"}
    paths = []
    for stem, body in files.items():
        (tmp_path / f"{stem}.gif").write_bytes(body)
        paths.append(tmp_path / f"{stem}.gif")
    seen: list[tuple[int, int]] = []
    urls = share_files(paths, _settings(s3_env, prefix="all/"), progress=lambda d, t: seen.append((d, t)))
    assert set(urls) == {f"{stem}.gif" for stem in files}
    assert {name.removesuffix(".gif"): _fetch(url) for name, url in urls.items()} == files
    folders = {urllib.parse.urlsplit(u).path.rsplit("/", 2)[1] for u in urls.values()}
    assert len(folders) == 1  # one timestamp folder
    total = sum(map(len, files.values()))
    assert seen[-1] == (total, total)


def test_share_files_takes_a_sprite_sheet_and_its_json(s3_env: WeedS3, tmp_path: Path) -> None:
    """walk.png and walk.json share a stem: both are shared, each under its own file name (Share of a sheet)."""
    (tmp_path / "walk.png").write_bytes(b"\x89PNG-sheet")
    (tmp_path / "walk.json").write_bytes(b'{"frames": {}}')
    urls = share_files([tmp_path / "walk.png", tmp_path / "walk.json"], _settings(s3_env, prefix="sheet/"))
    assert {name: _fetch(url) for name, url in urls.items()} == {"walk.png": b"\x89PNG-sheet",
                                                                  "walk.json": b'{"frames": {}}'}


def test_share_files_rejects_two_files_of_one_name(s3_env: WeedS3, tmp_path: Path) -> None:
    for folder, body in (("a", b"1"), ("b", b"2")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "dab.gif").write_bytes(body)
    with pytest.raises(ShareError, match="same name: dab.gif"):
        share_files([tmp_path / "a" / "dab.gif", tmp_path / "b" / "dab.gif"], _settings(s3_env, prefix="twice/"))
    assert _keys(s3_env, "twice/") == []


def test_wrong_secret_is_a_credentials_error_without_the_secret(s3_env: WeedS3, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-secret-do-not-print-0123456789"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong)
    path = tmp_path / "dab.gif"
    path.write_bytes(b"GIF89a")
    with pytest.raises(ShareError) as info:
        share_file(path, _settings(s3_env))
    message = str(info.value)
    assert info.value.kind == "credentials"
    assert message.startswith("S3 refused the credentials") and "AWS_ACCESS_KEY_ID" in message
    assert wrong not in message and s3_env.secret_key not in message and "\n" not in message


def test_unknown_access_key_is_a_credentials_error(s3_env: WeedS3, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEY")
    path = tmp_path / "dab.gif"
    path.write_bytes(b"GIF89a")
    with pytest.raises(ShareError, match="InvalidAccessKeyId") as info:
        share_file(path, _settings(s3_env))
    assert s3_env.secret_key not in str(info.value)


def test_no_credentials_says_how_to_set_them(s3_env: WeedS3, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    path = tmp_path / "dab.gif"
    path.write_bytes(b"GIF89a")
    with pytest.raises(ShareError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") as info:
        share_file(path, _settings(s3_env))
    assert info.value.kind == "no-credentials"


def test_profile_credentials_and_unknown_profile(s3_env: WeedS3, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    creds = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    creds.write_text(f"[studio]\naws_access_key_id = {s3_env.access_key}\n"
                     f"aws_secret_access_key = {s3_env.secret_key}\n")
    path = tmp_path / "dab.gif"
    path.write_bytes(b"GIF89a-profile")
    assert _fetch(share_file(path, _settings(s3_env, profile="studio")).url) == path.read_bytes()
    with pytest.raises(ShareError, match="profile 'nobody'") as info:
        share_file(path, _settings(s3_env, profile="nobody"))
    assert info.value.kind == "profile"


def test_missing_bucket_is_named(s3_env: WeedS3, tmp_path: Path) -> None:
    path = tmp_path / "dab.gif"
    path.write_bytes(b"GIF89a")
    with pytest.raises(ShareError, match="bucket 'no-such-bucket' does not exist") as info:
        share_file(path, _settings(s3_env, bucket="no-such-bucket"))
    assert info.value.kind == "bucket"


def test_missing_bucket_multipart_is_named(s3_env: WeedS3, tmp_path: Path) -> None:
    path = tmp_path / "big.mp4"
    path.write_bytes(os.urandom(MULTIPART_THRESHOLD + 1))
    with pytest.raises(ShareError, match="bucket 'no-such-bucket' does not exist"):
        share_file(path, _settings(s3_env, bucket="no-such-bucket"))


def test_endpoint_down_names_the_endpoint(s3_env: WeedS3, tmp_path: Path) -> None:
    [port] = free_ports(1)
    endpoint = f"http://127.0.0.1:{port}"
    path = tmp_path / "dab.gif"
    path.write_bytes(b"GIF89a")
    with pytest.raises(ShareError, match="Could not reach the S3 endpoint") as info:
        share_file(path, _settings(s3_env, endpoint_url=endpoint))
    assert info.value.kind == "endpoint" and endpoint in str(info.value)


def test_share_files_cancelled_after_first_file_removes_it(s3_env: WeedS3, tmp_path: Path) -> None:
    first, second = tmp_path / "dab.gif", tmp_path / "jumping.gif"
    first.write_bytes(b"GIF89a-first")
    second.write_bytes(b"GIF89a-second")
    seen: list[int] = []
    with pytest.raises(ShareCancelled):
        share_files([first, second], _settings(s3_env, prefix="batch/"), progress=lambda d, t: seen.append(d),
                    cancel=lambda: bool(seen) and seen[-1] > first.stat().st_size)
    assert first.stat().st_size in seen  # the first file was fully sent before the cancel
    assert _keys(s3_env, "batch/") == []


def test_cli_share_prints_links_that_fetch(s3_env: WeedS3, tmp_path: Path) -> None:
    one, two = tmp_path / "dab.gif", tmp_path / "walk.gif"
    one.write_bytes(b"GIF89a-one")
    two.write_bytes(b"GIF89a-two")
    base = [sys.executable, "-m", "studio.cli.main", "share", "--bucket", s3_env.bucket,
            "--endpoint-url", s3_env.endpoint]
    env = {**os.environ, "STUDIO_CONFIG_DIR": str(tmp_path / "config")}
    single = subprocess.run([*base, str(one)], capture_output=True, text=True, timeout=60, env=env)
    assert single.returncode == 0, single.stderr
    assert _fetch(single.stdout.strip()) == b"GIF89a-one"
    both = subprocess.run([*base, str(one), str(two)], capture_output=True, text=True, timeout=60, env=env)
    urls = json.loads(both.stdout)
    # keyed by file name: a sprite sheet's walk.png and walk.json are two files of one stem
    assert set(urls) == {"dab.gif", "walk.gif"} and _fetch(urls["walk.gif"]) == b"GIF89a-two"


def test_cli_share_errors_are_one_line(s3_env: WeedS3, tmp_path: Path) -> None:
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"x")
    env = {**os.environ, "STUDIO_CONFIG_DIR": str(tmp_path / "config"), "AWS_SECRET_ACCESS_KEY": "wrong-secret"}
    result = subprocess.run([sys.executable, "-m", "studio.cli.main", "share", "--bucket", s3_env.bucket,
                             "--endpoint-url", s3_env.endpoint, str(gif)], capture_output=True, text=True, timeout=60,
                            env=env)
    assert result.returncode == 1 and "credentials" in result.stderr and "Traceback" not in result.stderr
    assert "wrong-secret" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    nobucket = subprocess.run([sys.executable, "-m", "studio.cli.main", "share", str(gif)], capture_output=True,
                              text=True, timeout=60, env={**env, "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"]})
    assert nobucket.returncode == 1 and "--bucket" in nobucket.stderr
