"""Undoable edits of a Document's scene: each one a SetScene (the whole scene before and after, since a Scene is an
immutable value), made by the functions here from what the user asked for; and where a drag or a scale leaves a
character.

``Character`` is here for the window, which names the pipeline's types through the core only.

Placement in the window is always 2D (``position`` as fractions of the canvas): a character AD's camera placed
(``position`` None, from an AD config) becomes 2D at the same root point and size the first time it is moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from studio.core.document import Document, DocumentError
from studio.core.scene import MAX_CHARACTERS, PROJECT, SAMPLE, Scene, SceneCharacter, SceneError
from studio.pipeline.character import Character, read_character
from studio.pipeline.deform.camera import AD_UNIT_PER_HEIGHT, Camera

NEW_SCENE_BACKGROUND = "paper"
NEW_SCENE_SIZE = (800, 450)  # a wide stage: width, height (the resolution control sets its longer side)
SPREAD = (0.3, 0.7, 0.5, 0.12, 0.88)  # where the k-th character added lands across the canvas (fractions)
GROUND = 0.6  # the root's height on the canvas, as a fraction from the top (hips a little below the middle)
MIN_SCALE, MAX_SCALE = 0.05, 20.0  # what the window lets a drag or the wheel reach (the file allows more)


@dataclass
class SetScene:
    """Replace the document's scene (None: no scene). Every scene edit is one of these."""

    before: Scene | None
    after: Scene | None
    text: str = "Edit scene"

    def do(self, doc: Document) -> None:
        doc.set_scene(self.after)

    def undo(self, doc: Document) -> None:
        doc.set_scene(self.before)


def _scene(doc: Document) -> Scene:
    if doc.scene is None:
        raise DocumentError("the scene is empty: add a character to it first")
    return doc.scene


def _entry(scene: Scene, index: int) -> SceneCharacter:
    if not 0 <= index < len(scene.characters):
        raise DocumentError(f"the scene has no character {index + 1} (it has {len(scene.characters)})")
    return scene.characters[index]


def _edit(doc: Document, scene: Scene | None, text: str) -> SetScene:
    return SetScene(doc.scene, scene, text)


def add_character(doc: Document, character: str, motion: str | None = None) -> SetScene:
    """Add ``character`` ('project' for this drawing, 'sample', or a character folder, absolute) in front of the
    others, at the next free place across the canvas, playing ``motion`` (default: the preview's)."""
    motion = motion or doc.preview.motion
    if character == PROJECT and not doc.annotated:
        raise DocumentError("the drawing is not annotated yet: annotate it (Ctrl+R) before adding it to the scene")
    scene = doc.scene
    count = 0 if scene is None else len(scene.characters)
    if count >= MAX_CHARACTERS:
        raise DocumentError(f"a scene holds at most {MAX_CHARACTERS} characters: remove one first")
    z = 0 if scene is None else max(c.z for c in scene.characters) + 1
    entry = SceneCharacter(character, motion, position=(SPREAD[count % len(SPREAD)], GROUND), z=z)
    if scene is None:
        after = Scene((entry,), NEW_SCENE_SIZE, NEW_SCENE_BACKGROUND)
    else:
        after = replace(scene, characters=(*scene.characters, entry))
    return _edit(doc, after, f"Add {entry.label} to the scene")


def remove_character(doc: Document, index: int) -> SetScene:
    """Take character ``index`` out of the scene (the last one out leaves no scene)."""
    scene = _scene(doc)
    entry = _entry(scene, index)
    rest = scene.characters[:index] + scene.characters[index + 1:]
    return _edit(doc, replace(scene, characters=rest) if rest else None, f"Remove {entry.label} from the scene")


def change_character(doc: Document, index: int, text: str, **changes: object) -> SetScene | None:
    """Character ``index`` with ``changes`` (motion, start, mirror, position, scale…); None when nothing changes.
    Raises DocumentError with the scene's own reason for a value it cannot hold."""
    scene = _scene(doc)
    entry = _entry(scene, index)
    try:
        changed = replace(entry, **changes)  # type: ignore[arg-type]
    except SceneError as exc:
        raise DocumentError(str(exc)) from None
    if changed == entry:
        return None
    return _edit(doc, scene.with_character(index, changed), f"{text} ({entry.label})")


