"""Other processes, by pid: whether one is still running, and when it started (to tell a reused pid)."""

from __future__ import annotations

import os
import sys


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on Windows os.kill would terminate it, so it is asked differently)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(ctypes.get_last_error() == 5)  # type: ignore[attr-defined]  # access denied: it exists
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return not ok or code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except PermissionError:  # it exists, owned by another user
        return True
    except (OSError, OverflowError):  # ProcessLookupError: gone
        return False
    return True


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), where the system tells (Linux's /proc); else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # after "pid (name)": the name may hold spaces
        with open("/proc/stat", encoding="ascii", errors="replace") as system:
            boot = next(float(line.split()[1]) for line in system if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start time in clock ticks
    except (OSError, ValueError, IndexError, StopIteration):
        return None
