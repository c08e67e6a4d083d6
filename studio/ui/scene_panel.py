"""The scene panel: the scene canvas, the buttons that add characters and pick the background, and the selected
character's motion, draw order, start and mirror. Every change is one undoable edit (studio.core.scene_commands)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel,
                               QPushButton, QVBoxLayout, QWidget)

from studio.core.motion_source import bundled_motions
from studio.core.scene import MAX_START, PROJECT
from studio.core.scene_camera import PlaneCamera
from studio.core.scene_commands import (Character, change_character, move_character, remove_character, restack,
                                        set_background)
from studio.ui.scene_canvas import SceneCanvas
from studio.ui.scene_controller import SceneController

BACKGROUNDS = (("Paper", "paper"), ("White", "white"), ("Transparent", "transparent"), ("Colour…", "pick-colour"),
               ("Image…", "pick-image"))


class ScenePanel(QWidget):
    """The scene mode's view; it edits through ``scenes`` (the SceneController) and is the canvas's SceneEdits."""

    def __init__(self, scenes: SceneController) -> None:
        super().__init__()
        self.scenes = scenes
        self.canvas = SceneCanvas(self)
        self.add_button = QPushButton("Add to scene")
        self.add_button.setToolTip("Put the current drawing into the scene, playing the current motion")
        self.add_button.clicked.connect(lambda: self.scenes.add(PROJECT))
        self.add_folder_button = QPushButton("Add character folder…")
        self.add_folder_button.setToolTip("Put an AnimatedDrawings character folder into the scene")
        self.add_folder_button.clicked.connect(self.add_folder_dialog)
        self.background = QComboBox()
        for label, value in BACKGROUNDS:
            self.background.addItem(label, value)
        self.background.setToolTip("The scene's background: a colour, an image, or transparency")
        self.background.activated.connect(self._background_picked)

        self.name = QLabel("")
        self.motion = QComboBox()
        self.motion.setToolTip("The motion this character plays")
        self.motion.activated.connect(lambda i: self._change("Change motion", motion=self.motion.itemData(i)))
        self.start = QDoubleSpinBox()
        self.start.setRange(0.0, MAX_START)
        self.start.setSingleStep(0.1)
        self.start.setDecimals(2)
        self.start.setSuffix(" s")
        self.start.setKeyboardTracking(False)
        self.start.setToolTip("Seconds of scene time before this character starts its motion")
        self.start.valueChanged.connect(lambda v: self._change("Change start", start=round(float(v), 2)))
        self.mirror = QCheckBox("Mirror")
        self.mirror.setToolTip("Flip this character left-right")
        self.mirror.toggled.connect(lambda on: self._change("Mirror", mirror=bool(on)))
        self.forward = QPushButton("Bring forward")
        self.forward.clicked.connect(lambda: self._restack(+1))
        self.back = QPushButton("Send back")
        self.back.clicked.connect(lambda: self._restack(-1))
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("Take this character out of the scene")
        self.remove.clicked.connect(self._remove)
        self.hint = QLabel("Drag a character to move it; drag its corner handle or turn the wheel over it to scale it.")
        self.hint.setWordWrap(True)

        top = QHBoxLayout()
        w: QWidget
        for w in (self.add_button, self.add_folder_button, QLabel("Background"), self.background):
            top.addWidget(w)
        top.addStretch(1)
        row = QHBoxLayout()
        for w in (self.name, QLabel("Motion"), self.motion, QLabel("Start"), self.start, self.mirror, self.back,
                  self.forward, self.remove):
            row.addWidget(w)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(row)
        layout.addWidget(self.hint)
        scenes.changed.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ SceneEdits (the canvas calls these)
    def character_of(self, index: int) -> Character | None:
        scene = self.scenes.scene
        return None if scene is None else self.scenes.cast.get(scene.characters[index].character, self.scenes.doc)

    def ad_camera_of(self, index: int, width: int, height: int) -> PlaneCamera | None:
        """The camera the last built preview placed character ``index`` with, scaled to a ``width``×``height``
        canvas; None before a preview of this scene exists."""
        animation = self.scenes.animation
        if animation is None or animation.scene is not self.scenes.scene:
            return None
        camera = animation.actors[index].animation.camera
        if not isinstance(camera, PlaneCamera):
            return None
        ratio = np.diag([width / animation.width, height / animation.height, 1.0])
        return PlaneCamera(camera.scale * width / animation.width, camera.offset * ratio[0, 0], width, height,
                           ratio @ camera.homography)

    def place(self, index: int, position: tuple[float, float], scale: float) -> None:
        self.scenes.edit(move_character, index, position, scale)

    def select(self, index: int | None) -> None:
        self.scenes.select(index)

    # ------------------------------------------------------------------ actions
    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a character folder to the scene",
                                                  self.scenes.controller.settings.last_folder)
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str | Path) -> bool:
        return self.scenes.add(str(folder))

    def _change(self, text: str, **changes: object) -> None:
        if self.scenes.selected is not None:
            self.scenes.edit(change_character, self.scenes.selected, text, **changes)

    def _restack(self, step: int) -> None:
        if self.scenes.selected is not None:
            self.scenes.edit(restack, self.scenes.selected, step)

    def _remove(self) -> None:
        if self.scenes.selected is not None:
            index = self.scenes.selected
            self.scenes.edit(remove_character, index)
            self.scenes.select(None)

    def _background_picked(self, index: int) -> None:
        value = self.background.itemData(index)
        scene = self.scenes.scene
        if scene is None:
            self.refresh()
            return
        if value == "pick-colour":
            colour = QColorDialog.getColor(parent=self, title="Scene background colour")
            value = colour.name() if colour.isValid() else scene.background
        elif value == "pick-image":
            path, _ = QFileDialog.getOpenFileName(self, "Scene background image", "",
                                                  "Images (*.png *.jpg *.jpeg *.bmp)")
            value = str(Path(path).absolute()) if path else scene.background
        self.scenes.edit(set_background, value)
        self.refresh()

    # ------------------------------------------------------------------ showing the scene
    def refresh(self) -> None:
        scene, selected = self.scenes.scene, self.scenes.selected
        self.canvas.show_scene(scene, selected)
        self._show_background("" if scene is None else scene.background)
        self.background.setEnabled(scene is not None)
        entry = None if scene is None or selected is None else scene.characters[selected]
        for w in (self.motion, self.start, self.mirror, self.forward, self.back, self.remove):
            w.setEnabled(entry is not None)
            w.blockSignals(True)
        problems = [f"{Path(name).name}: {why}" for name, why in self.scenes.cast.problems.items()
                    if scene is not None and any(c.character == name for c in scene.characters)]
        self.hint.setText(" · ".join(problems) if problems else
                          "Drag a character to move it; drag its corner handle or turn the wheel over it to scale it.")
        if entry is not None:
            self.name.setText(f"<b>{entry.label}</b>")
            motions = list(bundled_motions())
            if entry.motion not in motions:
                motions.insert(0, entry.motion)
            self.motion.clear()
            for motion in motions:
                self.motion.addItem(Path(motion).name, motion)
            self.motion.setCurrentIndex(motions.index(entry.motion))
            self.start.setValue(entry.start)
            self.mirror.setChecked(entry.mirror)
            order = scene.drawing_order() if scene is not None else []
            self.forward.setEnabled(order[-1] != selected)
            self.back.setEnabled(order[0] != selected)
        else:
            self.name.setText("No character selected" if scene is not None else "")
        for w in (self.motion, self.start, self.mirror, self.forward, self.back, self.remove):
            w.blockSignals(False)

    def _show_background(self, value: str) -> None:
        self.background.blockSignals(True)
        index = self.background.findData(value)
        if index < 0 and value:
            label = value if value.startswith("#") else Path(value).name
            self.background.insertItem(3, label, value)
            index = 3
        self.background.setCurrentIndex(max(index, 0))
        self.background.blockSignals(False)
