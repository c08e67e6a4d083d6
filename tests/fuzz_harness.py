"""The fuzz suite's machinery (tests/test_fuzz_readers.py): a worker process that runs one reader on one set of files
in bounded memory, and Hypothesis strategies that mutate real-shaped files or build bombs.

The readers run in the worker (this file run as a script), never in pytest's own process. Its address space is capped
with RLIMIT_AS at what its imports reserve plus AS_MARGIN, so a bomb fails one example instead of exhausting the
machine, and its peak resident memory is checked after every example against RSS_MARGIN (which also catches a
MemoryError a reader swallows). A reader that runs past HANG_SECONDS is reported as hanging.
"""

from __future__ import annotations

import io
import os
import resource
import struct
import subprocess
import sys
import tempfile
import traceback
import zipfile
import zlib
from collections.abc import Callable
from functools import lru_cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
AS_MARGIN = 3 * 2**30  # address space beyond the worker's imports: the hard stop that keeps the machine safe
RSS_MARGIN = 2**30  # resident memory one example may add: no drawing, clip or config should need more
FSIZE_LIMIT = 2**30  # bytes one file the worker writes may hold (a .mar's checkpoint is extracted to disk)
HANG_SECONDS = 60.0  # far beyond any example's need: only a hang reaches it

# --- the worker -------------------------------------------------------------------------------------------------

# reader → (the path it is given, inside the example's fresh folder; the one error type it may raise)
READERS: dict[str, tuple[str, str]] = {
    "bvh": ("clip.bvh", "studio.pipeline.motion.bvh.BvhError"),
    "yaml": ("config.yaml", "studio.pipeline.motion.config.ConfigError"),
    "character": ("char", "studio.pipeline.character.CharacterError"),
    "image": ("image.png", "studio.pipeline.intake.images.ImageError"),
    "project": ("drawing.studio", "studio.core.project.ProjectError"),
    "mar": ("pose.mar", "studio.pipeline.pose.backend.BackendError"),
}


def _address_space() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))


def _serve(inbox: Connection, outbox: Connection) -> None:
    """Worker loop: ("run", reader, {relative path: bytes}) → ("ok" | "raised", exception MRO names, message,
    peak RSS growth in bytes); ("pth",) → a tiny torch checkpoint's bytes. Exits after a memory breach."""
    import signal

    import torch

    from studio.pipeline.motion.bvh import read_bvh
    from studio.pipeline.character import read_character
    from studio.pipeline.motion.config import load_yaml
    from studio.pipeline.intake.images import decode_image
    from studio.pipeline.pose.torch_backend import load_state_dict
    from studio.core.project import open_project

    run: dict[str, Callable[[Path], object]] = {
        "bvh": read_bvh, "yaml": load_yaml, "character": read_character, "project": open_project,
        "image": lambda path: decode_image(path.read_bytes(), str(path)), "mar": load_state_dict}
    torch.set_num_threads(1)
    limit = _address_space() + AS_MARGIN
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past FSIZE_LIMIT raises OSError instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    while True:
        request = inbox.recv()
        if request[0] == "pth":
            buffer = io.BytesIO()
            torch.save({"state_dict": {"conv.weight": torch.ones(2, 3), "bn.running_mean": torch.zeros(2)}}, buffer)
            outbox.send(buffer.getvalue())
            continue
        _, reader, files = request
        with tempfile.TemporaryDirectory(prefix="studio-fuzz-") as folder:
            for name, data in files.items():
                (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(folder) / name).write_bytes(data)
            try:
                run[reader](Path(folder) / READERS[reader][0])
                result: tuple[Any, ...] = ("ok", (), "")
            except BaseException as exc:  # everything is reported; the parent decides what is allowed
                names = tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__)
                text = str(exc) if isinstance(exc, Exception) else "".join(traceback.format_exception_only(exc))
                result = ("raised", names, text[:2000])
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
        outbox.send(result + (grown,))
        if grown > RSS_MARGIN:
            return


