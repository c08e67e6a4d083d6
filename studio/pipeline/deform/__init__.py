"""Deform: the character's mesh and ARAP rig, posed per frame and rasterised onto a camera's canvas."""
