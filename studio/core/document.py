"""The document the studio edits: the drawing, its box, mask and skeleton, the motion and the export settings, and
the scene the project keeps."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.core.observe import Signal
from studio.pipeline.intake.box import clamp_box
from studio.pipeline.character import Character
from studio.pipeline.compositing import WHITE, over
from studio.pipeline.pose.backend import AD_SKELETON, Box
from studio.pipeline.intake.strokes import Stroke, render_strokes

if TYPE_CHECKING:
    from studio.core.scene import Scene

ASPECTS = ("drawing", "box", "mask", "joints", "motion", "export", "scene")
BLANK_SIZE = (600, 600)  # width, height of a new drawing's paper
DEFAULT_MOTION = "dance"


class DocumentError(ValueError):
    """The document cannot do what was asked; the message says what the user can do about it."""


@dataclass(frozen=True, eq=False)
class Skeleton:
    """names, parents: the joint tree (parent -1 for the root); joints: (J, 2) float64, image px."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    joints: np.ndarray

    @classmethod
    def ad(cls, joints: np.ndarray) -> "Skeleton":
        """AD's 16-joint skeleton at ``joints`` ((16, 2) image px)."""
        names = tuple(name for name, _, _ in AD_SKELETON)
        parents = tuple(-1 if parent is None else names.index(parent) for _, parent, _ in AD_SKELETON)
        return cls(names, parents, np.asarray(joints, float).copy())

    def moved(self, joints: np.ndarray) -> "Skeleton":
        joints = np.asarray(joints, float)
        if joints.shape != self.joints.shape:
            raise DocumentError(f"expected {self.joints.shape} joints, got {joints.shape}")
        return Skeleton(self.names, self.parents, joints.copy())

    def joints_sides_swapped(self) -> np.ndarray:
        """(J, 2) joints with every left_X and right_X pair swapped (the figure's own left and right)."""
        joints = self.joints.copy()
        for i, name in enumerate(self.names):
            if name.startswith("left"):
                other = "right" + name[4:]
                if other in self.names:
                    j = self.names.index(other)
                    joints[i], joints[j] = self.joints[j], self.joints[i]
        return joints


@dataclass(frozen=True)
class PreviewSettings:
    """What the live preview plays: a motion (bundled name, .bvh or motion .yaml path), its frame count
    (None: the clip's own), the square size in px, and the playback speed."""

    motion: str = DEFAULT_MOTION
    frames: int | None = None
    size: int = 512
    speed: float = 1.0


@dataclass(frozen=True)
class ExportSettings:
    """kind: gif, mp4 or png; background: transparent, white, #rrggbb or an image path; size: square px;
    frames: None for the preview's count."""

    kind: str = "gif"
    background: str = "transparent"
    size: int = 512
    frames: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "background": self.background, "size": self.size, "frames": self.frames}


