#!/usr/bin/env python3
"""The asv machine name of a CI runner: ``gha-<kind>-<cpu>-<n>cpu`` (``-<gpu>`` with an NVIDIA
GPU), from asv's own detection of the hardware. Hosted runners of one label are not all one CPU
model (the same label has served AMD EPYC and Intel Xeon), and a machine name stands for one
hardware (scripts/ci/merge_results.py refuses two under one name).

    python3 scripts/ci/machine_name.py KIND        (KIND: lowercase letters, digits, dashes)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys


def slug(text: str, limit: int = 40) -> str:
    """``Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz`` -> ``intel-xeon-platinum-8370c``."""
    text = re.sub(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|@.*$", " ", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:limit].strip("-") or "unknown"


def gpu_name() -> str | None:
    """The first NVIDIA GPU's name, asked of nvidia-smi (CUDA is not initialised here)."""
    if shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                          capture_output=True, text=True, check=False)
    first = done.stdout.strip().splitlines()[:1]
    return first[0] if done.returncode == 0 and first else None


def name(kind: str, cpu: str, cores: str, gpu: str | None) -> str:
    parts = ["gha", kind, slug(cpu), f"{cores}cpu", *([slug(gpu)] if gpu else [])]
    return "-".join(parts)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", argv[0]):
        print("machine_name: error: usage: machine_name.py KIND (lowercase letters, digits, "
              "dashes)", file=sys.stderr)
        return 2
    from asv.machine import Machine

    info = Machine.get_defaults()
    print(name(argv[0], str(info.get("cpu", "")), str(info.get("num_cpu", "")), gpu_name()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
