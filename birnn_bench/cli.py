"""The ``birnn-bench`` command line of the library: check, recommend, tune, deploy. The console
script is ``analysis.command``, which adds ``report`` (the library never imports the analysis)."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from argparse import ArgumentTypeError
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import torch

from birnn_bench import check, compare, function_check, measure, user_function, workload
from birnn_bench._io import check_output, check_output_paths, write_marker, write_outputs
from birnn_bench.strategies import BASELINE, STRATEGIES, StateFunction
from birnn_bench.workload import CELLS, DTYPES, LAYOUTS, LENGTH_PATTERNS, read_lengths_file

SEED_MAX = 2**64 - 1  # torch.Generator seeds are unsigned 64-bit integers
#: Above this, torch's own argument parsing overflows (a C long long) with a message that names
#: no option; no real batch, length, width or thread count comes near it.
LARGEST_INT = 2**31 - 1


class _Parser(argparse.ArgumentParser):
    """argparse errors in the CLI's one style: ``birnn-bench <cmd>: error: --seed: <why>``."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message.removeprefix('argument ')}\n")


def _entries(text: str) -> list[str]:
    """The entries of a comma-separated list; an empty one (``a,,b``, ``a,``) is refused, not
    dropped: it is a typo more often than not."""
    entries = text.split(",")
    if not text or not all(entries):
        raise ArgumentTypeError(f"expected a comma-separated list without empty entries, got "
                                f"{text!r}")
    return entries


def _csv_list(kind: Callable, choices: Sequence | None = None) -> Callable[[str], list]:
    def parse(text: str) -> list:
        values = [kind(v) for v in _entries(text)]
        for value in values:
            if choices is not None and value not in choices and not str(value).startswith("file:"):
                raise ArgumentTypeError(f"{value!r} is not one of {', '.join(map(str, choices))}")
        return values
    return parse


def _strategies_or_functions(text: str) -> list[str]:
    """``--strategies`` of check and recommend: registry names and users' functions
    (MODULE:FUNCTION, FILE.py:FUNCTION), loaded and probed by the command before any work."""
    names = _entries(text)
    for name in names:
        if name not in STRATEGIES and not user_function.is_function_spec(name):
            raise ArgumentTypeError(f"{name!r} is not one of {', '.join(STRATEGIES)}, nor "
                                    f"{user_function.SPEC_FORMS}")
    return names


def _resolve_strategies(names: Sequence[str], device: str) -> dict[str, StateFunction]:
    try:
        return user_function.resolve(names, device)
    except ValueError as err:
        raise ValueError(f"--strategies: {err}") from None


