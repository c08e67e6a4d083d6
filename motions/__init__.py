"""The bundled motion library: BVH clips with their AD motion configs, and the retarget config they share.

The sources live at the repository's top level (``motions/``); the wheel installs them as the package
``studio.motions`` (see setup.py), and the studio reads them through ``importlib.resources``."""
