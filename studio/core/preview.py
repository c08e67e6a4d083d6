"""The live preview's engine: builds Animations off the UI thread, reusing mesh and motion; the newest request wins."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import numpy as np

from studio.core.motion_source import MotionSource, bundled_motions, load_motion
from studio.pipeline.character import Character
from studio.pipeline.deform.mesh import Mesh, build_mesh
from studio.pipeline.deform.rig import Rig
from studio.core.render import Animation


DRAFT_VERTICES = 200  # mesh size while a joint is dragged: ARAP refactorises in a few ms instead of ~45


DRAFT_OUTLINE_PX = 2.0  # the draft mesh's outline may cut 2 px corners of a ragged contour


class PreviewCancelled(Exception):
    """A newer preview request came in while this one was being built."""


@dataclass(frozen=True)
class PreviewRequest:
    """character: the rigged figure; motion: bundled name, .bvh or motion .yaml; frames: None for the clip's
    own count; size: square preview px; keep_framing: reuse the last camera, and draft: use a coarser mesh (both
    while a joint is dragged, so the animation keeps up with the pointer; the release rebuilds at full quality)."""

    character: Character
    motion: str
    frames: int | None
    size: int
    keep_framing: bool = False
    draft: bool = False


def _mask_key(mask: np.ndarray) -> bytes:
    return hashlib.blake2b(mask.tobytes(), digest_size=16, person=str(mask.shape).encode()[:16]).digest()


class PreviewEngine:
    """Builds preview Animations. Thread-safe: ``submit`` (any thread) makes every older request stale, and a
    stale build stops at its next stage with PreviewCancelled.

    Caches: the mesh while the mask is unchanged (a joint drag only refactorises ARAP and retargets), and the
    motion while the skeleton's joint names are unchanged.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._meshes: dict[bool, tuple[bytes, Mesh]] = {}  # draft? → (mask key, mesh)
        self._motions: dict[tuple[object, ...], MotionSource] = {}
        self._last: Animation | None = None
        self._rendered_once = False
        self.timings: dict[str, float] = {}

    def submit(self) -> int:
        """A ticket for a new request; every older ticket becomes stale."""
        with self._lock:
            self._generation += 1
            return self._generation

    def is_stale(self, ticket: int) -> bool:
        return ticket != self._generation

    def _check(self, ticket: int | None) -> None:
        if ticket is not None and self.is_stale(ticket):
            raise PreviewCancelled()

    def build(self, request: PreviewRequest, ticket: int | None = None) -> Animation:
        """The Animation for ``request``; raises PreviewCancelled when ``ticket`` goes stale on the way."""
        started = time.perf_counter()
        character = request.character
        source = self.motion(request.motion, character)
        self._check(ticket)
        key = _mask_key(character.mask)
        with self._lock:
            cached = self._meshes.get(request.draft)
        mesh = cached[1] if cached is not None and cached[0] == key else None
        if mesh is None:
            mesh = (build_mesh(character.mask, target_vertices=DRAFT_VERTICES, outline_tolerance=DRAFT_OUTLINE_PX)
                    if request.draft else build_mesh(character.mask))
            with self._lock:
                self._meshes[request.draft] = (key, mesh)
        self._check(ticket)
        rig = Rig.build(character, mesh=mesh)
        self._check(ticket)
        last = self._last
        framing = None
        if request.keep_framing and last is not None and (last.width, last.height) == (request.size, request.size):
            framing = last.camera
        animation = Animation(character, source, (request.size, request.size), request.frames, rig=rig,
                              framing=framing)
        self._check(ticket)
        if not self._rendered_once:
            # The first frame ever rendered loads (or, on a new install, compiles) the raster kernels: seconds
            # on a new machine. Here that happens on the builder's thread, not in the window's first paint.
            animation.render_premultiplied(0)
            self._rendered_once = True
        self._last = animation
        self.timings = {**rig.timings, **animation.timings, "total": time.perf_counter() - started}
        return animation

    def motion(self, spec: str, character: Character) -> MotionSource:
        """The clip ``spec`` mapped onto ``character``, cached while its joint names (and, for a clip mapped
        automatically, its joints) are unchanged. Thread-safe; raises what load_motion raises."""
        key: tuple[object, ...] = (spec, character.names, character.parents)
        if spec not in bundled_motions():  # an automatic mapping may depend on where the joints are
            key += (np.round(character.rest).tobytes(),)
        with self._lock:
            source = self._motions.get(key)
        if source is None:
            source = load_motion(spec, character)
            with self._lock:
                if len(self._motions) > 32:
                    self._motions.clear()
                self._motions[key] = source
        return source
