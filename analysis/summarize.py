"""Tidy results -> the tables of the report. Pure functions: DataFrame in, DataFrame out.

Vocabulary (column names are the suite's parameter names):

- a *device* is one machine's ``cpu`` or ``cuda`` (``machine``, ``device``, ``device_name``);
- a *regime* is one workload on a device: ``batch``, ``lengths``, ``max_len``, ``layers`` and
  also ``cell``, ``hidden``, ``dtype``, so that nothing is ever averaged across different
  workloads;
- a strategy is *correct* on a regime iff the suite's error benchmark measured its max abs error
  against the float64 oracle on that very regime (same machine and device) and it is
  ``<= birnn_bench.oracle.TOLERANCES[dtype]``. Not measured means not correct: such a timing is
  never recommended.

Each machine's tables use, per benchmark, the most recent commit in which that benchmark has a
measured point (a partial run on a newer commit does not hide an older complete one); the commit
used is a column. ``history`` uses every commit.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from birnn_bench import grid, stats

DEVICE_KEYS = ["machine", "device", "device_name"]
REGIME = ["batch", "lengths", "max_len", "layers", "cell", "hidden", "dtype"]
CONFIG = DEVICE_KEYS + REGIME
BASELINE = "hn_index"
FORWARD, TRAIN_STEP, EXTRACT = "time_forward", "time_train_step", "time_extract"
ERROR, PEAK = "track_max_abs_error", "track_peak_bytes"
ALPHA = 0.01  # matches asv's 99% confidence intervals
PERMUTATIONS = 4000
BOOTSTRAPS = 2000
SEED = 0
MIN_SAMPLES = 5
METRIC_LABELS = {FORWARD: "inference (forward)", TRAIN_STEP: "training step",
                 EXTRACT: "state extraction only"}
#: The timed benchmarks on the suite's grid, compared strategy against strategy. Others (the
#: compile sub-grid, with its extra ``compile`` parameter) are left to ``history`` and asv.
TIMED = (EXTRACT, FORWARD, TRAIN_STEP)
#: How the suite's timing samples are grouped into processes (see birnn_bench.grid): each asv
#: round appends SAMPLES_PER_ROUND samples (other counts: see stats.round_medians).
SAMPLES_PER_ROUND = grid.SAMPLES_PER_ROUND
ROUND_METHOD = "permutation test, reproduced in every asv round"
COMPILED, COMPILE_SECONDS = "time_forward_compiled", "track_compile_seconds"
COMPILED_ERROR = "track_compiled_error"


# ---------------------------------------------------------------------------------------------
# helpers


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categoricals -> plain values (merges between frames of different origins stay simple)."""
    out = df.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            out[name] = out[name].astype(object)
    return out


def tolerance_of(dtype: str) -> float:
    """The oracle's tolerance for a dtype name (``float32`` -> ``TOLERANCES[torch.float32]``);
    NaN for a dtype the oracle has no tolerance for."""
    import torch

    from birnn_bench.oracle import TOLERANCES

    torch_dtype = getattr(torch, str(dtype), None)
    return float(TOLERANCES.get(torch_dtype, np.nan)) if torch_dtype is not None else np.nan


@functools.lru_cache(maxsize=4096)
def valid_tokens(lengths: str, batch: int, max_len: int, seed: int = 0) -> float:
    """Sum of the sequence lengths of the benchmark workload (what ``build(bench_spec(...))``
    draws: a generator seeded with ``seed`` whose first use is ``make_lengths``)."""
    import torch

    from birnn_bench.workload import make_lengths

    try:
        drawn = make_lengths(str(lengths), int(batch), int(max_len),
                             torch.Generator().manual_seed(seed))
    except (ValueError, OSError):
        return np.nan
    return float(drawn.sum())