def move_character(doc: Document, index: int, position: tuple[float, float], scale: float | None = None,
                   ) -> SetScene | None:
    """Put character ``index``'s root at ``position`` (fractions of the canvas), and its size at ``scale``."""
    entry = _entry(_scene(doc), index)
    scale = entry.scale if scale is None else clamp_scale(scale)
    position = (round(float(position[0]), 4), round(float(position[1]), 4))
    text = "Move" if scale == entry.scale else "Scale"
    return change_character(doc, index, text, position=position, scale=scale)


def set_background(doc: Document, background: str) -> SetScene | None:
    """The scene's background: 'transparent', a colour name, '#rrggbb' or an image file (absolute)."""
    scene = _scene(doc)
    if background == scene.background:
        return None
    return _edit(doc, replace(scene, background=background), "Change the scene's background")


def restack(doc: Document, index: int, step: int) -> SetScene | None:
    """Move character ``index`` ``step`` places in the drawing order (+1: forward, one character nearer the front;
    -1: back). The z values become the drawing order's ranks (0, 1, 2…), so every place is one step apart."""
    scene = _scene(doc)
    entry = _entry(scene, index)
    order = scene.drawing_order()
    here = order.index(index)
    there = min(max(here + step, 0), len(order) - 1)
    if there == here:
        return None
    order.insert(there, order.pop(here))
    rank = {k: r for r, k in enumerate(order)}
    characters = tuple(replace(c, z=rank[k]) for k, c in enumerate(scene.characters))
    return _edit(doc, replace(scene, characters=characters),
                 f"{'Bring' if step > 0 else 'Send'} {entry.label} {'forward' if step > 0 else 'back'}")


def clamp_scale(scale: float) -> float:
    """``scale`` within what the window offers, to 3 significant digits."""
    scale = min(max(float(scale), MIN_SCALE), MAX_SCALE)
    return float(f"{scale:.3g}")


def planar_placement(character: Character, camera: Camera, width: int, height: int) -> tuple[tuple[float, float],
                                                                                          float]:
    """(position, scale) of a 2D placement that puts ``character``'s rest root where ``camera`` (its camera on a
    ``width`` × ``height`` canvas) puts it, at the size the camera shows it there: how an AD-placed character
    becomes a 2D one when the user moves it."""
    root = int([i for i, p in enumerate(character.parents) if p < 0][0])
    x, y = (float(v) for v in camera.apply(character.rest[root]))
    if not (math.isfinite(x) and math.isfinite(y)):
        x, y = width / 2.0, height * GROUND
    unit = AD_UNIT_PER_HEIGHT * height / max(character.width, character.height)  # canvas px per texture px at 1
    return (x / width, y / height), clamp_scale(float(camera.scale) / unit)


def read_scene_character(name: str) -> Character:
    """The character a scene entry names, other than 'project': 'sample' (the built-in one) or a character folder.
    Raises what reading the folder raises (OSError, ValueError…)."""
    if name == SAMPLE:
        from studio.core.sample import sample_character  # built from strokes: only when a scene asks for it

        return sample_character()
    return read_character(name)


def scene_size(scene: Scene, long_side: int) -> tuple[int, int]:
    """The scene's canvas at ``long_side`` px on its longer side (the preview's and export's resolution control),
    keeping its aspect; each side at least 8 px and even (video encoders need even sides)."""
    width, height = scene.size
    ratio = long_side / max(width, height)
    return tuple(max(8, int(round(v * ratio / 2.0)) * 2) for v in (width, height))  # type: ignore[return-value]


__all__ = ["Character", "read_scene_character", "SetScene", "add_character", "remove_character", "change_character",
           "move_character", "set_background",
           "restack", "clamp_scale", "planar_placement", "scene_size"]
