"""Values from files quoted in error messages: short and bounded, so a message never repeats a whole document."""

from __future__ import annotations

import reprlib
from typing import Any

_EXCERPT = reprlib.Repr()
_EXCERPT.maxlevel, _EXCERPT.maxstring, _EXCERPT.maxother, _EXCERPT.maxlong = 3, 40, 40, 40
_EXCERPT.maxlist = _EXCERPT.maxtuple = _EXCERPT.maxdict = _EXCERPT.maxset = 6


def clip(text: str, limit: int = 120) -> str:
    """``text`` cut to at most ``limit`` characters, '...' marking the cut."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def excerpt(value: Any, limit: int = 80) -> str:
    """A short repr of a value read from a file, for error messages: bounded work and length whatever its size
    (nested lists and long strings are elided with '...'), so a message never quotes a whole document."""
    try:
        text = _EXCERPT.repr(value)
    except ValueError:  # an int too long for repr (over 4300 digits)
        text = f"<a {type(value).__name__} too long to show>"
    return clip(text, limit)
