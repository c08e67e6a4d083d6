"""The bundled executable's entry point: studio.launcher.main, after multiprocessing's check for a spawned child.

`studio batch -j N` runs its workers with the "spawn" start method. In a PyInstaller bundle a spawned worker is
this same executable started again with multiprocessing's arguments, and freeze_support() is what turns such a
start into the worker (and never into a second window or CLI run). From a plain Python install it does nothing.
"""

import multiprocessing
import sys

from studio.launcher import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
