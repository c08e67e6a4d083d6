"""Where a batch keeps its outputs, a local folder or an S3 prefix (``s3://bucket/prefix``), and how it reaches S3.
An output that is there is whole, because every write is whole or nothing (atomic renames locally, single PUTs in
S3); whether it was rendered with this batch's settings is for its drawing's record (batch_tasks) to say."""

from __future__ import annotations

import contextlib
import json
import mimetypes
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from studio.core.share import MAX_EXPIRES, ShareError, ShareSettings, _client, _explain, content_type, share_file
from studio.pipeline.files.atomic import atomic_write_path

RESULTS = "results.json"
RECORD = "render-settings.json"  # the settings each output and the character folder were made with (batch_tasks)
CHARACTER = "character"  # the annotated AD character folder, kept beside the renders
_CHARACTER_LAST = "char_cfg.yaml"  # uploaded last: its presence in S3 means the folder is whole


class BatchInputError(ValueError):
    """The batch's input or output cannot be used: said before any drawing is touched."""


@dataclass(frozen=True)
class S3Url:
    """``s3://bucket/key``: ``key`` is an object key or a prefix, without a leading slash."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, text: str) -> S3Url:
        rest = text[len("s3://"):] if text.startswith("s3://") else ""
        bucket, _, key = rest.partition("/")
        if not bucket:
            raise BatchInputError(f"{text!r} is not an S3 address: write s3://BUCKET/PREFIX")
        return cls(bucket, key.lstrip("/"))

    @property
    def folder(self) -> str:
        """The key as a prefix: "" for the bucket's top, else ending in one slash."""
        return self.key.rstrip("/") + "/" if self.key.strip("/") else ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def is_s3(text: str | Path) -> bool:
    return str(text).startswith("s3://")


@dataclass(frozen=True)
class S3Access:
    """How to reach S3 for s3:// inputs and outputs. No credentials here: boto3's chain supplies them
    (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, ``profile``, a pod's service account)."""

    endpoint_url: str = ""  # empty for AWS itself
    region: str = "us-east-1"
    profile: str = ""
    expires: int = MAX_EXPIRES  # seconds a presigned link (--share) stays valid

    def settings(self, bucket: str) -> ShareSettings:
        return ShareSettings(bucket=bucket, endpoint_url=self.endpoint_url, region=self.region, prefix="",
                             profile=self.profile, expires=self.expires)


_CLIENTS: dict[tuple[S3Access, str], Any] = {}  # one boto3 client per process, access and bucket


def forget_clients() -> None:
    """Drop this process's clients: a new batch resolves the credentials again (they may have changed)."""
    _CLIENTS.clear()


def s3_client(access: S3Access, bucket: str) -> Any:
    """A boto3 S3 client made as the share feature makes its own (short timeouts, few retries), kept per process."""
    key = (access, bucket)
    if key not in _CLIENTS:
        try:
            _CLIENTS[key] = _client(access.settings(bucket))[0]
        except Exception as exc:  # a missing profile, say
            raise s3_error(exc, access, bucket, "connect") from exc
    return _CLIENTS[key]


def s3_error(exc: BaseException, access: S3Access, bucket: str, what: str) -> ShareError:
    """One line for a failed S3 call: the share feature's wording for credentials, bucket and endpoint trouble."""
    if isinstance(exc, ShareError):
        return exc
    explained = _explain(exc, access.settings(bucket), "")
    if explained.kind in ("credentials", "no-credentials", "bucket", "endpoint", "profile"):
        return explained
    return ShareError(str(explained).replace("S3 upload to", f"S3 {what} at", 1))


def s3_keys(url: S3Url, access: S3Access, delimiter: bool = False) -> list[str]:
    """Every key under ``url``'s folder (only those directly under it with ``delimiter``)."""
    client = s3_client(access, url.bucket)
    keys: list[str] = []
    args = {"Bucket": url.bucket, "Prefix": url.folder, **({"Delimiter": "/"} if delimiter else {})}
    try:
        for page in client.get_paginator("list_objects_v2").paginate(**args):
            keys.extend(item["Key"] for item in page.get("Contents", []))
    except Exception as exc:
        raise s3_error(exc, access, url.bucket, f"listing of {url}") from exc
    return keys


