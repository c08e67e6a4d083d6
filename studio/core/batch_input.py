"""Where a batch finds its drawings: a local folder, a text file listing drawings, one drawing, or the same in S3
(``s3://bucket/prefix``); each drawing named for its output folder, and fetched to a local file when it is in S3."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from studio.core.batch_store import CHARACTER, BatchInputError, S3Access, S3Url, is_s3, s3_client, s3_error, s3_keys
from studio.pipeline.files.atomic import atomic_write_path

DRAWING_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Drawing:
    """One input drawing: ``name`` (its file's stem) names its output folder and is unique in a batch;
    ``source`` is a local path or an s3:// URL."""

    name: str
    source: str


def list_drawings(spec: str, access: S3Access) -> list[Drawing]:
    """The batch's drawings, sorted by name (every shard of an Indexed Job sorts the same list the same way).

    ``spec``: a local folder (its drawing files, not its subfolders), a text file naming one drawing a line (paths
    relative to the file, s3:// URLs, ``#`` comments), one drawing file, or the same in S3: ``s3://bucket/prefix``
    (the drawings directly under it), ``s3://bucket/list.txt``, ``s3://bucket/one.png``."""
    if is_s3(spec):
        url = S3Url.parse(spec)
        suffix = PurePosixPath(url.key).suffix.lower()
        if suffix == ".txt":
            parent = str(PurePosixPath(url.key).parent)
            base = f"s3://{url.bucket}/" + ("" if parent == "." else parent + "/")
            sources = _listed(_read_s3_text(url, access), base)
        elif suffix in DRAWING_SUFFIXES:
            sources = [str(url)]
        else:
            sources = [f"s3://{url.bucket}/{key}" for key in s3_keys(url, access, delimiter=True)
                       if PurePosixPath(key).suffix.lower() in DRAWING_SUFFIXES]
    else:
        path = Path(spec)
        if path.is_dir():
            sources = [str(p) for p in path.iterdir()
                       if p.suffix.lower() in DRAWING_SUFFIXES and not p.name.startswith(".") and p.is_file()]
        elif path.suffix.lower() in DRAWING_SUFFIXES and path.is_file():
            sources = [str(path)]
        elif path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise BatchInputError(f"{spec}: cannot read the list of drawings: {exc}") from None
            sources = _listed(text, str(path.parent))
        else:
            raise BatchInputError(f"{spec}: no such folder or file of drawings")
    if not sources:
        raise BatchInputError(f"{spec}: holds no drawings ({', '.join(DRAWING_SUFFIXES)})")
    return _named(sources)


def _listed(text: str, base: str) -> list[str]:
    """The drawings a list file names: blank lines and ``#`` comments skipped, relative entries taken from ``base``
    (the list's own folder: a local path, or an s3:// one ending in a slash)."""
    out = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if is_s3(entry) or Path(entry).is_absolute():
            out.append(entry)
        elif is_s3(base):
            folder = S3Url.parse(base)
            key = posixpath.normpath(posixpath.join(folder.key, entry))
            if key == ".." or key.startswith("../"):
                raise BatchInputError(f"{entry!r} in the list of drawings leads out of the bucket {folder.bucket}")
            out.append(f"s3://{folder.bucket}/{key}")
        else:
            out.append(str(Path(base) / entry))
    return out


def _named(sources: list[str]) -> list[Drawing]:
    by_name: dict[str, str] = {}
    for source in sources:
        name = PurePosixPath(source).stem if is_s3(source) else Path(source).stem
        if not name or name.startswith(".") or name in (CHARACTER,):
            raise BatchInputError(f"{source}: {name!r} cannot name an output folder; rename the drawing")
        if name in by_name and by_name[name] != source:
            raise BatchInputError(f"two drawings would share the output folder {name!r}: {by_name[name]} and "
                                  f"{source}; rename one")
        by_name[name] = source
    return [Drawing(name, by_name[name]) for name in sorted(by_name)]


def _read_s3_text(url: S3Url, access: S3Access) -> str:
    try:
        body = s3_client(access, url.bucket).get_object(Bucket=url.bucket, Key=url.key)["Body"].read()
        return str(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BatchInputError(f"{url}: the list of drawings is not UTF-8 text") from None
    except Exception as exc:
        raise s3_error(exc, access, url.bucket, f"reading {url}") from exc


def fetch(source: str, folder: Path, access: S3Access) -> Path:
    """A local path to the drawing: a local source as it is, an S3 one downloaded into ``folder``."""
    if not is_s3(source):
        return Path(source)
    url = S3Url.parse(source)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / PurePosixPath(url.key).name
    try:
        with atomic_write_path(target) as tmp:
            s3_client(access, url.bucket).download_file(url.bucket, url.key, str(tmp))
    except Exception as exc:
        raise s3_error(exc, access, url.bucket, f"download of {source}") from exc
    return target

