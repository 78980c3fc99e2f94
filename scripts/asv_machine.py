#!/usr/bin/env python3
"""Record this machine for asv, under a name that stands for this hardware only.

Usage: ``python scripts/asv_machine.py [NAME] [--results DIR] [--device auto|cpu|cuda]``.
Without NAME the name is derived from the hardware (``birnn_bench.hardware.machine_name``: CPU
model, cores, torch's CPU capability, oneDNN, GPU), never the hostname. asv's detected
os/arch/cpu/ram are stored with the facts the answer depends on (CPU capability, oneDNN, torch
build, GPU), so they travel into ``DIR/NAME/machine.json`` and every results file. When
``DIR/NAME/machine.json`` already records other hardware, nothing is written and the exit
status is 2: one name, one machine. Prints the name used on stdout. (``asv machine --yes
--machine NAME``, asv 0.6.6, stores the name only when NAME is not the hostname.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asv.machine import Machine, MachineCollection

# The tree this script belongs to, also where the package is not installed (the offline bundle).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from birnn_bench import hardware


def recorded(results: Path, name: str) -> dict | None:
    """What ``results/NAME/machine.json`` says, or None when there is none (or it is unreadable:
    the analysis reports that file; it cannot vouch for any hardware)."""
    path = results / name / "machine.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", help="machine name (default: from the hardware)")
    parser.add_argument("--results", type=Path, help="asv's results folder, to check that NAME "
                        "does not already hold another machine's results")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="whose GPU to record: auto (the GPU when CUDA is available; this "
                        "short process may initialise CUDA), cpu (none), cuda")
    args = parser.parse_args(argv)
    found = hardware.facts("cuda" if args.device != "cpu" else "cpu")
    name = (args.name or "").strip() or hardware.machine_name(found)
    if args.results is not None:
        before = recorded(args.results, name)
        clash = hardware.differences(before, found) if before else []
        if clash:
            print(f"error: MACHINE={name}: {args.results / name} holds results of other "
                  f"hardware ({'; '.join(clash)}); results of two machines under one name read "
                  f"as a change of the code. Use MACHINE={hardware.machine_name(found)} (the "
                  "default, derived from this hardware) or another new name.", file=sys.stderr)
            return 2
    info = {**Machine.get_defaults(), **found, "machine": name}
    MachineCollection.save(name, info)
    print(f"asv machine {name}: {hardware.describe(info)}", file=sys.stderr)
    print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