@dataclass(eq=False)
class Document:
    """One drawing being annotated and animated. Widgets observe ``changed(aspect)``; commands change it.

    paper: (H, W, 3) uint8 RGB under the strokes (a loaded photo, or white); strokes: drawn on top, in order.
    box: the figure's box, image px; mask: (H, W) uint8 0/255 over the whole image; skeleton: joints in image px;
    detected: the joints as the last automatic annotation placed them (for "reset to detected"); unsure: the
    joints that annotation scored low, which stay flagged while they are where it put them (``unsure_joints``).
    scene: the Scene this project keeps (None: none yet); its file names absolute, its 'project' character this
    drawing. Scene edits are undoable edits of the document, like strokes.
    """

    paper: np.ndarray
    strokes: list[Stroke] = field(default_factory=list)
    box: Box | None = None
    mask: np.ndarray | None = None
    skeleton: Skeleton | None = None
    detected: np.ndarray | None = None
    preview: PreviewSettings = field(default_factory=PreviewSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    source: str = ""
    revision: int = 0
    saved_revision: int = 0
    settings_revision: int = 0  # motion, frames, size and export settings are not undoable edits
    saved_settings_revision: int = 0
    unsure: frozenset[str] = frozenset()
    scene: Scene | None = None
    changed: Signal = field(default_factory=Signal, repr=False, compare=False)
    _image: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def blank(cls, width: int = BLANK_SIZE[0], height: int = BLANK_SIZE[1]) -> "Document":
        return cls(np.full((height, width, 3), 255, np.uint8))

    @classmethod
    def from_character(cls, character: Character, image: np.ndarray | None = None, source: str = "") -> "Document":
        """A document holding an AD character: ``image`` is its image.png when known (the box places the
        texture in it); otherwise the texture on white paper."""
        h, w = character.mask.shape
        box = character.bounding_box
        fits = (image is not None and box is not None and (box[2] - box[0], box[3] - box[1]) == (w, h)
                and box[0] >= 0 and box[1] >= 0 and box[2] <= image.shape[1] and box[3] <= image.shape[0])
        if not fits or image is None or box is None:
            paper = over(character.texture, WHITE)
            box = (0, 0, w, h)
        else:
            paper = np.ascontiguousarray(image[:, :, :3])
        left, top = box[0], box[1]
        mask = np.zeros(paper.shape[:2], np.uint8)
        mask[top:top + h, left:left + w] = character.mask
        joints = character.rest + np.array([left, top], float)
        skeleton = Skeleton(character.names, character.parents, joints)
        return cls(paper, box=tuple(float(v) for v in box), mask=mask, skeleton=skeleton,  # type: ignore[arg-type]
                   detected=joints.copy(), source=source or character.source)

    # ------------------------------------------------------------------ derived state
    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the drawing in px."""
        return int(self.paper.shape[1]), int(self.paper.shape[0])

    @property
    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB: the paper with the strokes drawn on it (cached)."""
        if self._image is None:
            w, h = self.size
            self._image = render_strokes(self.strokes, w, h, paper=self.paper) if self.strokes else self.paper
        return self._image

    @property
    def annotated(self) -> bool:
        """Box, mask and joints are all there: the drawing can be rigged and animated."""
        return self.box is not None and self.mask is not None and self.skeleton is not None


    def unsure_joints(self) -> list[int]:
        """Indices of the joints the automatic annotation was unsure of and that nobody has moved since."""
        if self.skeleton is None or self.detected is None or self.detected.shape != self.skeleton.joints.shape:
            return []
        return [i for i, name in enumerate(self.skeleton.names)
                if name in self.unsure and np.allclose(self.skeleton.joints[i], self.detected[i], atol=0.5)]

    def confirm_joints(self) -> None:
        """The user has checked the unsure joints: stop flagging them (saved with the project, like a setting;
        not an undoable edit of the drawing)."""
        if not self.unsure:
            return
        self.unsure = frozenset()
        self.settings_revision += 1
        self.changed.emit("joints")

    @property
    def dirty(self) -> bool:
        """Edits of the drawing since the last save (undoing back to the saved state clears it: edits_back_at_saved)."""
        return self.revision != self.saved_revision

    @property
    def unsaved(self) -> bool:
        """Whether closing would lose anything: edits of the drawing, or changed settings, since the last save."""
        return self.dirty or self.settings_changed

    def edits_back_at_saved(self) -> None:
        """The edits were undone (or redone) back to the saved state: the drawing is as saved again."""
        self.saved_revision = self.revision

    def character(self) -> Character:
        """The annotated figure as an AD Character (texture and mask cropped to the box, joints in crop px)."""
        if self.box is None or self.mask is None or self.skeleton is None:
            missing = [n for n, v in (("box", self.box), ("mask", self.mask), ("skeleton", self.skeleton)) if v is None]
            raise DocumentError(f"the drawing is not annotated yet (no {', '.join(missing)}): "
                                "use Annotate → Annotate automatically (Ctrl+R), or keep drawing")
        w, h = self.size
        left, top, right, bottom = (int(round(v)) for v in clamp_box(self.box, w, h))
        mask = self.mask[top:bottom, left:right].copy()  # never a view: mask edits must not reach a running job
        if not mask.any():
            raise DocumentError("the mask inside the box is empty: paint the figure with the mask brush, "
                                "or move the box")
        texture = np.dstack([self.image[top:bottom, left:right], mask])
        rest = np.clip(self.skeleton.joints - [left, top], 0, [right - left - 1, bottom - top - 1])
        return Character(self.skeleton.names, self.skeleton.parents, rest, texture, mask, (left, top, right, bottom),
                         self.source)

    # ------------------------------------------------------------------ changes (commands call these)
    def _touch(self, aspect: str) -> None:
        self.revision += 1
        self.changed.emit(aspect)

    def set_strokes(self, strokes: list[Stroke]) -> None:
        self.strokes = list(strokes)
        self._image = None
        self._touch("drawing")

    def set_box(self, box: Box | None) -> None:
        if box is not None:
            w, h = self.size
            box = clamp_box(box, w, h)
        self.box = box
        self._touch("box")

    def set_mask(self, mask: np.ndarray | None) -> None:
        if mask is not None and mask.shape != self.paper.shape[:2]:
            raise DocumentError(f"mask is {mask.shape}, the drawing is {self.paper.shape[:2]}")
        self.mask = mask
        self._touch("mask")

    def paste_mask(self, rect: tuple[int, int, int, int], patch: np.ndarray) -> None:
        """Put ``patch`` into the mask at rect (left, top, right, bottom)."""
        if self.mask is None:
            raise DocumentError("there is no mask to edit: annotate the drawing first")
        left, top, right, bottom = rect
        self.mask[top:bottom, left:right] = patch
        self._touch("mask")

    def set_joints(self, joints: np.ndarray) -> None:
        if self.skeleton is None:
            raise DocumentError("there is no skeleton to edit: annotate the drawing first")
        self.skeleton = self.skeleton.moved(joints)
        self._touch("joints")

    def set_annotation(self, box: Box | None, mask: np.ndarray | None, skeleton: Skeleton | None,
                       detected: np.ndarray | None, unsure: frozenset[str] = frozenset()) -> None:
        """Box, mask and joints at once (an automatic annotation, or clearing it)."""
        self.box, self.mask, self.skeleton, self.detected = box, mask, skeleton, detected
        self.unsure = frozenset(unsure)
        self.revision += 1
        for aspect in ("box", "mask", "joints"):
            self.changed.emit(aspect)


    def set_scene(self, scene: Scene | None) -> None:
        """Replace the scene (a Scene is immutable: every scene edit is a whole-value replacement)."""
        self.scene = scene
        self._touch("scene")

    def set_preview(self, **changes: Any) -> None:
        self.preview = replace(self.preview, **changes)
        self.settings_revision += 1
        self._touch("motion")

    def set_export(self, **changes: Any) -> None:
        self.export = replace(self.export, **changes)
        self.settings_revision += 1
        self._touch("export")

    @property
    def settings_changed(self) -> bool:
        """Preview or export settings changed, or unsure joints confirmed, since the last save (saved, not undoable)."""
        return self.settings_revision != self.saved_settings_revision

    def mark_saved(self) -> None:
        self.saved_revision = self.revision
        self.saved_settings_revision = self.settings_revision

    def snapshot(self) -> "Document":
        """A copy safe to hand to another thread: arrays the editor changes in place are copied."""
        return Document(self.paper, list(self.strokes), self.box, None if self.mask is None else self.mask.copy(),
                        self.skeleton, None if self.detected is None else self.detected.copy(), self.preview,
                        self.export, self.source, unsure=self.unsure, scene=self.scene)