def latest(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine and benchmark, the rows of the newest results file (by commit date, then
    file name) that has at least one measured point of that benchmark. Skipped rows kept."""
    if df.empty:
        return df
    measured = df.loc[df["value"].notna(), ["machine", "benchmark", "file", "date"]]
    files = (measured.groupby(["machine", "benchmark", "file"], observed=True, sort=False)["date"]
             .first().reset_index())
    if files.empty:
        return df.iloc[:0]
    files["file_name"] = files["file"].astype(str)
    files = files.sort_values(["date", "file_name"], na_position="first")
    chosen = files.groupby(["machine", "benchmark"], observed=True).tail(1)
    keep = set(zip(chosen["benchmark"].astype(str), chosen["file"].astype(str), strict=True))
    if not (isinstance(df["benchmark"].dtype, pd.CategoricalDtype)
            and isinstance(df["file"].dtype, pd.CategoricalDtype)):
        pairs = zip(df["benchmark"].astype(str), df["file"].astype(str), strict=True)
        return df[np.fromiter((p in keep for p in pairs), bool, len(df))]
    # Compare codes, not strings: the frame may hold millions of rows.
    bench_codes = {str(b): i for i, b in enumerate(df["benchmark"].cat.categories)}
    file_codes = {str(f): i for i, f in enumerate(df["file"].cat.categories)}
    nfiles = len(file_codes)
    wanted = [bench_codes[b] * nfiles + file_codes[f] for b, f in keep]
    combined = (df["benchmark"].cat.codes.to_numpy(np.int64) * nfiles
                + df["file"].cat.codes.to_numpy(np.int64))
    return df[np.isin(combined, wanted)]


def _metric(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    return df[(df["metric"] == metric) & df["value"].notna()]


# ---------------------------------------------------------------------------------------------
# correctness


def correctness(df: pd.DataFrame) -> pd.DataFrame:
    """One verdict per machine, device, regime and strategy, from the error benchmark.

    Columns: CONFIG, strategy, error (max abs error vs the float64 oracle), tolerance,
    correct (bool), commit. Points the suite skipped are absent (n/a, not a verdict).
    """
    errors = _plain(_metric(latest(df), ERROR))
    cols = [*CONFIG, "strategy", "error", "tolerance", "correct", "commit"]
    if errors.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = errors[[*CONFIG, "strategy", "value", "commit"]].rename(columns={"value": "error"})
    tolerances = {d: tolerance_of(d) for d in out["dtype"].unique()}
    out["tolerance"] = out["dtype"].map(tolerances).astype(float)
    out["correct"] = (out["error"] <= out["tolerance"]) & out["tolerance"].notna()
    return out[cols].reset_index(drop=True)


def correctness_matrix(verdicts: pd.DataFrame,
                       by: Sequence[str] = ("device_name", "dtype", "lengths", "layers")
                       ) -> pd.DataFrame:
    """Strategy x condition: the share of regimes in which each strategy is correct.

    Columns: strategy, the ``by`` columns, condition (a readable label), correct, total, share.
    """
    by = list(by)
    if verdicts.empty:
        return pd.DataFrame(columns=["strategy", *by, "condition", "correct", "total", "share"])
    grouped = (verdicts.groupby(["strategy", *by], sort=False)["correct"]
               .agg(correct="sum", total="count").reset_index())
    grouped["correct"] = grouped["correct"].astype(int)
    grouped["share"] = grouped["correct"] / grouped["total"]
    grouped["condition"] = grouped[by].apply(
        lambda r: " | ".join(f"{k}={v}" if k != "device_name" else str(v)
                             for k, v in zip(by, r, strict=True)), axis=1)
    return grouped[["strategy", *by, "condition", "correct", "total", "share"]]


# ---------------------------------------------------------------------------------------------
# throughput, speed-up, memory, Pareto


def throughput(df: pd.DataFrame, verdicts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every timed point of the newest runs, with throughput, memory and correctness.

    Columns: CONFIG, strategy, metric, time_s (asv's median), ci_low / ci_high (asv's 99%
    interval of it), q25, q75, samples, seq_per_s, seq_per_s_low / _high, valid_tokens
    (sum of the workload's lengths), tokens_per_s, tokens_per_s_low / _high, peak_bytes
    (peak bytes of one forward call), error, correct (False also where not measured),
    verified (the error was measured), commit, torch, threads.
    """
    snap = latest(df)
    times = _plain(snap[snap["metric"].isin(TIMED) & snap["value"].notna()])
    cols = [*CONFIG, "strategy", "metric", "value", "ci_low", "ci_high", "q25", "q75", "samples",
            "commit", "torch", "threads"]
    out = times[cols].rename(columns={"value": "time_s"}).reset_index(drop=True)
    out["batch"] = out["batch"].astype("Int64")
    keys = out[["lengths", "batch", "max_len"]].drop_duplicates()
    tokens = {(r.lengths, r.batch, r.max_len): valid_tokens(r.lengths, int(r.batch),
                                                            int(r.max_len))
              for r in keys.itertuples(index=False)}
    out["valid_tokens"] = [tokens[k] for k in zip(out["lengths"], out["batch"], out["max_len"],
                                                  strict=True)]
    batch = out["batch"].astype(float)
    out["seq_per_s"] = batch / out["time_s"]
    out["seq_per_s_low"] = batch / out["ci_high"]
    out["seq_per_s_high"] = batch / out["ci_low"]
    out["tokens_per_s"] = out["valid_tokens"] / out["time_s"]
    out["tokens_per_s_low"] = out["valid_tokens"] / out["ci_high"]
    out["tokens_per_s_high"] = out["valid_tokens"] / out["ci_low"]
    peaks = _plain(_metric(snap, PEAK))[[*CONFIG, "strategy", "value"]]
    out = out.merge(peaks.rename(columns={"value": "peak_bytes"}), on=[*CONFIG, "strategy"],
                    how="left")
    if verdicts is None:
        verdicts = correctness(df)
    v = verdicts[[*CONFIG, "strategy", "error", "correct"]]
    out = out.merge(v, on=[*CONFIG, "strategy"], how="left")
    out["verified"] = out["correct"].notna()
    out["correct"] = out["correct"].fillna(False).astype(bool)
    return out


def _has_samples(s: Any) -> bool:
    return isinstance(s, tuple | list) and len(s) >= MIN_SAMPLES


def _every_round(slower: Any, faster: Any) -> bool:
    """``slower`` is slower in every asv round (True where samples are missing: the interval
    test decides alone there)."""
    if not (_has_samples(slower) and _has_samples(faster)):
        return True
    return stats.reproduced_in_every_round(slower, faster, SAMPLES_PER_ROUND)


def round_spread(tp: pd.DataFrame) -> pd.DataFrame:
    """How far apart the asv rounds (processes) of one timed point land, per device.

    For every point of ``tp`` (``throughput``) with recorded samples: the slowest round median
    over the fastest. Columns: DEVICE_KEYS, points, median_spread, max_spread. What the
    every-round criterion guards against, measured on the results themselves.
    """
    cols = [*DEVICE_KEYS, "points", "median_spread", "max_spread"]
    if tp.empty or "samples" not in tp:
        return pd.DataFrame(columns=cols)
    timed = tp[tp["samples"].map(_has_samples)]
    if timed.empty:
        return pd.DataFrame(columns=cols)
    def spread(samples: Any) -> float:
        medians = stats.round_medians(samples, SAMPLES_PER_ROUND)
        return float(medians.max() / medians.min())

    frame = timed[DEVICE_KEYS].assign(spread=timed["samples"].map(spread).to_numpy())
    out = (frame.groupby(DEVICE_KEYS, sort=True)["spread"]
           .agg(points="size", median_spread="median", max_spread="max").reset_index())
    return out[cols]


def _time_ratio(out: pd.DataFrame, num: Sequence[str], den: Sequence[str]) -> None:
    """Adds speedup = num's time / den's time, speedup_low / _high, ci_method, faster, slower
    to ``out`` (index 0..n-1); ``num`` and ``den`` name its (time, ci_low, ci_high, samples)
    columns of the two sides.

    The interval: with samples for both, a percentile bootstrap (fixed seed) of the ratio of
    medians at 99%; else the conservative one from asv's two 99% intervals. faster / slower:
    the interval excludes 1 and, with samples, every asv round reproduces the difference.
    """
    time_n, low_n, high_n, samples_n = num
    time_d, low_d, high_d, samples_d = den
    out["speedup"] = out[time_n] / out[time_d]
    out["speedup_low"] = out[low_n] / out[high_d]
    out["speedup_high"] = out[high_n] / out[low_d]
    out["ci_method"] = np.where(out[low_d].notna() & out[low_n].notna(),
                                "asv 99% CIs combined", "none recorded")
    for i in np.flatnonzero([_has_samples(a) and _has_samples(b)
                             for a, b in zip(out[samples_n], out[samples_d], strict=True)]):
        ratio = stats.ratio_interval(out.at[i, samples_n], out.at[i, samples_d],
                                     confidence=1 - ALPHA, n_boot=BOOTSTRAPS, seed=SEED)
        out.loc[i, ["speedup_low", "speedup_high", "ci_method"]] = [ratio.low, ratio.high,
                                                                      "bootstrap 99%"]
    out["faster"] = (out["speedup_low"] > 1) & np.array(
        [_every_round(n, d) for n, d in zip(out[samples_n], out[samples_d], strict=True)],
        dtype=bool)
    out["slower"] = (out["speedup_high"] < 1) & np.array(
        [_every_round(d, n) for n, d in zip(out[samples_n], out[samples_d], strict=True)],
        dtype=bool)


def speedup(tp: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Each strategy against ``baseline`` on the same device, regime and metric.

    speedup = baseline time / strategy time (> 1: faster than the baseline). Its interval:
    with samples for both, a percentile bootstrap (fixed seed) of the ratio of medians at 99%;
    else the conservative interval from asv's two 99% intervals (base_low / ci_high,
    base_high / ci_low). ``memory_ratio`` = peak bytes / baseline's peak bytes.
    """
    cols = [*CONFIG, "metric", "strategy", "time_s", "baseline_time_s", "speedup", "speedup_low",
            "speedup_high", "ci_method", "faster", "slower", "peak_bytes", "memory_ratio",
            "correct", "verified"]
    if tp.empty:
        return pd.DataFrame(columns=cols)
    keys = [*CONFIG, "metric"]
    base = tp[tp["strategy"] == baseline][[*keys, "time_s", "ci_low", "ci_high", "samples",
                                           "peak_bytes"]]
    base = base.rename(columns={"time_s": "baseline_time_s", "ci_low": "b_low",
                                "ci_high": "b_high", "samples": "b_samples",
                                "peak_bytes": "b_peak"})
    out = tp.merge(base, on=keys, how="inner")
    _time_ratio(out, ("baseline_time_s", "b_low", "b_high", "b_samples"),
                ("time_s", "ci_low", "ci_high", "samples"))
    out["memory_ratio"] = out["peak_bytes"] / out["b_peak"]
    return out[cols]


def compiled(df: pd.DataFrame) -> pd.DataFrame:
    """``torch.compile`` against eager on the compile sub-grid (``deploy.Compiled``): per
    device, regime and strategy of the newest runs.

    Columns: CONFIG, strategy, eager_s, compiled_s (asv's medians), speedup = eager / compiled
    (> 1: compiling helps) with speedup_low / _high and ci_method as in ``speedup``, faster /
    slower (the 99% interval excludes 1), compile_s (the compiled module's first call: the
    compile), error (the compiled output's max abs error against the oracle on that very point),
    correct (error <= the dtype's tolerance; False where not measured), verified, commit.
    """
    cols = [*CONFIG, "strategy", "eager_s", "compiled_s", "speedup", "speedup_low",
            "speedup_high", "ci_method", "faster", "slower", "compile_s", "error", "correct",
            "verified", "commit"]
    snap = latest(df)
    if "compile" not in snap.columns:
        return pd.DataFrame(columns=cols)
    rows = _plain(snap[snap["metric"].isin([COMPILED, COMPILE_SECONDS, COMPILED_ERROR])
                       & snap["value"].notna()])
    keys = [*CONFIG, "strategy"]

    def side(metric: str, mode: str, names: dict[str, str]) -> pd.DataFrame:
        picked = rows[(rows["metric"] == metric) & (rows["compile"] == mode)]
        return picked[[*keys, *names]].rename(columns=names)

    stat = {"value": "{}_s", "ci_low": "{}_low", "ci_high": "{}_high", "samples": "{}_samples"}
    eager = side(COMPILED, "eager", {k: v.format("eager") for k, v in stat.items()})
    fast = side(COMPILED, "compile", {k: v.format("compiled") for k, v in stat.items()} |
                {"commit": "commit"})
    out = eager.merge(fast, on=keys, how="inner").reset_index(drop=True)
    if out.empty:
        return pd.DataFrame(columns=cols)
    _time_ratio(out, ("eager_s", "eager_low", "eager_high", "eager_samples"),
                ("compiled_s", "compiled_low", "compiled_high", "compiled_samples"))
    out = out.merge(side(COMPILE_SECONDS, "compile", {"value": "compile_s"}), on=keys,
                    how="left")
    out = out.merge(side(COMPILED_ERROR, "compile", {"value": "error"}), on=keys, how="left")
    out["verified"] = out["error"].notna()
    out["correct"] = out["error"] <= out["dtype"].map(tolerance_of)
    return out[cols]


def pareto(tp: pd.DataFrame, metric: str = FORWARD) -> pd.DataFrame:
    """Correct strategies only, per device and regime: time vs peak memory, and whether each
    is on the Pareto front (no other correct strategy is at least as fast AND as small, and
    strictly better in one)."""
    cols = [*CONFIG, "strategy", "time_s", "peak_bytes", "on_front"]
    rows = tp[(tp["metric"] == metric) & tp["correct"] & tp["peak_bytes"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    rows = rows[[*CONFIG, "strategy", "time_s", "peak_bytes"]].reset_index(drop=True)
    front = np.zeros(len(rows), dtype=bool)
    for _, idx in rows.groupby(CONFIG, sort=False).indices.items():
        t = rows["time_s"].to_numpy()[idx]
        m = rows["peak_bytes"].to_numpy()[idx]
        for j, i in enumerate(idx):
            dominated = (t <= t[j]) & (m <= m[j]) & ((t < t[j]) | (m < m[j]))
            front[i] = not dominated.any()
    rows["on_front"] = front
    return rows[cols]


# ---------------------------------------------------------------------------------------------
# recommendation


permutation_p = stats.permutation_p  # re-exported: the one implementation is in birnn_bench


def compare(fast: pd.Series, slow: pd.Series, alpha: float = ALPHA) -> tuple[bool, float, str]:
    """Is ``slow`` significantly slower than ``fast``? -> (significant, p_value, method).

    With at least ``MIN_SAMPLES`` asv samples on both sides: a permutation test of the
    medians, significant when p < alpha AND every asv round reproduces the difference
    (``birnn_bench.stats.reproduced_in_every_round``: samples of one process are not
    independent). Otherwise asv's 99% confidence intervals: significant when they do not
    overlap. With neither, never significant.
    """
    if _has_samples(fast.get("samples")) and _has_samples(slow.get("samples")):
        p = stats.permutation_p(fast["samples"], slow["samples"], PERMUTATIONS, SEED)
        every_round = _every_round(slow["samples"], fast["samples"])
        return (bool(p < alpha and slow["time_s"] > fast["time_s"] and every_round), p,
                ROUND_METHOD)
    lo, hi = slow.get("ci_low"), fast.get("ci_high")
    if pd.notna(lo) and pd.notna(hi):
        return bool(hi < lo), np.nan, "asv 99% CIs"
    return False, np.nan, "no spread recorded"


def recommend(tp: pd.DataFrame, metric: str = FORWARD, alpha: float = ALPHA) -> pd.DataFrame:
    """Per device and regime: the fastest CORRECT strategy, its margin over the runner-up and
    whether that margin is significant.

    Columns: CONFIG (the suite's parameter names), strategy (None when no strategy was measured
    correct), time_s, runner_up, runner_up_time_s, margin (runner-up time / best time - 1),
    significant, p_value, method, verdict ("fastest" / "no significant difference" / "only
    correct strategy" / "no correct strategy measured"), tied_with (correct strategies not
    significantly slower than the best), n_correct, incorrect (timed, failed the oracle),
    unverified (timed, error not measured: never recommended), metric, commit.
    """
    cols = [*CONFIG, "strategy", "time_s", "runner_up", "runner_up_time_s", "margin",
            "significant", "p_value", "method", "verdict", "tied_with", "n_correct",
            "incorrect", "unverified", "metric", "commit"]
    rows = tp[tp["metric"] == metric]
    out: list[dict[str, Any]] = []
    for key, group in rows.groupby(CONFIG, sort=True, observed=True):
        record: dict[str, Any] = dict(zip(CONFIG, key, strict=True))
        good = group[group["correct"]].sort_values(["time_s", "strategy"])
        record.update(
            metric=metric, commit=",".join(sorted(set(group["commit"]))),
            n_correct=len(good),
            incorrect=", ".join(group.loc[group["verified"] & ~group["correct"], "strategy"]),
            unverified=", ".join(group.loc[~group["verified"], "strategy"]),
            strategy=None, time_s=np.nan, runner_up=None, runner_up_time_s=np.nan,
            margin=np.nan, significant=pd.NA, p_value=np.nan, method="", tied_with="")
        if good.empty:
            record["verdict"] = "no correct strategy measured"
            out.append(record)
            continue
        best = good.iloc[0]
        record.update(strategy=best["strategy"], time_s=best["time_s"])
        if len(good) == 1:
            record["verdict"] = "only correct strategy"
            out.append(record)
            continue
        runner = good.iloc[1]
        significant, p, method = compare(best, runner, alpha)
        tied = [r["strategy"] for _, r in good.iloc[1:].iterrows()
                if not compare(best, r, alpha)[0]]
        record.update(runner_up=runner["strategy"], runner_up_time_s=runner["time_s"],
                      margin=runner["time_s"] / best["time_s"] - 1, significant=significant,
                      p_value=p, method=method, tied_with=", ".join(tied),
                      verdict="fastest" if significant else "no significant difference")
        out.append(record)
    result = pd.DataFrame(out, columns=cols)
    result["significant"] = result["significant"].astype("boolean")
    return result


def overall(recs: pd.DataFrame, tp: pd.DataFrame) -> pd.DataFrame:
    """Per device: each strategy's standing over the regimes of ``recs`` (one metric).

    Columns: machine, device, device_name, strategy, regimes, correct_in (regimes where it was
    timed AND measured correct), correct_everywhere (correct in every regime of the device),
    fastest_significant (recommended with a significant margin), best_or_tied (recommended, or
    not significantly slower than the recommendation), share_best_or_tied. Sorted with the
    production choice first: correct everywhere, then best or tied most often, then
    significant wins, then the suite's order (hn_index first).
    """
    cols = ["machine", "device", "device_name", "strategy", "regimes", "correct_in",
            "correct_everywhere", "fastest_significant", "best_or_tied", "share_best_or_tied"]
    if recs.empty:
        return pd.DataFrame(columns=cols)
    from birnn_bench.grid import BENCH_STRATEGIES

    metric = recs["metric"].iloc[0]
    timed = tp[tp["metric"] == metric]
    rows = []
    for key, group in recs.groupby(DEVICE_KEYS, sort=True):
        n = len(group)
        device_rows = timed.merge(group[CONFIG], on=CONFIG, how="inner")
        correct_in = device_rows[device_rows["correct"]].groupby("strategy").size()
        tied_sets = [{t.strip() for t in str(ts).split(",") if t.strip()}
                     for ts in group["tied_with"]]
        significant = group["significant"].fillna(False).astype(bool).to_numpy()
        for name in sorted(set(device_rows["strategy"])):
            best = (group["strategy"] == name).to_numpy()
            tied = np.array([name in t for t in tied_sets], dtype=bool)
            k = int(correct_in.get(name, 0))
            rows.append(dict(zip(DEVICE_KEYS, key, strict=True), strategy=name, regimes=n,
                             correct_in=k, correct_everywhere=k == n,
                             fastest_significant=int((best & significant).sum()),
                             best_or_tied=int((best | tied).sum())))
    out = pd.DataFrame(rows, columns=cols[:-1])
    out["share_best_or_tied"] = out["best_or_tied"] / out["regimes"]
    rank = {name: i for i, name in enumerate(BENCH_STRATEGIES)}
    out["_rank"] = out["strategy"].map(lambda n: rank.get(n, len(rank)))
    out = out.sort_values(
        [*DEVICE_KEYS, "correct_everywhere", "best_or_tied", "fastest_significant", "_rank"],
        ascending=[True, True, True, False, False, False, True])
    return out.drop(columns="_rank").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# history


def _variant(rows: pd.DataFrame) -> pd.Series:
    """``name=value`` of the parameters a benchmark has beyond the suite's grid ("" if none):
    without it, eager and compiled points of one strategy would be one series."""
    from analysis.load import extra_params

    parts = [name + "=" + rows[name].astype(object).astype(str).where(rows[name].notna(), "")
             for name in extra_params(rows)]
    if not parts:
        return pd.Series("", index=rows.index, dtype=object)
    joined = functools.reduce(lambda a, b: a + "," + b, parts)
    # Drop the empty "name=" of benchmarks that lack the parameter.
    return joined.str.replace(r"(^|,)[^,=]+=(?=,|$)", "", regex=True).str.strip(",")


def history(df: pd.DataFrame, threshold: float = 0.10) -> pd.DataFrame:
    """Each strategy's time per device and regime across commits, oldest first, with the change
    from the previous commit measured on the same machine and environment.

    regression: slower by more than ``threshold`` AND the 99% intervals do not overlap (when
    both were recorded) AND, with samples, every asv round reproduces it; improvement: the
    mirror image. Columns: machine, env, CONFIG, strategy,
    metric, variant (the benchmark's parameters beyond the suite's grid, e.g. ``compile=eager``;
    empty for most), commit, date, time_s, ci_low, ci_high, previous_commit, previous_time_s,
    ratio, regression, improvement.
    """
    keys = ["env", *CONFIG, "strategy", "metric", "variant"]
    cols = ["machine", "env", *CONFIG[1:], "strategy", "metric", "variant", "commit", "date",
            "time_s", "ci_low", "ci_high", "previous_commit", "previous_time_s", "ratio",
            "regression", "improvement"]
    rows = df[(df["kind"] == "time") & df["value"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    rows = rows.assign(variant=_variant(rows))
    rows = rows[[*keys, "commit", "date", "value", "ci_low", "ci_high", "samples", "file"]].rename(
        columns={"value": "time_s"})
    series = rows.groupby(keys, observed=True, sort=False).ngroup().to_numpy()
    order = np.lexsort((rows["file"].astype(str).to_numpy(),
                        rows["date"].to_numpy(dtype="datetime64[us]", na_value=np.datetime64(
                            "NaT")).astype(np.int64), series))
    rows = rows.iloc[order].reset_index(drop=True)
    series = series[order]
    same = np.r_[False, series[1:] == series[:-1]]
    prev = rows[["commit", "time_s", "ci_low", "ci_high", "samples"]].shift(1)
    rows["previous_commit"] = prev["commit"].where(same)
    rows["previous_time_s"] = prev["time_s"].where(same)
    rows["ratio"] = rows["time_s"] / rows["previous_time_s"]
    has_ci = same & rows["ci_low"].notna().to_numpy() & prev["ci_high"].notna().to_numpy()
    separated_up = np.where(has_ci, prev["ci_high"].to_numpy() < rows["ci_low"].to_numpy(), True)
    separated_down = np.where(has_ci, rows["ci_high"].to_numpy() < prev["ci_low"].to_numpy(),
                              True)
    now, before = rows["samples"].to_numpy(), prev["samples"].to_numpy()
    up_every_round = np.array([_every_round(a, b) for a, b in zip(now, before, strict=True)],
                              dtype=bool)
    down_every_round = np.array([_every_round(b, a) for a, b in zip(now, before, strict=True)],
                                dtype=bool)
    rows["regression"] = same & (rows["ratio"] > 1 + threshold).to_numpy() & separated_up & \
        up_every_round
    rows["improvement"] = same & (rows["ratio"] < 1 / (1 + threshold)).to_numpy() & \
        separated_down & down_every_round
    return rows[cols]


def history_summary(hist: pd.DataFrame) -> pd.DataFrame:
    """Per machine, metric, variant, strategy and commit: the geometric mean time over regimes
    (for the history figure), and how many regimes regressed at that commit."""
    cols = ["machine", "device", "metric", "variant", "strategy", "commit", "date",
            "geomean_time_s", "regimes", "regressions"]
    if hist.empty:
        return pd.DataFrame(columns=cols)
    h = _plain(hist)
    h["log_t"] = np.log(h["time_s"])
    out = (h.groupby(["machine", "device", "metric", "variant", "strategy", "commit"],
                     sort=False)
           .agg(date=("date", "first"), log_t=("log_t", "mean"), regimes=("time_s", "size"),
                regressions=("regression", "sum"))
           .reset_index())
    out["geomean_time_s"] = np.exp(out.pop("log_t"))
    return out.sort_values(["machine", "device", "metric", "variant", "strategy", "date"])[cols]