class OutputStore(Protocol):
    """A batch's outputs: one folder per drawing holding ``{motion}.{format}``, results.json, render-settings.json
    and character/."""

    def check(self) -> None:
        """Raise (BatchInputError, ShareError) when the outputs cannot be kept there at all."""
        ...

    def finished(self, name: str) -> set[str]:
        """Names (relative to the drawing's folder) of the outputs already there: each one is whole."""
        ...

    def work_dir(self, name: str) -> Path:
        """The local folder a drawing's renders are written into."""
        ...

    def publish(self, name: str, path: Path) -> None:
        """Keep a finished render written into ``work_dir(name)``."""
        ...

    def location(self, name: str, filename: str, share: bool) -> str:
        """What results.json says for an output: its file name or s3:// URL, or with ``share`` a presigned URL."""
        ...

    def read_json(self, name: str, filename: str) -> Any:
        """The value of a JSON file in the drawing's folder (results.json, its record), or None when it is absent or
        unreadable (then it is written again)."""
        ...

    def write_json(self, name: str, filename: str, value: Any) -> str:
        """Write a JSON file into the drawing's folder, whole or not at all; returns where it went."""
        ...

    def character(self, name: str) -> Path | None:
        """A local copy of the drawing's whole character folder from an earlier run, or None."""
        ...

    def keep_character(self, name: str, folder: Path) -> None:
        """Keep a newly annotated character folder (it is already in place for a local output)."""
        ...


@dataclass(frozen=True)
class Destination:
    """Where outputs go, as worker processes receive it: ``root`` a local folder or s3:// prefix; ``share`` the
    share settings presigned links upload to, for a local root with --share."""

    root: str
    access: S3Access = field(default_factory=S3Access)
    share: ShareSettings | None = None

    def open(self, scratch: Path) -> OutputStore:
        """The store for this destination; an S3 one renders into ``scratch`` before uploading."""
        if is_s3(self.root):
            return S3Store(S3Url.parse(self.root), self.access, scratch)
        return LocalStore(Path(self.root), self.share)


def _decoded(data: bytes) -> Any:
    with contextlib.suppress(ValueError):
        return json.loads(data)
    return None


def _encoded(value: Any) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode()


