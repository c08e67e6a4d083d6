"""The CLI's argument types: argparse's ``type=`` functions that turn text into checked values, with the one-line
message argparse prints when they refuse it; shared by every command's parser."""

from __future__ import annotations

import argparse
import math


def size(text: str) -> tuple[int, int]:
    """S or WxH pixels, 8 to 8192 each."""
    try:
        if "x" in text.lower():
            w, h = (int(v) for v in text.lower().split("x"))
        else:
            w = h = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be S or WxH in pixels, not {text!r}") from None
    if not (8 <= w <= 8192 and 8 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is out of range (8 to 8192 px)")
    return w, h


def box(text: str) -> tuple[float, float, float, float]:
    """L,T,R,B finite numbers with R > L and B > T."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"box must be L,T,R,B numbers, not {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"box must be L,T,R,B finite numbers, not {text!r}")
    if len(values) != 4 or values[2] <= values[0] or values[3] <= values[1]:
        raise argparse.ArgumentTypeError(f"box must be L,T,R,B with R > L and B > T, not {text!r}")
    return values  # type: ignore[return-value]


def positive(text: str) -> int:
    """A whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def seconds(text: str) -> float:
    """Seconds from 0.1 to 3600."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} s is out of range (0.1 to 3600 s)")
    return value


DEADLINE_HELP = "seconds TorchServe has for each whole reply, however slowly it sends (default 60)"
