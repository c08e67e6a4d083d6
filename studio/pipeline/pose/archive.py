"""Model archives (.mar and zip) opened safely: only the checkpoint comes out, inside its folder, within a budget."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from studio.pipeline.pose.backend import BackendError
from studio.pipeline.quoting import clip, excerpt

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt")
# A .mar holds a few files (AD's: a checkpoint of up to a few hundred MB, a config, a manifest), and a checkpoint
# hardly compresses (1.1:1); these caps leave room for any real model and refuse a zip bomb before it writes
# (a 1 MB bomb once wrote 1 GB to TMPDIR before anything noticed).
MAX_ARCHIVE_ENTRIES = 1000
MAX_EXTRACTED_BYTES = 2 * 1024 ** 3  # uncompressed, all extracted members together
MAX_COMPRESSION_RATIO = 100  # uncompressed : compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024  # small members (a config of repeated lines) may compress better than that
_CHUNK = 1 << 20


def safe_member_name(name: str) -> bool:
    """Whether a zip entry name stays inside the folder it is extracted to."""
    parts = re.split(r"[\\/]", name)
    return bool(name) and not name.startswith(("/", "\\")) and ":" not in parts[0] and ".." not in parts


def check_archive_budget(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], shown: str) -> int:
    """Refuse, from the headers and before anything is written, an archive of too many entries or ``members``
    whose declared sizes exceed MAX_EXTRACTED_BYTES together or MAX_COMPRESSION_RATIO each. Returns their
    declared total: the budget that streaming them may not exceed."""
    if len(archive.infolist()) > MAX_ARCHIVE_ENTRIES:
        raise BackendError(f"refused {shown}: {len(archive.infolist())} entries (a model archive holds a few; "
                           f"at most {MAX_ARCHIVE_ENTRIES})")
    total = sum(i.file_size for i in members)
    if total > MAX_EXTRACTED_BYTES:
        raise BackendError(f"refused {shown}: it would extract to {total // 1024 ** 2} MB "
                           f"(at most {MAX_EXTRACTED_BYTES // 1024 ** 2} MB)")
    for info in members:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_COMPRESSION_RATIO * max(1, info.compress_size):
            raise BackendError(f"refused {shown}: {excerpt(info.filename)} claims to compress "
                               f"{info.file_size // max(1, info.compress_size)}:1 (a zip bomb?)")
    return total


_ZIP_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError)


def copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, shown: str) -> int:
    """Stream one member into ``target`` (created, never overwritten) and return the bytes written; refused
    while streaming as soon as it yields more than its header declared or than ``budget``, since a header can
    lie. A damaged member is a BackendError (a failed write stays an OSError); the partial file is removed."""
    damaged = f"refused {shown}: {excerpt(info.filename)} is damaged"
    try:
        src = archive.open(info)
    except _ZIP_DAMAGE as exc:  # OSError: zipfile seeks where a broken directory points
        raise BackendError(f"{damaged} ({clip(str(exc))})") from None
    written = 0
    try:
        with src, open(target, "xb") as dst:
            while True:
                try:
                    chunk = src.read(_CHUNK)
                except _ZIP_DAMAGE as exc:
                    raise BackendError(f"{damaged} ({clip(str(exc))})") from None
                if not chunk:
                    break
                written += len(chunk)
                if written > info.file_size or written > budget:
                    raise BackendError(f"refused {shown}: {excerpt(info.filename)} holds more than its header "
                                       "declares or the extraction budget allows (a zip bomb?)")
                dst.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return written


def extract_checkpoint(archive: str | Path, folder: str | Path) -> Path:
    """Copy the one checkpoint (.pth/.pt/.ckpt) inside a .mar/zip into ``folder``; nothing else is extracted.

    The archive is refused when any entry name is absolute or contains ``..``; the copy is written under its
    base name only, so it can never land outside ``folder``. Sizes are checked as check_archive_budget and
    copy_member say."""
    folder = Path(folder).resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackendError(f"cannot open {archive} as a .mar/zip archive: {exc}") from exc
    with zf:
        shown = Path(archive).name
        unsafe = [n for n in zf.namelist() if not safe_member_name(n)]
        if unsafe:
            raise BackendError(f"refused {shown}: unsafe entry names {excerpt(unsafe[:3])} "
                               "(absolute paths or '..'); get the model from a trusted source")
        found = [i for i in zf.infolist() if not i.is_dir() and i.filename.lower().endswith(CHECKPOINT_SUFFIXES)]
        if not found:
            raise BackendError(f"{shown} holds no .pth checkpoint")
        if len(found) > 1:
            raise BackendError(f"{shown} holds several checkpoints "
                               f"({excerpt([i.filename for i in found[:4]])}); extract one and pass its path")
        budget = check_archive_budget(zf, found, shown)
        target = folder / PurePosixPath(found[0].filename.replace("\\", "/")).name
        if target.resolve().parent != folder:
            raise BackendError(f"refused entry {excerpt(found[0].filename)}: it would land outside {folder}")
        copy_member(zf, found[0], target, budget, shown)
    return target


def is_archive(path: Path) -> bool:
    """A .mar/zip holding a checkpoint, as opposed to torch's own zip format (which has a data.pkl)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return not any(n.endswith("data.pkl") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # an end record that names a broken directory
        raise BackendError(f"{path.name}: a damaged .mar/zip archive ({clip(str(exc))})") from None
