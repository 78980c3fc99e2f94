"""How much memory this machine can give a workload now: the host's (``/proc/meminfo``
MemAvailable, capped by a cgroup's limit; ``psutil`` where there is no ``/proc``) and a CUDA
device's (``torch.cuda.mem_get_info``). Read when asked, never cached: other processes come and
go."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

MEMINFO = Path("/proc/meminfo")
#: (limit, usage) files of cgroup v2 and v1, as a container sees its own group.
CGROUP_FILES = ((Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
                (Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
                 Path("/sys/fs/cgroup/memory/memory.usage_in_bytes")))


def host_available() -> tuple[int | None, str]:
    """(bytes a new allocation can get without swapping or being killed, where that figure
    comes from), or (None, why not) where this system tells nothing."""
    found: tuple[int, str] | None = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
                break
    if found is None:
        try:
            import psutil  # type: ignore[import-not-found]
        except ImportError:
            return None, "no /proc/meminfo and no psutil"
        found = int(psutil.virtual_memory().available), "psutil.virtual_memory().available"
    for limit_file, usage_file in CGROUP_FILES:
        with contextlib.suppress(OSError, ValueError):
            left = int(limit_file.read_text()) - int(usage_file.read_text())  # "max": no limit
            if left < found[0]:
                found = max(left, 0), f"the limit of this cgroup ({limit_file})"
            break
    return found


def device_available(device: str | torch.device) -> tuple[int | None, str]:
    """Free bytes on a CUDA device (``torch.cuda.mem_get_info``); (None, why) elsewhere."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None, f"no memory query for {device}"
    free, _total = torch.cuda.mem_get_info(device)
    return int(free), f"free on {device} (torch.cuda.mem_get_info)"


def format_bytes(count: float) -> str:
    """``1.5 GB``, ``640.0 MB``: powers of 1000, as the tools that show memory do."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"):
        if abs(count) < 1000 or unit == "YB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")
