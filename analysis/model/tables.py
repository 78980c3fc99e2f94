"""The report's tables: the loaded tidy frame (or the Compare grid) in, DataFrames out (pure).
Every ratio between strategies is the paired one (``analysis.model.paired``), never absolute times
taken in different processes. Each machine's tables use, per benchmark, its newest results."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.load.tidy import plain
from analysis.model.paired import REGIME_COLUMNS, in_regime_order, regime_label, strategy_order
from birnn_bench.compare import Interval, verdict
from birnn_bench.oracle import TOLERANCES
from birnn_bench.strategies import BASELINE, STRATEGIES
from birnn_bench.workload import DTYPES

DEVICE = ["machine", "device_name", "device"]
PEAK, OPS = "track_peak_bytes", "track_ops"
COMPILED, COMPILE_SECONDS, COMPILED_ERROR = ("time_forward_compiled", "track_compile_seconds",
                                             "track_compiled_error")


#: The report's sections, each with the series it is drawn from.
SECTIONS = (("ratios.PairedForward.track_time_ratio", "inference grid (paired ratios, forward)"),
            ("ratios.PairedTrainStep.track_time_ratio", "training-step grid (paired ratios)"),
            ("strategies.Error.track_max_abs_error", "correctness"),
            (f"strategies.PeakMemory.{PEAK}", "memory"), (f"profiles.Profiles.{OPS}", "op counts"))


def tolerance_of(dtype: str) -> float:
    """The oracle's tolerance for a dtype name; NaN for one it has none for."""
    return float(TOLERANCES.get(DTYPES.get(str(dtype)), np.nan))  # type: ignore[arg-type]