def _number(kind: type, valid: Callable, expected: str, out_of_range: str = "") -> Callable:
    """argparse type: ``kind(text)`` when ``valid``; else "expected <expected>, got <text>", or
    ``out_of_range`` (``{value}`` filled in) for a number ``valid`` refuses."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not valid(value):
            raise ArgumentTypeError(out_of_range.format(value=value) if out_of_range
                                    else f"expected {expected}, got {text!r}")
        return value
    return parse


positive_int = _number(int, lambda value: 1 <= value <= LARGEST_INT, "an integer >= 1",
                       f"expected an integer from 1 to {LARGEST_INT}, got {{value}}")
# nan, inf, 0 and negative seconds would hang or stop at once; nan fails every comparison.
#: A day: a budget beyond it is a typo (1e300) rather than a plan; the runs stop at their targets.
MAX_BUDGET_S = 86_400
positive_seconds = _number(float, lambda value: 0 < value <= MAX_BUDGET_S,
                           f"a number of seconds > 0 and at most {MAX_BUDGET_S} (a day)")
_seed = _number(int, lambda value: 0 <= value <= SEED_MAX, "an integer in 0..2**64-1",
                f"{{value}} is out of range; a seed is an integer in 0..2**64-1 ({SEED_MAX})")
_fraction = _number(float, lambda value: 0 < value < 1, "a number in (0, 1)")


def _check_device(text: str) -> None:
    """cpu, or cuda[:N] when this machine has that GPU; ValueError ``--device: ...`` otherwise."""
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    if device is None or (device.type != "cuda" and str(device) not in ("cpu", "cpu:0")):
        raise ValueError(f"--device: {text!r} is not a device this tool runs on; expected cpu, "
                         "cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device: {text!r} requested but CUDA is not available here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"--device: {text!r} requested but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")


def _longest_length(path: str | Path, max_len: int | None) -> int:
    """The longest length of a --lengths file, read before any work; it must fit --max-len."""
    try:
        values = read_lengths_file(path)
    except ValueError as err:
        raise ValueError(f"--lengths: {err}") from None
    longest = max(values)
    if max_len is not None and longest > max_len:
        raise ValueError(f"--lengths: lengths file {str(path)!r} holds length {longest} (entry "
                         f"{values.index(longest)}), longer than --max-len={max_len}; raise "
                         f"--max-len to at least {longest}")
    return longest


#: The size options and their defaults, against which a too-large workload is explained.
SizeOptions = dict[str, tuple[int, int]]
#: recommend's workload sizes by default (--max-len: when no lengths file sets T).
RECOMMEND_SIZES = {"--batch": 32, "--max-len": 64, "--hidden": 256, "--input-size": 128,
                   "--layers": 1}


def _check_size(sizes: SizeOptions,
                specs: Callable[[dict[str, int]], Iterable[workload.WorkloadSpec]],
                device: str, fixes: dict[str, str] | None = None, **work: bool) -> None:
    """Refuses, before any allocation, a workload whose estimated peak memory
    (``workload.footprint`` with ``work``: train, oracle) exceeds what this machine has free.
    The error names the option (of ``sizes``: option -> (value, default)) whose default would
    shrink the estimate most, and the estimate; ``fixes``: what to tell for an option (else
    "make it smaller")."""
    def peak(values: dict[str, int]) -> workload.Footprint:
        return max((workload.footprint(spec, **work) for spec in specs(values)),
                   key=lambda found: found.total)

    given = {option: value for option, (value, _) in sizes.items()}
    needed = peak(given)
    why = workload.too_large(needed, device)
    if why is None:
        return
    shrink: dict[str, float] = {}
    for option, (value, default) in sizes.items():
        if value > default:
            try:
                shrink[option] = needed.total / max(peak({**given, option: default}).total, 1)
            except ValueError:  # that default makes no valid workload with the other values
                continue
    option = max(shrink, key=shrink.__getitem__) if shrink else next(iter(sizes))
    fix = (fixes or {}).get(option, f"make {option} smaller")
    label = option if option.startswith("--lengths") else f"{option} {given[option]}"
    raise ValueError(f"{label}: too large for this machine: the workload {why}; {fix}")


def _progress_bar(width: int = 24) -> Callable[[int, int, str], None]:
    tty = sys.stderr.isatty()

    def show(done: int, total: int, label: str) -> None:
        filled = width * done // max(total, 1)
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}"
        print(f"\r{bar:<80}" if tty else bar, end="" if tty and done < total else "\n",
              file=sys.stderr, flush=True)

    return show


def cmd_check(args: argparse.Namespace) -> int:
    for pattern in args.lengths:
        if pattern.startswith("file:"):
            _longest_length(pattern.removeprefix("file:"), args.max_len)

    def conditions(sizes: dict[str, int]) -> list[workload.WorkloadSpec]:
        return list(check.check_specs(
            cells=args.cells, layers=[min(n, sizes["--layers"]) for n in args.layers],
            layouts=args.layouts, lengths=args.lengths, dtypes=args.dtypes, device=args.device,
            seed=args.seed, batch=sizes["--batch"], max_len=sizes["--max-len"],
            hidden_size=sizes["--hidden"]))

    sizes = {"--batch": (args.batch, check.CHECK_SHAPE["batch"]),
             "--max-len": (args.max_len, check.CHECK_SHAPE["max_len"]),
             "--hidden": (args.hidden, check.CHECK_SHAPE["hidden_size"]),
             "--layers": (max(args.layers), max(check.CHECK_LAYERS))}
    _check_size(sizes, conditions, args.device, oracle=True)
    specs = conditions({option: value for option, (value, _) in sizes.items()})
    strategies = _resolve_strategies(args.strategies, args.device)
    functions = user_function.user_functions(strategies)
    # A user's function runs beside every registry strategy: their failures name its look-alike.
    compared = {**strategies, **STRATEGIES} if functions else strategies
    start = time.perf_counter()
    tty = sys.stderr.isatty()

    def progress(done: int, spec: object) -> None:
        if tty:
            print(f"\rchecked {done}/{len(specs)} conditions", end="", file=sys.stderr, flush=True)
        elif done == len(specs) or done % 60 == 0:
            print(f"checked {done}/{len(specs)} conditions", file=sys.stderr, flush=True)

    with measure.pinned(args.threads) as threads:
        every_row = check.run_check(specs, compared, progress=progress)
    rows = [row for row in every_row if row.strategy in strategies]
    if tty:
        print(file=sys.stderr)
    if not args.quiet:
        print(check.format_matrix(rows) + "\n")
    print(check.format_tolerances(args.dtypes))
    print(check.format_summary(rows))
    verdicts = [function_check.summarize_function(every_row, name) for name in functions]
    if verdicts:
        print("\nYour function(s) (PASS: right on every condition above):")
        print("\n".join(function_check.format_function_check(v) for v in verdicts))
    also = len(compared) - len(strategies)
    print(f"{len(specs)} conditions x {len(strategies)} strategies"
          + (f" (and {also} more of the registry's, to compare)" if also else "")
          + f" in {time.perf_counter() - start:.1f} s (torch {torch.__version__}, "
          f"{threads} thread(s), pinned)")
    write_outputs(rows, ((args.json, check.to_json), (args.csv, check.to_csv)))
    return 1 if any(not v.passed for v in verdicts) else 0


def _user_workload(args: argparse.Namespace, train: bool) -> workload.WorkloadSpec:
    """The user's workload of ``recommend`` / ``tune`` (--cell, --layers, --lengths a pattern or a
    FILE, ...), refused before any allocation when it cannot fit (``_check_size``)."""
    lengths, max_len = args.lengths, args.max_len or RECOMMEND_SIZES["--max-len"]
    if lengths not in LENGTH_PATTERNS:  # a file of lengths: T defaults to its longest
        path = Path(lengths.removeprefix("file:"))
        if not path.is_file():
            raise ValueError(f"--lengths: {lengths!r} is neither a distribution "
                             f"({', '.join(LENGTH_PATTERNS)}) nor a readable file")
        longest = _longest_length(path, args.max_len)
        lengths, max_len = f"file:{path}", args.max_len or longest

    def workloads(sizes: dict[str, int]) -> list[workload.WorkloadSpec]:
        return [workload.WorkloadSpec(
            cell=args.cell, num_layers=sizes["--layers"], input_size=sizes["--input-size"],
            hidden_size=sizes["--hidden"], proj_size=getattr(args, "proj_size", 0),
            batch=sizes["--batch"], max_len=sizes[t_option], lengths=lengths,
            layout=getattr(args, "layout", "batch_first"), dtype=args.dtype,
            device=args.device, seed=getattr(args, "seed", 0))]

    # T is --max-len, else the lengths file's longest: what to blame when it is too large.
    t_option = "--max-len" if args.max_len or lengths in LENGTH_PATTERNS else \
        f"--lengths {args.lengths}"
    given = {"--batch": args.batch, "--max-len": max_len, "--hidden": args.hidden,
             "--input-size": args.input_size, "--layers": args.layers}
    sizes = {option.replace("--max-len", t_option): (value, RECOMMEND_SIZES[option])
             for option, value in given.items()}
    fixes = {t_option: f"its longest length, {max_len}, is the padded length T (no --max-len "
             "given): give shorter lengths"} if t_option != "--max-len" else {}
    _check_size(sizes, workloads, args.device, fixes, oracle=True, train=train)
    (spec,) = workloads({option: value for option, (value, _) in sizes.items()})
    return spec


def cmd_recommend(args: argparse.Namespace) -> int:
    from birnn_bench import recommend as rec

    if args.dtype in ("float16", "bfloat16") and not args.device.startswith("cuda"):
        raise ValueError(f"--dtype: {args.dtype} is measured on CUDA only (CPU kernels for it "
                         "are not what users run); use float32 or float64 on the CPU")
    spec = _user_workload(args, train=args.mode == "train_step")
    names = args.strategies
    if any(map(user_function.is_function_spec, names)) and BASELINE not in names:
        names = [BASELINE, *names]  # a user's function is always timed against the baseline
    strategies = _resolve_strategies(names, args.device)
    measure.pin_allocator()  # this process exists to measure: fix malloc's thresholds
    result = rec.recommend(spec, mode=args.mode, strategies=strategies, budget_s=args.budget,
                           target=args.target, threads=args.threads, progress=_progress_bar(),
                           profile_dir=args.profile, require=tuple(args.require))
    print(rec.format_recommendation(result))
    if args.profile is not None:  # a rerun may write into it again
        write_marker(args.profile, "profile", [Path(p).name for p in result.traces.values()])
    write_outputs([result], ((args.json, lambda rows: json.dumps(rows[0].as_dict(), indent=2,
                                                                 default=str)),))
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from birnn_bench import policy, tune

    out = args.out or policy.local_policy_path()
    check_output("--out", out, replaced=True)  # tune writes <out>.tmp, then renames it
    if args.lengths is None and args.cell is None:
        jobs = tune.shipped_jobs(args.device)
        if not jobs:
            raise ValueError(f"no regimes on {args.device} in the shipped policy: give your "
                             "workload (--cell, --lengths FILE or a distribution, ...)")
    else:
        args.cell, args.lengths = args.cell or "lstm", args.lengths or "uniform"
        spec = _user_workload(args, train="train_step" in args.modes)
        jobs = tune.own_jobs(spec, args.modes)
    started = time.perf_counter()

    def say(line: str) -> None:
        print(f"[tune {time.perf_counter() - started:5.0f} s] {line}", file=sys.stderr,
              flush=True)

    say(f"{len(jobs)} regime(s) x mode, at most {args.budget:g} s each; the policy goes to {out}")
    measure.pin_allocator()  # this process exists to measure: fix malloc's thresholds
    made = tune.tune(jobs, out, budget_s=args.budget, threads=args.threads, say=say)
    rules = made["machines"][0]["rules"]
    moved = [r for r in rules if r["strategy"] != BASELINE]
    print(f"wrote {out}: {len(rules)} rules for {made['machines'][0]['machine']}, "
          f"{len(moved)} off {BASELINE}" + "".join(
              f"\n  {r['mode']} {r['cell']} {r['layers']}L B{r['batch']} T{r['max_len']} "
              f"{r['lengths']}: {r['strategy']} [{r['low']:.3f}, {r['high']:.3f}]"
              for r in moved))
    print(f"strategy='auto' reads it first (set ${policy.POLICY_ENV} to use another file)")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from birnn_bench import deploy

    start = time.perf_counter()
    with measure.pinned(args.threads) as threads:
        rows = deploy.deploy_matrix(strategies=args.strategies, cells=args.cells,
                                    layers=args.layers, device=args.device,
                                    technologies=args.technologies, progress=_progress_bar())
    print(deploy.format_matrix(rows) + "\n")
    print(deploy.format_summary(rows))
    print(f"{len(rows)} cells in {time.perf_counter() - start:.1f} s ("
          + ", ".join(f"{name} {version or 'not installed'}"
                      for name, version in deploy.versions().items())
          + f", {threads} threads)")
    write_outputs(rows, ((args.json, deploy.to_json), (args.csv, deploy.to_csv)))
    return 0


#: A subcommand that another package adds to ``birnn-bench`` (``analysis.command`` adds
#: ``report``): its help line, and what runs it on the arguments after its name (it owns them).
Extension = tuple[str, Callable[[list[str]], int]]


def build_parser(more: Mapping[str, Extension] | None = None) -> argparse.ArgumentParser:
    """The library's subcommands, then ``more`` (listed in ``--help`` only: they parse their own
    arguments)."""
    from birnn_bench import deploy

    parser = _Parser(prog="birnn-bench", description="How to take the last hidden state of a "
                     "bidirectional LSTM/GRU: correctness and cost of every strategy.")
    sub = parser.add_subparsers(dest="command", required=True)
    threads = (f"torch threads, pinned for the whole run (default: ${measure.THREADS_ENV}, else "
               f"{measure.DEFAULT_THREADS})")
    strategies = _csv_list(str, STRATEGIES)
    or_functions = ("registry names and your own functions fn(rnn, x, lengths) -> (fwd, bwd) "
                    "as MODULE:FUNCTION or FILE.py:FUNCTION, comma-separated")

    p = sub.add_parser("check", help="the correctness matrix: every strategy against the oracle",
                       description="Runs every strategy on every condition of the grid and "
                       "compares it with the per-sequence float64 oracle.")
    p.add_argument("--cells", type=_csv_list(str, CELLS), default=list(check.CHECK_CELLS))
    p.add_argument("--layers", type=_csv_list(positive_int), default=list(check.CHECK_LAYERS))
    p.add_argument("--layouts", type=_csv_list(str, LAYOUTS), default=list(check.CHECK_LAYOUTS))
    p.add_argument("--lengths", type=_csv_list(str, LENGTH_PATTERNS),
                   default=list(check.CHECK_LENGTHS),
                   help="length patterns, or file:PATH for a file of integer lengths")
    p.add_argument("--dtypes", type=_csv_list(str, DTYPES), default=list(check.CHECK_DTYPES))
    p.add_argument("--strategies", type=_strategies_or_functions, default=list(STRATEGIES),
                   help=or_functions + "; exit status 1 when one of your functions FAILs")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--batch", type=positive_int, default=check.CHECK_SHAPE["batch"])
    p.add_argument("--max-len", type=positive_int, default=check.CHECK_SHAPE["max_len"])
    p.add_argument("--hidden", type=positive_int, default=check.CHECK_SHAPE["hidden_size"])
    p.add_argument("--seed", type=_seed, default=0, help="0..2**64-1 (default: 0)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write rows and summary as JSON")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write rows as CSV")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--threads", type=positive_int, help=threads)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("recommend", help="check and compare every strategy on YOUR workload",
                       description="Checks each strategy against the oracle on your workload "
                       "and on the whole correctness matrix, times the ones correct here with "
                       "the paired comparison engine (interleaved rounds, each strategy's time "
                       "over hn_index's in the same round, threads pinned, CUDA synchronised) "
                       "and recommends a strategy correct on every condition of the check.")
    p.add_argument("--cell", choices=sorted(CELLS), default="lstm")
    p.add_argument("--hidden", type=positive_int, default=RECOMMEND_SIZES["--hidden"])
    p.add_argument("--input-size", type=positive_int, default=RECOMMEND_SIZES["--input-size"])
    p.add_argument("--proj-size", type=int, default=0)
    p.add_argument("--layers", type=positive_int, default=RECOMMEND_SIZES["--layers"])
    p.add_argument("--batch", type=positive_int, default=RECOMMEND_SIZES["--batch"])
    p.add_argument("--lengths", default="uniform",
                   help=f"a distribution ({', '.join(LENGTH_PATTERNS)}) or a FILE of integer "
                   "lengths (your real sequence lengths; a batch is drawn from them)")
    p.add_argument("--max-len", type=positive_int, default=None,
                   help="T, the padded length (default: the file's longest length, else "
                   f"{RECOMMEND_SIZES['--max-len']})")
    p.add_argument("--layout", choices=LAYOUTS, default="batch_first")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--mode", choices=("forward", "train_step"), default="forward",
                   help="inference (forward) or training (forward + backward)")
    p.add_argument("--threads", type=positive_int, help=threads)
    p.add_argument("--budget", type=positive_seconds, default=20.0,
                   help="seconds for the timed comparison (default 20; at least the engine's "
                   f"{compare.MIN_ROUNDS} rounds always run)")
    p.add_argument("--target", type=_fraction, default=compare.TARGET,
                   help="stop early once every 99%% interval is within +-TARGET of its "
                   f"estimate (default {compare.TARGET})")
    p.add_argument("--strategies", type=_strategies_or_functions, default=list(STRATEGIES),
                   help=or_functions + f" (a function is always timed against {BASELINE})")
    p.add_argument("--seed", type=_seed, default=0, help="0..2**64-1 (default: 0)")
    p.add_argument("--require", type=_csv_list(str, ("script", "compile", "export", "onnx")),
                   default=[], help="only strategies that deploy with these: "
                   "script,compile,export,onnx (checked on your cell/layers/device)")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="also write one Chrome trace per timed strategy into DIR (new, empty "
                   "or an earlier --profile folder)")
    p.add_argument("--force", action="store_true", help="write the traces into an existing "
                   "--profile folder that holds other files")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the ranking as JSON")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("tune", help="measure THIS machine's strategy='auto' policy",
                       description="Runs the paired engine over the regimes the shipped policy "
                       "was learned on (the suite's quick grid), or over your workload when you "
                       "give one (--cell, --lengths, ...), both modes, and writes this "
                       "machine's policy, which strategy='auto' reads first. Resumes an "
                       "interrupted run; the policy file is written whole or not at all.")
    p.add_argument("--out", type=Path, metavar="FILE", help="the policy written (default: "
                   "$BIRNN_BENCH_POLICY, else ~/.config/birnn-bench/policy.json)")
    p.add_argument("--budget", type=positive_seconds, default=8.0,
                   help="seconds per regime and mode at most (default 8; most stop earlier)")
    p.add_argument("--cell", choices=sorted(CELLS), default=None,
                   help="your workload instead of the quick grid: the cell (default lstm)")
    p.add_argument("--lengths", default=None, help="your workload: a distribution "
                   f"({', '.join(LENGTH_PATTERNS)}) or a FILE of integer lengths")
    p.add_argument("--max-len", type=positive_int, default=None)
    p.add_argument("--hidden", type=positive_int, default=RECOMMEND_SIZES["--hidden"])
    p.add_argument("--input-size", type=positive_int, default=RECOMMEND_SIZES["--input-size"])
    p.add_argument("--layers", type=positive_int, default=RECOMMEND_SIZES["--layers"])
    p.add_argument("--batch", type=positive_int, default=RECOMMEND_SIZES["--batch"])
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--modes", type=_csv_list(str, ("forward", "train_step")),
                   default=["forward", "train_step"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=positive_int, help=threads)
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("deploy", help="deployability: TorchScript, torch.compile, torch.export, "
                       "ONNX for every strategy",
                       description="Deploys every strategy (wrapped with its rnn in a module) "
                       "with each technology and compares the deployed output with eager on the "
                       "traced input and on inputs it was not traced with (other lengths, "
                       "batch and T). ONNX needs the optional packages "
                       f"{', '.join(deploy.ONNX_PACKAGES)}; without them its cells are n/a.")
    p.add_argument("--cells", type=_csv_list(str, CELLS), default=["lstm", "gru"])
    p.add_argument("--layers", type=_csv_list(positive_int), default=[1, 2])
    p.add_argument("--strategies", type=strategies, default=list(STRATEGIES))
    p.add_argument("--technologies", type=_csv_list(str, deploy.ALL_TECHNOLOGIES),
                   default=list(deploy.ALL_TECHNOLOGIES),
                   help=f"default: all; {', '.join(deploy.OPT_IN_TECHNOLOGIES)} are the "
                   "opt-in variants (dynamo allow_rnn, export's while_loop rnn decomposition)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write rows as JSON")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write rows as CSV")
    p.add_argument("--threads", type=positive_int, help=threads)
    p.set_defaults(func=cmd_deploy)
    for name, (text, _) in (more or {}).items():
        sub.add_parser(name, add_help=False, help=text).add_argument(
            "rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None,
         more: Mapping[str, Extension] | None = None) -> int:
    """``birnn-bench``: the library's subcommands, and ``more`` (name -> ``Extension``) from a
    package above the library (the console script is ``analysis.command``, which adds
    ``report``: the library itself never imports the analysis)."""
    # torch warns on every projected LSTM call on CPU that oneDNN is bypassed: noise here.
    warnings.filterwarnings("ignore", message="LSTM with projections is not supported")
    argv = list(sys.argv[1:] if argv is None else argv)
    more = dict(more or {})
    if argv[:1] and argv[0] in more:  # that command owns all of its options
        return more[argv[0]][1](argv[1:])
    args = build_parser(more).parse_args(argv)
    # Bad input is refused as ValueError at its source (argparse types, the checks below and in
    # each command, WorkloadSpec, read_lengths_file), files as OSError; anything else is a bug.
    try:
        _check_device(args.device)
        check_output_paths([(f"--{kind}", getattr(args, kind, None))
                            for kind in ("json", "csv")])
        if getattr(args, "profile", None) is not None:
            check_output("--profile", args.profile, folder=True, kind="profile",
                         force=args.force)
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"birnn-bench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # the allocator, where the size check's estimate fell short
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if not isinstance(err, torch.OutOfMemoryError) and "can't allocate memory" not in first:
            raise
        print(f"birnn-bench {args.command}: error: out of memory ({first}); make the workload "
              "smaller (--batch, --max-len, --hidden)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
