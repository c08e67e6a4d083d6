"""Which part of the drawing the canvas shows: the whole drawing fitted, or a zoomed part of it (no Qt here).

Zoom 1 fits the whole drawing inside the widget with a margin; zoom z shows it z times larger about ``centre``
(the image point at the widget's centre). The centre stays inside the drawing, so it can never be lost off-screen.
"""

from __future__ import annotations

from dataclasses import dataclass

MARGIN_PX = 12.0  # between the fitted drawing and the widget's edge
MAX_ZOOM = 32.0
FIGURE_MARGIN = 0.08  # zoom to figure leaves this share of the box's size round it

Size = tuple[float, float]


@dataclass
class Viewport:
    zoom: float = 1.0
    centre: tuple[float, float] | None = None  # image px at the widget's centre; None: the drawing's centre

    def transform(self, widget: Size, image: Size) -> tuple[float, float, float]:
        """scale, x offset, y offset: widget px = image px × scale + offset."""
        (ww, wh), (iw, ih) = widget, image
        fit = max(1e-3, min((ww - 2 * MARGIN_PX) / max(iw, 1.0), (wh - 2 * MARGIN_PX) / max(ih, 1.0)))
        scale = fit * self.zoom
        cx, cy = self.centre if self.centre is not None else (iw / 2, ih / 2)
        return scale, ww / 2 - cx * scale, wh / 2 - cy * scale

    def fit(self) -> None:
        """Show the whole drawing."""
        self.zoom, self.centre = 1.0, None

    def zoom_at(self, factor: float, anchor: tuple[float, float], widget: Size, image: Size) -> None:
        """Zoom by ``factor`` keeping the image point under ``anchor`` (widget px) where it is."""
        scale, ox, oy = self.transform(widget, image)
        point = ((anchor[0] - ox) / scale, (anchor[1] - oy) / scale)
        zoom = min(MAX_ZOOM, max(1.0, self.zoom * factor))
        if zoom == 1.0:
            self.fit()
            return
        new_scale = scale * zoom / self.zoom
        self.zoom = zoom
        # the anchor keeps showing `point`: widget/2 - centre*s + point*s = anchor
        self.centre = _inside((point[0] - (anchor[0] - widget[0] / 2) / new_scale,
                               point[1] - (anchor[1] - widget[1] / 2) / new_scale), image)

    def pan(self, dx: float, dy: float, widget: Size, image: Size) -> None:
        """Move the drawing by (dx, dy) widget px, as a hand dragging it would (a fitted view stays put)."""
        if self.zoom == 1.0:
            return
        scale, _, _ = self.transform(widget, image)
        cx, cy = self.centre if self.centre is not None else (image[0] / 2, image[1] / 2)
        self.centre = _inside((cx - dx / scale, cy - dy / scale), image)

    def frame(self, box: tuple[float, float, float, float], widget: Size, image: Size) -> None:
        """Zoom so that ``box`` (image px) fills the widget, with a little room round it."""
        left, top, right, bottom = box
        pad = FIGURE_MARGIN * max(right - left, bottom - top)
        fit_scale, _, _ = Viewport().transform(widget, image)
        need = min((widget[0] - 2 * MARGIN_PX) / max(right - left + 2 * pad, 1.0),
                   (widget[1] - 2 * MARGIN_PX) / max(bottom - top + 2 * pad, 1.0))
        self.zoom = min(MAX_ZOOM, max(1.0, need / fit_scale))
        self.centre = None if self.zoom == 1.0 else _inside(((left + right) / 2, (top + bottom) / 2), image)


def _inside(point: tuple[float, float], image: Size) -> tuple[float, float]:
    return min(max(point[0], 0.0), image[0]), min(max(point[1], 0.0), image[1])
