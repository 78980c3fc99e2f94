#!/usr/bin/env python3
"""Record this machine for asv under NAME with asv's detected os/arch/cpu/ram.

``asv machine --yes --machine NAME`` stores the name only (asv 0.6.6) when NAME is not the
hostname; this stores asv's own defaults under NAME in ``~/.asv-machine.json``.
Usage: ``python scripts/asv_machine.py NAME``.
"""

from __future__ import annotations

import sys

from asv.machine import Machine, MachineCollection


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].strip():
        print("usage: asv_machine.py NAME", file=sys.stderr)
        return 2
    info = Machine.get_defaults()
    info["machine"] = argv[0]
    MachineCollection.save(argv[0], info)
    print("asv machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