class Worker:
    """The parent's handle on the worker process; restarted after a crash, hang or memory breach."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        to_worker, from_parent = os.pipe()
        to_parent, from_worker = os.pipe()
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MALLOC_ARENA_MAX="2",
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        self.process = subprocess.Popen([sys.executable, __file__, str(to_worker), str(from_worker)],
                                        pass_fds=(to_worker, from_worker), env=env, cwd=ROOT)
        os.close(to_worker)
        os.close(from_worker)
        self.outbox, self.inbox = Connection(from_parent, readable=False), Connection(to_parent, writable=False)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.outbox.close()
            self.inbox.close()
            self.process = None

    def ask(self, request: tuple[Any, ...]) -> Any:
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self.start()
        try:
            self.outbox.send(request)
            if not self.inbox.poll(HANG_SECONDS):
                self.stop()
                raise AssertionError(f"the reader ran past {HANG_SECONDS:.0f} s (a hang?)")
            return self.inbox.recv()
        except (EOFError, OSError):
            code = self.process.wait() if self.process else None
            self.stop()
            raise AssertionError(f"the worker died (exit status {code}): a crash, or killed for memory") from None

    def check(self, reader: str, files: dict[str, bytes]) -> None:
        """Run ``reader`` on ``files`` and assert it returned or raised its own error, one short line, in
        bounded memory."""
        kind, names, message, grown = self.ask(("run", reader, files))
        shown = {name: f"{len(data)} bytes, {data[:80]!r}…" for name, data in files.items()}
        if grown > RSS_MARGIN:
            self.stop()  # it is exiting: its peak cannot go down
        assert grown <= RSS_MARGIN, f"{reader} took {grown // 2**20} MB more resident memory on {shown}"
        if kind == "ok":
            return
        allowed = READERS[reader][1]
        assert allowed in names, f"{reader} raised {names[0]}, not {allowed}: {message[:500]} (input {shown})"
        assert "\n" not in message and len(message) <= 500, f"{reader}'s message is not one short line: {message!r}"
        assert not any(hidden in message for hidden in ("MemoryError", "RecursionError")), message


# --- mutations ----------------------------------------------------------------------------------------------------

TOKENS = [b"1e300", b"-1e308", b"nan", b"inf", b"-1", b"0", b"99999999999999999999", b"9" * 5000, b"\x00", b"\xff\xfe",
          b"{", b"}", b"[", b"]", b"&a ", b"*a ", b"!!python/object/apply:os.system ['true']", b"\n", b"\t", b"../",
          b"JOINT X\n{\n", b"End Site", b"OFFSET ", b"CHANNELS 6 ", b"MOTION\n", b"Frames: ", b"\r\n", b"\xef\xbb\xbf"]


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` after one to four byte-level edits: overwrite, delete, insert, repeat a slice, truncate, add a token."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "delete", "insert", "repeat", "truncate", "token"]))
        at = draw(st.integers(0, len(data)))
        if op == "set" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "repeat":
            data[at:at] = bytes(data[at:at + draw(st.integers(1, 64))]) * draw(st.sampled_from([2, 10, 1000, 50_000]))
        elif op == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.sampled_from(TOKENS))
    return bytes(data)


def zipped(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``members``, dated 2024-01-01 so that the same members give the same bytes on every run."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, compression)
    return buffer.getvalue()


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@st.composite
def rezipped(draw: st.DrawFn, seed: bytes) -> bytes:
    """A zip ``seed`` with one member's bytes mutated, renamed or dropped, written again with valid checksums."""
    members = members_of(seed)
    name = draw(st.sampled_from(sorted(members)))
    how = draw(st.sampled_from(["mutate", "rename", "drop"]))
    if how == "mutate":
        members[name] = draw(mutated(members[name]))
    elif how == "rename":
        members[draw(st.sampled_from(["../" + name, "/abs/" + name, name.upper(), name + "/", "a/" * 50 + name]))] = \
            members.pop(name)
    else:
        del members[name]
    return zipped(members)


@lru_cache(maxsize=None)
def zip_bomb(name: str, size: int, lie: bool = False) -> bytes:
    """A zip whose ``name`` member inflates to ``size`` zero bytes (about 1000:1); ``lie``: its headers claim 1 KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w") as out:
        for _ in range(size // 2**20):
            out.write(bytes(2**20))
    data = bytearray(buffer.getvalue())
    if lie:  # patch the uncompressed size in the local header and in the central directory
        for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            at = data.find(signature)
            data[at + offset:at + offset + 4] = struct.pack("<I", 1024)
    return bytes(data)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each chunk of PNG ``data``."""
    chunks, at = [], 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        chunks.append((kind, data[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


def png_of(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """PNG bytes of ``chunks``, every CRC correct (so the decoder reads what a mutation made)."""
    return b"\x89PNG\r\n\x1a\n" + b"".join(struct.pack(">I", len(payload)) + kind + payload
                                         + struct.pack(">I", zlib.crc32(kind + payload)) for kind, payload in chunks)


@lru_cache(maxsize=None)
def png_bomb(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    """A PNG whose header says ``width`` × ``height`` and whose pixels are all zero: some KB for any size (past 512 MB
    of pixel data the rows are left out, as a reader must refuse such a header before reading them)."""
    size = (1 + width * {0: 1, 2: 3, 4: 2, 6: 4}[colour] * depth // 8) * height  # a filter byte starts each row
    packer = zlib.compressobj(9)
    block = bytes(2**20)
    idat = b"".join(packer.compress(block) for _ in range(size // 2**20)) if size <= 2**29 else b""
    idat += packer.compress(bytes(size % 2**20 if size <= 2**29 else 1024)) + packer.flush()
    header = (b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    return png_of([header, (b"IDAT", idat), (b"IEND", b"")])


if __name__ == "__main__":  # the worker: python tests/fuzz_harness.py INBOX_FD OUTBOX_FD
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
