"""The caps on one BVH file, each with the real clips it was measured against."""

from __future__ import annotations

# Caps on one BVH file, from real clips: AD's fair1 dab (339 frames, 34 joints with End Sites, 11 levels deep),
# CMU's jumping jacks (125, 38, 11) and Rokoko's dance (1007 frames at 100 fps, 73 joints with fingers, 13 levels,
# 1.4 MB, a 12 KB HIERARCHY). Past a cap the reader stops with a BvhError before it builds anything large.
MAX_BVH_BYTES = 64 * 2**20
"""45× Rokoko's dance: room for 20,000 frames of its skeleton (about 35 MB)."""
MAX_HIERARCHY_BYTES = 2**20
"""Text before MOTION: 85× Rokoko's, so MAX_JOINTS joints fit even deeply indented."""
MAX_JOINTS = 1000
"""End Sites included: 14× Rokoko's 73."""
MAX_NAME = 128
"""Characters in a joint name, which messages quote: real names run to about 30."""
MAX_DEPTH = 100
"""Nesting levels: 7× the deepest real skeleton; a 100,000-deep file stops here, not at Python's recursion limit."""
MAX_FRAMES = 20_000
"""20× Rokoko's 1007 frames, 5.5 minutes at 60 fps; the longest real clips run a few thousand."""
MAX_JOINT_FRAMES = 2_000_000
"""Frames × joints: forward kinematics holds about 200 bytes for each (measured), so at most ~400 MB."""
MAX_ABS_VALUE = 1e6
"""Bound on OFFSET and channel values: real ones stay under 300, and a 100 m walk in mm is 1e5. 1e300 overflows
forward kinematics to inf and NaN, read as a skeleton lying along -x or rendered as empty frames."""
USABLE = f"values must be finite and within ±{MAX_ABS_VALUE:,.0f}"
"""What MAX_ABS_VALUE means, for messages."""
MIN_FRAME_TIME, MAX_FRAME_TIME = 1e-3, 10.0
"""Seconds per frame: 1000 fps to a 10 s hold (capture runs at 24-240 fps, 0.0042-0.042 s)."""
