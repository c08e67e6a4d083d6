"""Intake: a photo or drawing read safely, the figure's box found on the page, its mask cut, strokes drawn."""
