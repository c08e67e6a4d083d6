"""S3 share: upload exported files to any S3-compatible service and hand back presigned GET URLs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.pipeline.progress import Cancel, Progress

MAX_EXPIRES = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
MULTIPART_THRESHOLD = 8 * 1024 * 1024
CONTENT_TYPES = {".gif": "image/gif", ".mp4": "video/mp4", ".png": "image/png", ".json": "application/json"}
CREDENTIALS_HELP = ("credentials come from boto3's chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                    "~/.aws/credentials, or the profile named in the share settings")
_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken",
               "InvalidClientTokenId", "AuthorizationHeaderMalformed", "403", "Forbidden"}
_CONNECT_TIMEOUT_S = 5
_READ_TIMEOUT_S = 20
_MAX_ATTEMPTS = 2  # the first try plus one retry: a dead endpoint fails in seconds


@dataclass(kw_only=True)
class ShareSettings:
    """Where "Share" uploads, as the user sets it (saved with the settings, edited in Settings → Share). No
    credentials here: boto3's usual chain (env vars, ~/.aws, ``profile``) supplies them.

    endpoint_url: empty (or None) for AWS itself, else any S3-compatible service; profile: empty (or None) for the
    default chain. Building one turns None into "" and strips blanks a dialog left.
    Building one (or ``dataclasses.replace``) refuses text fields that are not text and ``expires`` outside
    1..604800 s with ValueError; ``check()`` also refuses an empty bucket, and every upload calls it.
    """

    bucket: str = ""
    endpoint_url: str | None = ""
    region: str = "us-east-1"
    prefix: str = "drawings/"
    profile: str | None = ""
    expires: int = MAX_EXPIRES

    def __post_init__(self) -> None:
        for name in ("endpoint_url", "profile"):  # None, or blanks from a dialog, mean "not set"
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"share setting {name!r} must be text, got {value!r}")
            setattr(self, name, (value or "").strip())
        for name in ("bucket", "region", "prefix"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"share setting {name!r} must be text, got {getattr(self, name)!r}")
        self.region = self.region.strip() or "us-east-1"
        self._check_expires()

    def _check_expires(self) -> None:
        if isinstance(self.expires, bool) or not isinstance(self.expires, int) or not 1 <= self.expires <= MAX_EXPIRES:
            raise ValueError(f"link lifetime must be 1..{MAX_EXPIRES} seconds (7 days), got {self.expires!r}")

    def check(self) -> None:
        """Raise ValueError when these settings cannot upload: no bucket, or a link lifetime out of range (the
        fields are plain attributes: a dialog may have changed them since)."""
        if not self.bucket.strip():
            raise ValueError("the S3 bucket name is empty")
        self._check_expires()


@dataclass(frozen=True)
class SharedFile:
    """One uploaded file: its object key, a presigned GET URL, and its size in bytes."""

    key: str
    url: str
    size: int


class ShareError(Exception):
    """A one-line message for the user. ``kind``: credentials, no-credentials, bucket, endpoint, profile, file, s3."""

    def __init__(self, message: str, kind: str = "s3") -> None:
        super().__init__(message)
        self.kind = kind


class ShareCancelled(Exception):
    """The user cancelled; nothing of the cancelled upload is left in the bucket."""


@dataclass
class _Tally:
    """Bytes sent across one share call, fed from s3transfer's worker threads."""

    total: int
    progress: Progress | None
    cancel: Cancel | None
    done: int = 0
    file_size: int = 0
    file_done: int = 0
    cancelled: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self) -> None:
        if self.cancelled or (self.cancel is not None and self.cancel()):
            self.cancelled = True
            raise ShareCancelled("upload cancelled")

    def start(self, size: int) -> None:
        self.check()
        self.file_size, self.file_done = size, 0

    def add(self, amount: int) -> None:
        """boto3's Callback: ``amount`` may be negative when a part is retried.

        s3transfer batches these (256 KiB) and flushes the rest when a request body is closed, after
        the request: the flush that completes a file must not raise, or a finished single PUT would
        stay behind a "cancelled". ``_share`` checks again after each file and removes it then.
        """
        with self.lock:
            self.done = max(0, min(self.total, self.done + amount))
            self.file_done += amount
            done, finished = self.done, self.file_done >= self.file_size
        if self.progress is not None:
            self.progress(done, self.total)
        if not finished:
            self.check()


