""".mar/zip extraction with a budget: sizes and compression ratios are checked from the headers before anything is
written, and again while streaming, for the torch backend's checkpoint copy and the mm backend's full extraction."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from studio.pipeline.pose import archive as model_archive
from studio.pipeline.pose.archive import extract_checkpoint
from studio.pipeline.pose.backend import BackendError
from studio.pipeline.pose.mm import safe_extract
from studio.pipeline.pose.torch_backend import load_state_dict

SHORT = 300
Extract = Callable[[Path, Path], Path]
EXTRACTORS = [pytest.param(extract_checkpoint, id="torch-checkpoint"), pytest.param(safe_extract, id="mm-all")]


def bomb(path: Path, size: int = 8 * 1024 * 1024) -> Path:
    """A .mar whose checkpoint is ``size`` zero bytes, deflated some 1000:1."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.py", "x = 1\n")
        zf.writestr("model.pth", bytes(size))
    return path


def with_lying_header(path: Path, member: str, claimed: int) -> Path:
    """Rewrite ``member``'s uncompressed size in both its local and central headers to ``claimed``."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    assert data[local:local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, claimed)
    central = 0
    while True:  # the central directory record of ``member``
        central = data.index(b"PK\x01\x02", central)
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46:central + 46 + name_len]).decode() == member:
            struct.pack_into("<I", data, central + 24, claimed)
            break
        central += 4
    path.write_bytes(bytes(data))
    return path


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("extract", EXTRACTORS)
def test_a_high_ratio_member_is_refused_before_anything_is_written(tmp_path: Path, extract: Extract) -> None:
    archive = bomb(tmp_path / "bomb.mar")
    assert archive.stat().st_size < 100_000
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BackendError, match="model.pth' claims to compress .*:1") as info:
        extract(archive, out)
    assert len(str(info.value)) < SHORT
    assert files_in(out) == []


@pytest.mark.parametrize("extract", EXTRACTORS)
def test_a_header_that_understates_the_size_is_caught_while_streaming(tmp_path: Path, extract: Extract) -> None:
    archive = with_lying_header(bomb(tmp_path / "bomb.mar"), "model.pth", 1000)  # under the ratio check's floor
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BackendError, match="refused bomb.mar: 'model.pth'") as info:
        extract(archive, out)
    assert len(str(info.value)) < SHORT
    assert files_in(out) == []  # nor config.py, extracted before model.pth was found out


@pytest.mark.parametrize("extract", EXTRACTORS)
def test_total_size_over_the_budget_is_refused_from_the_headers(tmp_path: Path, extract: Extract,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "big.mar"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:  # stored: a ratio of 1, only the total is big
        zf.writestr("model.pth", bytes(5000))
    monkeypatch.setattr(model_archive, "MAX_EXTRACTED_BYTES", 4000)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BackendError, match="would extract to"):
        extract(archive, out)
    assert files_in(out) == []


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "many.mar"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("model.pth", b"x")
        for k in range(model_archive.MAX_ARCHIVE_ENTRIES):
            zf.writestr(f"f/{k}.txt", b"")
    out = tmp_path / "out"
    with pytest.raises(BackendError, match=f"{model_archive.MAX_ARCHIVE_ENTRIES + 1} entries"):
        safe_extract(archive, out)
    assert not out.exists() or files_in(out) == []


def test_a_duplicate_entry_is_refused_not_overwritten(tmp_path: Path) -> None:
    archive = tmp_path / "dup.mar"
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("config.py", "x = 1\n")
        zf.writestr("config.py", "import os\n")
    with pytest.raises(BackendError, match="listed twice"):
        safe_extract(archive, tmp_path / "out")


@pytest.mark.parametrize("extract", EXTRACTORS)
def test_a_real_sized_checkpoint_still_extracts(tmp_path: Path, extract: Extract) -> None:
    archive = tmp_path / "pose.mar"
    payload = np.random.default_rng(0).bytes(2 * 1024 * 1024)  # 2 MB that deflate cannot shrink, like weights
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.py", "x = 1\n" * 10_000)  # a small member may compress far better
        zf.writestr("model.pth", payload)
    out = tmp_path / "out"
    out.mkdir()
    extract(archive, out)
    assert (out / "model.pth").read_bytes() == payload


def _model_archive(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.pth", b"weights")  # first: its header is the one a damaged start breaks
        zf.writestr("MAR-INF/MANIFEST.json", "{}")
        zf.writestr("config.py", "x = 1\n")
    return path


def test_a_broken_central_directory_is_a_backend_error(tmp_path: Path) -> None:
    archive = _model_archive(tmp_path / "pose.mar")
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"PK\x01\x02", b"PK\x01\x09", 1))  # the end record still says "a zip"
    assert zipfile.is_zipfile(archive)
    with pytest.raises(BackendError, match="damaged .mar/zip archive"):
        load_state_dict(archive)


@pytest.mark.parametrize("extract", EXTRACTORS)
def test_a_byte_missing_at_the_start_is_a_backend_error(tmp_path: Path, extract: Extract) -> None:
    archive = _model_archive(tmp_path / "pose.mar")
    data = archive.read_bytes()
    archive.write_bytes(data[:1] + data[2:])  # the first header loses a byte; zipfile then seeks to offset -1
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BackendError) as info:
        extract(archive, out)
    assert len(str(info.value)) < SHORT
    assert files_in(out) == []
