#!/usr/bin/env python3
"""How long ``analysis.load.load_results`` takes on 100 commits' worth of full-grid results.

It takes ONE real asv results file (the newest in ``--source``, default: the repo's results
tree; with none there, a fresh real asv run of the smoke grid, ~45 s), and:

1. if that file does not already cover the full grid (``birnn_bench.grid.FULL_GRID``), expands
   each strategy benchmark to the full grid by REPEATING REAL MEASURED VALUES: every full-grid
   point gets the values (result, 99% CI, quartiles, number, repeat, samples) that the source
   measured for the same strategy (and device, where the source has it). Points this kind of
   machine would skip stay NaN, as asv writes them: by default a machine WITH a GPU (CUDA
   points filled: the heavier, H100-like file); ``--cpu-only`` writes a CPU machine's file;
2. writes it under 100 different fake commit hashes (``commit_hash``, ``date`` and file name
   rewritten, nothing else) into a temporary results tree with the source's benchmarks.json;
3. times ``load_results`` on that tree 3 times and prints the median.

The figures are timings of the loader only; the values in the copies are not measurements of
those commits. Usage: ``python scripts/bench_load.py [--source DIR] [--commits 100]
[--repeat 3] [--cpu-only] [--stdlib-json] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import analysis.load as analysis_load  # noqa: E402
from analysis.load import default_results_dir, load_results  # noqa: E402
from birnn_bench import grid  # noqa: E402

EXPANDED = ("result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75",
            "stats_number", "stats_repeat", "samples")


def newest_results_file(results: Path) -> Path | None:
    files = [p for p in results.glob("*/*.json") if p.name != "machine.json"]
    return max(files, key=lambda p: p.stat().st_mtime) if files else None


def smoke_source(workdir: Path) -> Path:
    from tests.conftest import run_asv_smoke

    print("no results files in the source tree: running a real asv run of the smoke grid "
          "(~45 s) to get one", file=sys.stderr)
    return run_asv_smoke(workdir, "bench-load-box")


def expand_to_full_grid(data: dict, cuda_available: bool) -> tuple[dict, int, bool]:
    """The file with every strategy benchmark on the full grid; (data, points, expanded?)."""
    full = grid.bench_grid("full")
    names = list(full)
    full_params = [[repr(v) for v in values] for values in full.values()]
    points = math.prod(len(v) for v in full_params)
    columns = data["result_columns"]
    out = dict(data)
    out["results"] = {}
    expanded = False
    for name, row in data["results"].items():
        cols = dict(zip(columns, row, strict=False))
        params = cols.get("params") or []
        if len(params) != len(names) or params == full_params:
            out["results"][name] = row  # Environment, or already full
            continue
        expanded = True
        source_combos = list(itertools.product(*params))
        measured: dict[tuple[str, str], int] = {}
        for i, combo in enumerate(source_combos):
            value = (cols.get("result") or [None] * len(source_combos))[i]
            if value is not None and value == value:
                measured.setdefault((combo[0], combo[-1]), i)
                measured.setdefault(("*", combo[-1]), i)
        picks = []
        for combo in itertools.product(*full.values()):
            device, dtype, strategy = combo[0], combo[names.index("dtype")], combo[-1]
            skip = grid.skip_reason(device, dtype, cuda_available)
            src = None if skip else measured.get((repr(device), repr(strategy)),
                                                  measured.get(("*", repr(strategy))))
            picks.append(src)
        new = dict(cols)
        new["params"] = full_params
        for key in EXPANDED:
            values = cols.get(key)
            if values is None:
                continue
            missing = float("nan") if key == "result" else None
            new[key] = [values[i] if i is not None else missing for i in picks]
        out["results"][name] = [new.get(c) for c in columns][:len(row)]
    return out, points, expanded


def build_tree(source_file: Path, benchmarks_json: Path, dest: Path, commits: int,
               cuda_available: bool) -> tuple[int, bool, int]:
    data = json.loads(source_file.read_text())
    data, points, expanded = expand_to_full_grid(data, cuda_available)
    machine = dest / "bench-load-box"
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text(json.dumps({"machine": "bench-load-box",
                                                      "version": 1}))
    shutil.copy(benchmarks_json, dest / "benchmarks.json")
    env = data.get("env_name", "env")
    data.setdefault("params", {})["machine"] = "bench-load-box"
    size = 0
    for i in range(commits):
        commit = hashlib.sha1(f"bench-load-{i}".encode()).hexdigest()
        data["commit_hash"] = commit
        data["date"] = int(data.get("date") or 0) + i * 3_600_000
        text = json.dumps(data)
        size += len(text)
        (machine / f"{commit[:8]}-{env}.json").write_text(text)
    return points, expanded, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None,
                        help="a results tree (default: the one asv.conf.json names)")
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu-only", action="store_true",
                        help="expand as a machine without a GPU would (CUDA points NaN)")
    parser.add_argument("--stdlib-json", action="store_true",
                        help="parse with the standard library's json even if orjson is installed")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the generated tree here and keep it")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        source = args.source or default_results_dir(REPO / "asv.conf.json")
        source_file = newest_results_file(source) if source.is_dir() else None
        origin = f"{source_file}" if source_file else ""
        if source_file is None:
            source = smoke_source(work / "smoke")
            source_file = newest_results_file(source)
            origin = f"{source_file.name} (fresh real asv run of the smoke grid)"
        dest = args.keep or (work / "results")
        if dest.exists():
            shutil.rmtree(dest)
        points, expanded, size = build_tree(source_file, source / "benchmarks.json", dest,
                                            args.commits, not args.cpu_only)
        print(f"source results file: {origin}")
        if expanded:
            kind = ("as a CPU-only machine writes it (CUDA and CPU float16/bfloat16 points "
                    "NaN)" if args.cpu_only else
                    "as a machine with a GPU writes it (CPU float16/bfloat16 points NaN; CUDA "
                    "points carry the source's values for the same strategy, CPU ones when the "
                    "source measured no CUDA point)")
            print(f"  it does not cover the full grid: expanded to {points} points per strategy "
                  f"benchmark by REPEATING its real measured values per strategy, {kind}")
        else:
            print(f"  it already covers the full grid ({points} points per benchmark)")
        print(f"{args.commits} copies under fake commit hashes: "
              f"{size / 1e6:.0f} MB of JSON")
        if args.stdlib_json:
            analysis_load._orjson = None
        parser_name = "orjson" if analysis_load._orjson is not None else "stdlib json"
        print(f"JSON parser: {parser_name}")
        times = []
        rows = 0
        for i in range(args.repeat):
            start = time.perf_counter()
            loaded = load_results(dest)
            times.append(time.perf_counter() - start)
            rows = len(loaded.data)
            print(f"  run {i + 1}: {times[-1]:.2f} s, {rows} rows, "
                  f"{len(loaded.problems)} problems", file=sys.stderr)
            del loaded
        print(f"load_results: median {statistics.median(times):.2f} s over {args.repeat} runs "
              f"(min {min(times):.2f} s, max {max(times):.2f} s) for {args.commits} commits, "
              f"{rows} rows")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
