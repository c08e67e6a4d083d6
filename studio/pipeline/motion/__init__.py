"""Motion: BVH clips and AD's configs read safely, mapped onto a character and retargeted to 2D."""