class LocalStore:
    """Outputs in a local folder: renders are written in place (atomically), so a file there is a finished one."""

    def __init__(self, root: Path, share: ShareSettings | None) -> None:
        self.root, self.share = root, share

    def check(self) -> None:
        """Refuse a root that is a file; make the folder."""
        if self.root.exists() and not self.root.is_dir():
            raise BatchInputError(f"{self.root}: exists and is not a folder")
        self.root.mkdir(parents=True, exist_ok=True)

    def finished(self, name: str) -> set[str]:
        folder = self.root / name
        found = {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")} \
            if folder.is_dir() else set()
        if (folder / CHARACTER / _CHARACTER_LAST).is_file():
            found.add(f"{CHARACTER}/{_CHARACTER_LAST}")
        return found

    def work_dir(self, name: str) -> Path:
        return self.root / name

    def publish(self, name: str, path: Path) -> None:
        pass  # rendered in place

    def location(self, name: str, filename: str, share: bool) -> str:
        if not share:
            return filename  # relative to results.json: the folder can move
        if self.share is None:
            raise ShareError("--share with a local output needs a bucket: pass --bucket or set one in the studio's "
                             "Share settings", "bucket")
        key = f"{self.share.prefix.lstrip('/')}{name}/{filename}"  # stable: a rerun replaces, never duplicates
        return share_file(self.root / name / filename, self.share, key=key).url

    def read_json(self, name: str, filename: str) -> Any:
        path = self.root / name / filename
        return _decoded(path.read_bytes()) if path.is_file() else None

    def write_json(self, name: str, filename: str, value: Any) -> str:
        path = self.root / name / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write_path(path) as tmp:
            tmp.write_bytes(_encoded(value))
        return str(path)

    def character(self, name: str) -> Path | None:
        folder = self.root / name / CHARACTER
        return folder if (folder / _CHARACTER_LAST).is_file() else None

    def keep_character(self, name: str, folder: Path) -> None:
        pass  # annotated in place


class S3Store:
    """Outputs under an S3 prefix. A PUT makes an object appear whole or not at all, so an object there is a
    finished output; renders are written into a local scratch folder, uploaded, then deleted."""

    def __init__(self, url: S3Url, access: S3Access, scratch: Path) -> None:
        self.url, self.access, self.scratch = url, access, scratch

    def _key(self, name: str, filename: str) -> str:
        return f"{self.url.folder}{name}/{filename}"

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(s3_client(self.access, self.url.bucket), method)(Bucket=self.url.bucket, **kwargs)
        except Exception as exc:
            raise s3_error(exc, self.access, self.url.bucket, what) from exc

    def check(self) -> None:
        """Refuse an unreachable endpoint, a missing bucket or refused credentials once, before any work."""
        self._call(f"listing of {self.url}", "list_objects_v2", Prefix=self.url.folder, MaxKeys=1)

    def finished(self, name: str) -> set[str]:
        folder = S3Url(self.url.bucket, self._key(name, ""))
        return {key[len(folder.key):] for key in s3_keys(folder, self.access)}

    def work_dir(self, name: str) -> Path:
        return self.scratch / name

    def publish(self, name: str, path: Path) -> None:
        kind = mimetypes.guess_type(path.name)[0] or content_type(path)
        self._call(f"upload of {path.name}", "upload_file", Filename=str(path), Key=self._key(name, path.name),
                   ExtraArgs={"ContentType": kind})
        path.unlink()

    def location(self, name: str, filename: str, share: bool) -> str:
        key = self._key(name, filename)
        if not share:
            return f"s3://{self.url.bucket}/{key}"
        client = s3_client(self.access, self.url.bucket)
        return str(client.generate_presigned_url("get_object", Params={"Bucket": self.url.bucket, "Key": key},
                                                 ExpiresIn=self.access.expires))

    def read_json(self, name: str, filename: str) -> Any:
        try:
            body = s3_client(self.access, self.url.bucket).get_object(
                Bucket=self.url.bucket, Key=self._key(name, filename))["Body"].read()
        except Exception:  # absent (or unreadable): written again
            return None
        return _decoded(bytes(body))

    def write_json(self, name: str, filename: str, value: Any) -> str:
        key = self._key(name, filename)
        self._call(f"upload of {filename}", "put_object", Key=key, ContentType="application/json",
                   Body=_encoded(value))
        return f"s3://{self.url.bucket}/{key}"

    def character(self, name: str) -> Path | None:
        folder = S3Url(self.url.bucket, self._key(name, CHARACTER + "/"))
        keys = s3_keys(folder, self.access)
        if folder.key + _CHARACTER_LAST not in keys:
            return None
        local = self.work_dir(name) / CHARACTER
        shutil.rmtree(local, ignore_errors=True)
        local.mkdir(parents=True)
        for key in keys:
            relative = key[len(folder.key):]
            if "/" not in relative:
                self._call(f"download of {key}", "download_file", Key=key, Filename=str(local / relative))
        return local

    def keep_character(self, name: str, folder: Path) -> None:
        files = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.name == _CHARACTER_LAST)
        for path in files:  # char_cfg.yaml last
            kind = mimetypes.guess_type(path.name)[0] or content_type(path)
            self._call(f"upload of {path.name}", "upload_file", Filename=str(path),
                       Key=self._key(name, f"{CHARACTER}/{path.name}"), ExtraArgs={"ContentType": kind})
