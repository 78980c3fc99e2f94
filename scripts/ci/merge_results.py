#!/usr/bin/env python3
"""Merge several machines' asv results trees into one.

    python3 scripts/ci/merge_results.py OUT [--history DIR] TREE [TREE ...]

Each TREE is an asv ``results_dir`` (``benchmarks.json`` beside one folder per machine, each with
its ``machine.json``); OUT is created and must be empty or absent. A machine's name stands for ONE
hardware: two trees that hold the same machine name with different hardware (``machine.json``'s
arch, cpu, num_cpu; ram beyond ``RAM_SLACK``, since VMs of one type report a few MB apart; a
field only one of them records is no difference) are refused before anything is written.

Later trees win: a results file (one commit and environment) present in several trees keeps
every benchmark, the later tree's where both have it; ``benchmarks.json`` keeps every benchmark,
each parameter's values united in order (so asv's dashboard shows every tree's points), the rest
of a benchmark's entry from the later tree. ``--history DIR``: an earlier merged tree, taken
first; absent (the first run), left out.

Exit status: 0 merged, 2 refused (one ``merge_results: error: ...`` line, nothing written).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

HARDWARE = ("arch", "cpu", "num_cpu")
RAM_SLACK = 0.05


class MergeError(ValueError):
    """Why the trees cannot be merged (said before anything is written)."""


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MergeError(f"{path}: cannot be read as JSON ({err})") from None


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, sort_keys=True) + "\n", encoding="utf-8")


def machines(tree: Path) -> dict[str, Path]:
    """Machine name -> its folder in ``tree`` (the folders holding a machine.json)."""
    found = {}
    for folder in sorted(p for p in tree.iterdir() if p.is_dir()):
        if (folder / "machine.json").is_file():
            name = _read(folder / "machine.json").get("machine", folder.name)
            if name != folder.name:
                raise MergeError(f"{folder}: machine.json names {name!r}, the folder "
                                 f"{folder.name!r}")
            found[name] = folder
    return found


def _same(field: str, a: object, b: object) -> bool:
    if field == "ram":
        try:
            x, y = float(a), float(b)  # type: ignore[arg-type]
            return abs(x - y) <= RAM_SLACK * max(x, y)
        except (TypeError, ValueError):
            pass
    return str(a) == str(b)


def hardware_difference(a: dict, b: dict) -> list[str]:
    """What differs between two machine.json's hardware, as ``field: a != b``; a field one of
    them does not record (``asv machine --machine NAME`` records only the name) is no
    difference."""
    return [f"{k}: {a[k]!r} != {b[k]!r}" for k in (*HARDWARE, "ram")
            if a.get(k) not in (None, "") and b.get(k) not in (None, "")
            and not _same(k, a[k], b[k])]


def check_trees(trees: list[Path]) -> None:
    """MergeError naming the problem when a tree is not a results tree or two trees hold one
    machine name with different hardware."""
    if not trees:
        raise MergeError("no TREE given")
    seen: dict[str, tuple[Path, dict]] = {}
    for tree in trees:
        if not tree.is_dir():
            raise MergeError(f"TREE {tree}: not a folder")
        if not (tree / "benchmarks.json").is_file():
            raise MergeError(f"TREE {tree}: no benchmarks.json (not an asv results folder)")
        for name, folder in machines(tree).items():
            info = _read(folder / "machine.json")
            if name in seen:
                first, known = seen[name]
                differs = hardware_difference(known, info)
                if differs:
                    raise MergeError(f"machine {name!r} is two different machines: {first} and "
                                     f"{tree} differ in {'; '.join(differs)} (a machine name must "
                                     "stand for one hardware: rename one)")
            seen[name] = (tree, info)


def merge_params(old: list | None, new: list | None) -> list | None:
    """Each parameter's values from both, in order (old first); ``new`` when the dimensions
    differ (another suite version: the later tree's definition stands)."""
    if not old or not new or len(old) != len(new):
        return new
    return [list(dict.fromkeys([*a, *b])) for a, b in zip(old, new, strict=True)]


def merge_benchmarks(old: dict, new: dict) -> tuple[dict, list[str]]:
    """benchmarks.json of two trees; the notes say which benchmarks' versions differ."""
    out, notes = dict(old), []
    for name, entry in new.items():
        if name == "version" or not isinstance(entry, dict) or name not in old:
            out[name] = entry
            continue
        before = old[name]
        merged = dict(entry)
        merged["params"] = merge_params(before.get("params"), entry.get("params"))
        if before.get("version") != entry.get("version"):
            notes.append(name)
        out[name] = merged
    return out, notes


def merge_result_files(old: dict, new: dict) -> dict:
    """One commit and environment measured in two trees: every benchmark of both, the later
    one's where both have it (a different layout of columns: the later file whole)."""
    if old.get("result_columns") != new.get("result_columns"):
        return new
    out = dict(new)
    out["results"] = {**old.get("results", {}), **new.get("results", {})}
    out["durations"] = {**old.get("durations", {}), **new.get("durations", {})}
    return out


def merge(out: Path, trees: list[Path]) -> list[str]:
    """Writes the merged tree into ``out``; returns what it did, line by line."""
    check_trees(trees)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MergeError(f"OUT {out}: exists and is not an empty folder")
    log, benchmarks, stale = [], {}, set()
    for tree in trees:
        data = _read(tree / "benchmarks.json")
        benchmarks, notes = merge_benchmarks(benchmarks, data) if benchmarks else (data, [])
        stale.update(notes)
        for name, folder in machines(tree).items():
            target = out / name
            files = sorted(p for p in folder.glob("*.json") if p.name != "machine.json")
            for path in files:
                dest = target / path.name
                if dest.exists():
                    _write(dest, merge_result_files(_read(dest), _read(path)))
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / "machine.json", target / "machine.json")
            log.append(f"{tree}: machine {name}, {len(files)} results file(s)")
    _write(out / "benchmarks.json", benchmarks)
    if stale:
        log.append("benchmarks whose code differs between trees (the later tree's version is "
                   "kept; asv's dashboard shows only results of that version): "
                   + ", ".join(sorted(stale)))
    return log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, metavar="OUT", help="the merged tree (created)")
    parser.add_argument("trees", type=Path, nargs="+", metavar="TREE",
                        help="asv results folders; later ones win")
    parser.add_argument("--history", type=Path, metavar="DIR",
                        help="an earlier merged tree, first in order; left out when absent")
    args = parser.parse_args(argv)
    trees = list(args.trees)
    if args.history is not None:
        if args.history.exists():
            trees.insert(0, args.history)
        else:
            print(f"merge_results: no history at {args.history} (first run): left out",
                  file=sys.stderr)
    try:
        for line in merge(args.out, trees):
            print(f"merge_results: {line}", file=sys.stderr)
    except MergeError as err:
        print(f"merge_results: error: {err}", file=sys.stderr)
        return 2
    names = sorted(p.name for p in args.out.iterdir() if p.is_dir())
    print(f"merge_results: {args.out}: {len(names)} machine(s): {', '.join(names)}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
