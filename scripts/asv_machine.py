#!/usr/bin/env python3
"""Record this machine for asv under NAME with asv's detected os/arch/cpu/ram.

``asv machine --yes --machine NAME`` (asv 0.6.6) stores the name only when NAME is not the
hostname. Usage: ``python scripts/asv_machine.py NAME``.
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