def _where(settings: ShareSettings) -> str:
    return settings.endpoint_url or f"AWS S3 ({settings.region})"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes (boto3 wraps a ClientError from upload_file in S3UploadFailedError)."""
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _explain(exc: BaseException, settings: ShareSettings, source: str) -> ShareError:
    """A user-facing ShareError for a boto3/botocore failure; never quotes a secret key."""
    from botocore import exceptions as bx

    where = _where(settings)
    for err in _chain(exc):
        if isinstance(err, bx.ProfileNotFound):
            return ShareError(f"The AWS profile '{settings.profile}' is not in ~/.aws/config or ~/.aws/credentials.",
                              "profile")
        if isinstance(err, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            return ShareError("No S3 credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                              "or name a profile from ~/.aws/credentials in the share settings.", "no-credentials")
        if isinstance(err, (bx.EndpointConnectionError, bx.ConnectionClosedError, bx.ReadTimeoutError,
                            bx.ConnectTimeoutError)):
            return ShareError(f"Could not reach the S3 endpoint {where}: {type(err).__name__}.", "endpoint")
        if isinstance(err, bx.ClientError):
            error = err.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code == "NoSuchBucket":
                return ShareError(f"The bucket '{settings.bucket}' does not exist at {where}.", "bucket")
            if code in _AUTH_CODES:
                return ShareError(f"S3 refused the credentials{source}: {code} at {where}; {CREDENTIALS_HELP}.",
                                  "credentials")
            message = _one_line(str(error.get("Message", "")))
            if code.isdigit():  # a bare HTTP status: probably not an S3 service at all
                return ShareError(f"S3 upload to {where} failed: HTTP {code} {message}; "
                                  "is the endpoint URL an S3 service?", "endpoint")
            return ShareError(f"S3 upload to {where} failed: {_one_line(code) or 'error'}: {message}".rstrip(": "))
        if isinstance(err, bx.ParamValidationError):
            return _invalid_request(err, settings, where)
        if isinstance(err, bx.BotoCoreError):
            return ShareError(f"S3 upload to {where} failed: {_one_line(str(err))}")
    return ShareError(f"S3 upload to {where} failed: {type(exc).__name__}: {_one_line(str(exc))}")


def _invalid_request(err: BaseException, settings: ShareSettings, where: str) -> ShareError:
    """botocore refused to build the request. Its report starts on a second line after "Parameter validation
    failed:", which a one-line display cuts off, and quotes two long regexes for a bad bucket name."""
    report = str(getattr(err, "kwargs", {}).get("report", "")) or str(err)
    if report.startswith("Invalid bucket name"):
        return ShareError(f"Invalid S3 bucket name {_one_line(repr(settings.bucket), 80)}: a bucket name is 1 to 255 "
                          "letters, digits, dots, hyphens and underscores, with no spaces, slashes or other signs "
                          "(AWS S3 itself: 3 to 63 lowercase letters, digits, dots and hyphens).", "bucket")
    return ShareError(f"S3 upload to {where} failed: the request is not valid: {_one_line(report)}")


