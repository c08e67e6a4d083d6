"""The canvas viewport: fitted by default, zoom about a point, pan, zoom to the figure; never lost off-screen."""

from __future__ import annotations

import pytest

from studio.ui.viewport import MARGIN_PX, MAX_ZOOM, Viewport

WIDGET, IMAGE = (800.0, 600.0), (1000.0, 500.0)


def to_widget(v: Viewport, x: float, y: float) -> tuple[float, float]:
    scale, ox, oy = v.transform(WIDGET, IMAGE)
    return x * scale + ox, y * scale + oy


def test_fitted_the_drawing_is_centred_with_a_margin() -> None:
    v = Viewport()
    left, top = to_widget(v, 0, 0)
    right, bottom = to_widget(v, *IMAGE)
    assert left == pytest.approx(MARGIN_PX) and right == pytest.approx(WIDGET[0] - MARGIN_PX)  # width limits
    assert (top + bottom) / 2 == pytest.approx(WIDGET[1] / 2)


def test_zoom_keeps_the_point_under_the_pointer() -> None:
    v = Viewport()
    anchor = (250.0, 400.0)
    scale, ox, oy = v.transform(WIDGET, IMAGE)
    point = ((anchor[0] - ox) / scale, (anchor[1] - oy) / scale)
    for factor in (1.25, 1.25, 2.0, 0.8):
        v.zoom_at(factor, anchor, WIDGET, IMAGE)
        assert to_widget(v, *point) == pytest.approx(anchor)
    assert v.zoom == pytest.approx(1.25 * 1.25 * 2.0 * 0.8)


def test_zoom_stays_between_fitted_and_the_maximum() -> None:
    v = Viewport()
    v.zoom_at(0.5, (10, 10), WIDGET, IMAGE)
    assert v == Viewport()  # cannot zoom out past the whole drawing
    for _ in range(40):
        v.zoom_at(2.0, (10, 10), WIDGET, IMAGE)
    assert v.zoom == MAX_ZOOM
    v.zoom_at(1 / 1000, (400, 300), WIDGET, IMAGE)
    assert v == Viewport()  # back to fitted: centred again


def test_pan_follows_the_hand_and_never_loses_the_drawing() -> None:
    v = Viewport()
    v.pan(30, -20, WIDGET, IMAGE)
    assert v == Viewport()  # the fitted view stays put: it shows everything already
    v.zoom_at(4.0, (400, 300), WIDGET, IMAGE)
    before = to_widget(v, 500, 250)
    v.pan(30, -20, WIDGET, IMAGE)
    assert to_widget(v, 500, 250) == pytest.approx((before[0] + 30, before[1] - 20))
    v.pan(1e6, 1e6, WIDGET, IMAGE)
    assert v.centre == (0.0, 0.0)  # the drawing's corner stays at the widget's centre, not off-screen


def test_frame_fills_the_widget_with_the_box() -> None:
    v = Viewport()
    box = (600.0, 100.0, 700.0, 300.0)  # 100 × 200 px: the height limits
    v.frame(box, WIDGET, IMAGE)
    left, top = to_widget(v, box[0], box[1])
    right, bottom = to_widget(v, box[2], box[3])
    assert ((left + right) / 2, (top + bottom) / 2) == pytest.approx((400, 300))
    assert MARGIN_PX < top < 60 and WIDGET[1] - 60 < bottom < WIDGET[1] - MARGIN_PX
    v.frame((0.0, 0.0, *IMAGE), WIDGET, IMAGE)
    assert v == Viewport()  # a box as big as the drawing is just the fitted view