def latest(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine and benchmark, the rows of the newest results file (by commit date, then
    file name) that has a measured point of that benchmark: a partial run on a newer commit
    does not hide an older complete one."""
    measured = plain(df.loc[df["value"].notna(), ["machine", "benchmark", "file", "date"]])
    files = measured.drop_duplicates(["machine", "benchmark", "file"])
    chosen = files.sort_values(["date", "file"], na_position="first").groupby(
        ["machine", "benchmark"]).tail(1)
    keep = pd.MultiIndex.from_frame(chosen[["benchmark", "file"]].astype(str))
    mine = pd.MultiIndex.from_arrays([df["benchmark"].astype(str), df["file"].astype(str)])
    return df[mine.isin(keep)]


def _metric(df: pd.DataFrame, *metrics: str) -> pd.DataFrame:
    rows = df[df["metric"].astype(str).isin(metrics) & df["value"].notna() & df["regime"].notna()]
    return plain(latest(rows))


def correctness(df: pd.DataFrame) -> pd.DataFrame:
    """One verdict per machine, regime and strategy from the error benchmark (not measured is
    absent, never a verdict)."""
    cols = [*DEVICE, *[c for c in REGIME_COLUMNS if c != "device"], "regime", "label",
            "strategy", "error", "tolerance", "correct", "commit"]
    rows = _metric(df, "track_max_abs_error")
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = rows.rename(columns={"value": "error"})
    out["tolerance"] = out["dtype"].map(tolerance_of).astype(float)
    out["correct"] = (out["error"] <= out["tolerance"]) & out["tolerance"].notna()
    out["label"] = [regime_label(r) for r in out[REGIME_COLUMNS].to_dict("records")]
    return in_regime_order(out[cols], DEVICE, ["strategy"]).reset_index(drop=True)


def correctness_grid(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per machine and device: rows regimes, columns strategies, cells "right" / "WRONG" with
    the error over the tolerance (e.g. "WRONG 2e+03")."""
    if verdicts.empty:
        return pd.DataFrame()
    cell = [("right" if ok else "WRONG") + f" {err / tol:.1g}"
            for ok, err, tol in zip(verdicts["correct"], verdicts["error"],
                                    verdicts["tolerance"], strict=True)]
    wide = verdicts.assign(cell=cell).pivot_table(
        index=["machine", "device_name", "device", "label"], columns="strategy", values="cell",
        aggfunc="first", sort=False)
    wide = wide.reindex(columns=strategy_order(verdicts["strategy"]))
    wide.columns.name = None
    return wide.reset_index()


def strategy_summary(g: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per machine, device, mode and strategy: in how many regimes of the grid it is correct,
    fastest correct or tied, recommended; and the geometric mean of its paired ratio over the
    regimes where BOTH it and the baseline are correct (with that count)."""
    cols = [*DEVICE, "mode", "strategy", "regimes", "correct", "fastest or tied",
            "recommended", "ratio_geomean", "geomean_over"]
    if g.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for keys, group in g.groupby([*DEVICE, "mode"], sort=True):
        base_ok = set(group.loc[(group["strategy"] == baseline) & group["correct"], "regime"])
        n = group["regime"].nunique()
        for name in [s for s in STRATEGIES if s in set(group["strategy"])]:
            mine = group[group["strategy"] == name]
            both = mine[mine["correct"] & mine["regime"].isin(base_ok) & (mine["ratio"] > 0)]
            rows.append({**dict(zip([*DEVICE, "mode"], keys, strict=True)), "strategy": name,
                         "regimes": n, "correct": int(mine["correct"].sum()),
                         "fastest or tied": int((mine["fastest_correct"]
                                                 | mine["tied_with_fastest"]).sum()),
                         "recommended": int(mine["recommended"].sum()),
                         "ratio_geomean": float(np.exp(np.log(both["ratio"]).mean()))
                         if len(both) else np.nan,
                         "geomean_over": len(both)})
    return pd.DataFrame(rows, columns=cols)


def over_baseline(rows: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """``rows`` (one value per machine, regime and strategy) with ``baseline_value``, the
    baseline's value on the SAME machine and regime, and ``relative`` = value over it."""
    base = rows.loc[rows["strategy"] == baseline, ["machine", "regime", "value"]]
    out = rows.merge(base.rename(columns={"value": "baseline_value"}), on=["machine", "regime"],
                     how="left")
    return out.assign(relative=out["value"] / out["baseline_value"])


def relative(df: pd.DataFrame, metric: str, verdicts: pd.DataFrame,
             baseline: str = BASELINE) -> pd.DataFrame:
    """One deterministic metric (``track_peak_bytes``, ``track_ops``) per machine, regime and
    strategy over the baseline's on the SAME regime, with the strategy's verdict there (False
    where not measured)."""
    cols = [*DEVICE, "regime", "label", "strategy", "value", "baseline_value", "relative",
            "correct", "commit"]
    rows = _metric(df, metric)
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = over_baseline(rows, baseline)
    out["label"] = [regime_label(r) for r in out[REGIME_COLUMNS].to_dict("records")]
    out = out.merge(verdicts[["machine", "regime", "strategy", "correct"]],
                    on=["machine", "regime", "strategy"], how="left")
    out["correct"] = out["correct"].astype("boolean").fillna(False).astype(bool)
    return in_regime_order(out, DEVICE)[cols].reset_index(drop=True)


def compiled(df: pd.DataFrame) -> pd.DataFrame:
    """``torch.compile`` against eager (``compiled.Compiled``) of the newest runs: asv's medians
    (separate processes), ratio = compiled / eager with the conservative interval of asv's two
    99% intervals, its verdict by the one rule (unpaired: "unresolved"), the compile time and
    the compiled output's error."""
    cols = [*DEVICE, "regime", "label", "strategy", "eager_s", "compiled_s", "ratio", "low",
            "high", "verdict", "compile_s", "error", "correct", "commit"]
    if "compile" not in df.columns:
        return pd.DataFrame(columns=cols)
    rows = _metric(df, COMPILED, COMPILE_SECONDS, COMPILED_ERROR)
    keys = [*DEVICE, "regime", *[c for c in REGIME_COLUMNS if c != "device"], "strategy"]

    def side(metric: str, mode: str, names: dict[str, str]) -> pd.DataFrame:
        picked = rows[(rows["metric"] == metric) & (rows["compile"] == mode)]
        return picked[[*keys, *names]].rename(columns=names)

    eager = side(COMPILED, "eager", {"value": "eager_s", "ci_low": "e_low", "ci_high": "e_high"})
    fast = side(COMPILED, "compile", {"value": "compiled_s", "ci_low": "c_low",
                                      "ci_high": "c_high", "commit": "commit"})
    out = eager.merge(fast, on=keys, how="inner").reset_index(drop=True)
    if out.empty:
        return pd.DataFrame(columns=cols)
    # asv's interval of a time may reach 0 or infinity (too few samples): undecided, (0, inf)
    bounds = out[["e_low", "e_high", "c_low", "c_high"]].to_numpy(dtype=float)
    decided = np.isfinite(bounds).all(axis=1) & (bounds > 0).all(axis=1)
    out["ratio"] = out["compiled_s"] / out["eager_s"]
    out["low"] = (out["c_low"] / out["e_high"]).where(decided, 0.0)
    out["high"] = (out["c_high"] / out["e_low"]).where(decided, np.inf)
    # Separate processes, no A/A of their own: the one rule (compare.verdict) decides nothing
    # here; the interval is shown, the verdict says why it is not a decision.
    out["verdict"] = [verdict(Interval(r, lo, hi), None) if ok else "undecided"
                      for r, lo, hi, ok in zip(out["ratio"], out["low"], out["high"], decided,
                                               strict=True)]
    for metric, name in ((COMPILE_SECONDS, "compile_s"), (COMPILED_ERROR, "error")):
        out = out.merge(side(metric, "compile", {"value": name}), on=keys, how="left")
    out["correct"] = (out["error"] <= out["dtype"].map(tolerance_of)).fillna(False)
    out["label"] = [regime_label(r) for r in out[REGIME_COLUMNS].to_dict("records")]
    return in_regime_order(out, DEVICE)[cols].reset_index(drop=True)


NOT_RECORDED = "not recorded"


def _recorded(value: object) -> str:
    text = "" if value is None or pd.isna(value) else str(value)
    return NOT_RECORDED if text in ("", "unknown", "<NA>", "nan") else text


def environment(df: pd.DataFrame, shown: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per machine name AND hardware (a name that held two CPUs is two rows, flagged): GPU,
    python version, torch, CUDA, threads, the allocator, and the commits measured there, oldest
    first, each with how many benchmarks it measured; ``shown``: machine -> the commit its grid
    shows."""
    cols = ["machine", "hardware", "gpu", "python", "torch", "cuda", "threads", "allocator",
            "commits",
            "grid commit", "note"]
    measured = plain(df[df["value"].notna()])
    if measured.empty:
        return pd.DataFrame(columns=cols)
    if "hardware" not in measured.columns:
        measured = measured.assign(hardware=measured["cpu"])
    hardwares = measured.groupby("machine")["hardware"].nunique()
    rows = []
    for (machine, hardware), g in measured.groupby(["machine", "hardware"], sort=True):
        per_commit = g.groupby("commit", sort=False).agg(date=("date", "min"),
                                                         benchmarks=("benchmark", "nunique"))
        per_commit = per_commit.sort_values("date", kind="stable")
        grid_commit = (shown or {}).get(str(machine), "")
        # versions from the commit the grid shows, else the newest of the fullest runs (a
        # partial run, the instruction counts alone, records less)
        described = grid_commit if grid_commit in per_commit.index else \
            per_commit.sort_values(["benchmarks", "date"], kind="stable").index[-1]
        last = g[g["commit"] == described].iloc[-1]
        # the asv python/env name may spell the interpreter's path: 3.11.7 out of it
        python = re.search(r"\d+\.\d+(?:\.\d+)?", str(last["python"]))
        rows.append({
            "machine": machine, "hardware": hardware, "gpu": _recorded(last["gpu"]),
            "python": python.group(0) if python else NOT_RECORDED,
            "torch": _recorded(last["torch"]), "cuda": _recorded(last["cuda"]),
            "threads": _recorded(last["threads"]), "allocator": _recorded(last.get("allocator")),
            "commits": f"{len(per_commit)}: " + ", ".join(
                f"{str(c)[:8]} ({n})" for c, n in per_commit["benchmarks"].items()),
            "grid commit": str(grid_commit)[:8] if grid_commit in per_commit.index else "",
            "note": (f"one name, {hardwares[machine]} hardware: see Data problems"
                     if hardwares[machine] > 1 else "")})
    return pd.DataFrame(rows, columns=cols)


def grid_groups(g: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    """((machine, device_name, device, mode), rows) of the grid, sorted; forward before
    train_step."""
    groups = g.groupby([*DEVICE, "mode"], sort=False, observed=True) if not g.empty else []
    return sorted(groups, key=lambda kv: (*kv[0][:3], kv[0][3] != "forward", kv[0][3]))


def lost_sections(df: pd.DataFrame) -> list[str]:
    """Per machine, each section (``SECTIONS``) whose newest results file of its series has
    points but none usable, because the loader rejected them (``rejected``): what the report
    says where the section would otherwise vanish or quietly show older results."""
    notes = []
    for bench, label in SECTIONS:
        rows = plain(df.loc[df["benchmark"].astype(str) == bench,
                            ["machine", "commit", "date", "file", "value", "rejected"]])
        for machine, mine in rows.groupby("machine", sort=True):
            newest = mine.sort_values(["date", "file"], na_position="first")["file"].iloc[-1]
            last = mine[mine["file"] == newest]
            rejected = int(last["rejected"].sum())
            if last["value"].notna().any() or rejected == 0:
                continue
            how = (f"all {rejected} points rejected" if rejected == len(last) else
                   f"{rejected} of {len(last)} points rejected, the rest not measured")
            older = "older results shown" if mine["value"].notna().any() else "nothing shown"
            notes.append(f"{label} of {machine}, commit {str(last['commit'].iloc[0])[:8]}: "
                         f"{how}, see Data problems ({older})")
    return notes