def _one_line(text: str, limit: int = 300) -> str:
    """A message from a server or library for a one-line display: whitespace runs made one space, cut short."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _client(settings: ShareSettings) -> tuple[Any, str]:
    """An S3 client with short timeouts and few retries, and where its credentials came from (for messages)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=settings.profile or None, region_name=settings.region)
    config = Config(signature_version="s3v4", connect_timeout=_CONNECT_TIMEOUT_S, read_timeout=_READ_TIMEOUT_S,
                    retries={"max_attempts": _MAX_ATTEMPTS, "mode": "standard"},
                    s3={"addressing_style": "path"} if settings.endpoint_url else {},
                    # many S3-compatible services reject the newer default CRC trailers
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    creds = session.get_credentials()
    method = getattr(creds, "method", "") or ""
    source = {"env": " from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
              "shared-credentials-file": " from ~/.aws/credentials",
              "config-file": " from ~/.aws/config"}.get(method, f" ({method})" if method else "")
    if settings.profile and method in ("shared-credentials-file", "config-file"):
        source += f" (profile '{settings.profile}')"
    return session.client("s3", endpoint_url=settings.endpoint_url or None, config=config), source


def default_key(settings: ShareSettings, filename: str, stamp: str | None = None) -> str:
    """``{prefix}{YYYYmmdd-HHMMSS, UTC}/{filename}``."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{settings.prefix.lstrip('/')}{stamp}/{filename}"


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def _checked_files(paths: Iterable[str | Path]) -> list[tuple[Path, int]]:
    out = []
    for p in map(Path, paths):
        if not p.is_file():
            raise ShareError(f"The file to share does not exist: {p}", "file")
        out.append((p, p.stat().st_size))
    return out


def _upload(client: Any, path: Path, size: int, settings: ShareSettings, key: str, tally: _Tally) -> None:
    """upload_file with multipart above MULTIPART_THRESHOLD; a failed or cancelled multipart upload is aborted."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD,
                            max_concurrency=4, preferred_transfer_client="classic")
    tally.start(size)
    client.upload_file(str(path), settings.bucket, key, ExtraArgs={"ContentType": content_type(path)},
                       Callback=tally.add, Config=config)


def _share(files: list[tuple[Path, str]], settings: ShareSettings, progress: Progress | None,
           cancel: Cancel | None, sizes: list[int]) -> list[SharedFile]:
    """Upload every (path, key), then presign; on failure or cancel delete what this call already uploaded."""
    settings.check()
    tally = _Tally(sum(sizes), progress, cancel)
    source = ""
    client: Any = None
    uploaded: list[str] = []
    try:
        client, source = _client(settings)
        for (path, key), size in zip(files, sizes):
            _upload(client, path, size, settings, key, tally)
            uploaded.append(key)
        tally.check()  # a cancel during the last file's final flush still cancels the whole call
        if progress is not None and tally.total == 0:
            progress(0, 0)
        return [SharedFile(key, client.generate_presigned_url(
                    "get_object", Params={"Bucket": settings.bucket, "Key": key}, ExpiresIn=settings.expires), size)
                for (_, key), size in zip(files, sizes)]
    except Exception as exc:
        for key in uploaded:  # best effort: a batch is shared whole or not at all
            with contextlib.suppress(Exception):
                client.delete_object(Bucket=settings.bucket, Key=key)
        if tally.cancelled or isinstance(exc, ShareCancelled):
            raise ShareCancelled("upload cancelled") from None
        if isinstance(exc, ShareError):
            raise
        raise _explain(exc, settings, source) from exc


def share_file(path: str | Path, settings: ShareSettings, progress: Progress | None = None,
               cancel: Cancel | None = None, key: str | None = None) -> SharedFile:
    """Upload ``path`` and return its key, a presigned GET URL valid ``settings.expires`` s, and its size.

    ``progress(done_bytes, total_bytes)`` and ``cancel()`` are called from upload worker threads.
    Raises ShareError (one line for the user) or ShareCancelled; ValueError, before any upload, when
    ``settings.check()`` refuses the settings.
    """
    [(p, size)] = _checked_files([path])
    [shared] = _share([(p, key or default_key(settings, p.name))], settings, progress, cancel, [size])
    return shared


def share_files(paths: Iterable[str | Path], settings: ShareSettings, progress: Progress | None = None,
                cancel: Cancel | None = None) -> dict[str, str]:
    """Share several files under one timestamp folder; returns ``{file name: url}`` (a sprite sheet's walk.png and
    walk.json are two entries).

    ``progress`` counts bytes over all files. All or nothing: on failure or cancel, files already
    uploaded by this call are deleted again. Two files of one name (from two folders) are refused before any
    upload: they would land on the same key.
    """
    checked = _checked_files(paths)
    names = [p.name for p, _ in checked]
    dupes = sorted({s for s in names if names.count(s) > 1})
    if dupes:
        raise ShareError(f"Two files to share have the same name: {', '.join(dupes)}", "file")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    shared = _share([(p, default_key(settings, p.name, stamp)) for p, _ in checked], settings, progress, cancel,
                    [size for _, size in checked])
    return {p.name: s.url for (p, _), s in zip(checked, shared)}
