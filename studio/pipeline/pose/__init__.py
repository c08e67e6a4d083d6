"""Pose: the 17 COCO keypoints of a figure from one of the backends (embedded, torch, mm, TorchServe, manual),
checked in one place."""
