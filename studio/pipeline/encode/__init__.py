"""Encode: frames to GIF (shared palette, LZW), MP4 or PNG frames."""
