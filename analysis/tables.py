"""The report's tables: the loaded tidy frame (or the Compare grid) in, DataFrames out (pure).

Nothing here compares strategies by absolute times taken in different processes: every ratio
between strategies is the paired one (``analysis.paired``), shown per regime, or summarised
over the regimes where both strategies are correct and saying over how many. Each machine's
tables use, per benchmark, its newest results file with measured points.

* ``correctness``: per machine, regime and strategy, the error benchmark's verdict;
* ``strategy_summary``: per device, mode and strategy, what the grid says about it;
* ``relative``: a deterministic quantity (peak bytes, op counts) per regime over the baseline's;
* ``compiled``: torch.compile against eager (``compiled.Compiled``), unpaired and said so;
* ``environment``: machines, devices, versions and commits.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from analysis.paired import REGIME_COLUMNS, regime_label
from birnn_bench.compare import Interval
from birnn_bench.strategies import BASELINE, STRATEGIES

DEVICE = ["machine", "device_name", "device"]
ERROR, PEAK = "track_max_abs_error", "track_peak_bytes"
OPS = "track_ops"
COMPILED, COMPILE_SECONDS, COMPILED_ERROR = ("time_forward_compiled", "track_compile_seconds",
                                             "track_compiled_error")


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals -> plain values (merges between frames of different origins stay simple)."""
    return frame.astype({name: object for name in frame.columns
                         if isinstance(frame[name].dtype, pd.CategoricalDtype)})


def tolerance_of(dtype: str) -> float:
    """The oracle's tolerance for a dtype name; NaN for one it has none for."""
    from birnn_bench.oracle import TOLERANCES
    from birnn_bench.workload import DTYPES

    return float(TOLERANCES.get(DTYPES.get(str(dtype)), np.nan))  # type: ignore[arg-type]


def latest(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine and benchmark, the rows of the newest results file (by commit date, then
    file name) that has a measured point of that benchmark: a partial run on a newer commit
    does not hide an older complete one."""
    if df.empty:
        return df
    measured = plain(df.loc[df["value"].notna(), ["machine", "benchmark", "file", "date"]])
    files = measured.drop_duplicates(["machine", "benchmark", "file"])
    if files.empty:
        return df.iloc[:0]
    files = files.sort_values(["date", "file"], na_position="first")
    chosen = files.groupby(["machine", "benchmark"]).tail(1)
    keep = pd.MultiIndex.from_frame(chosen[["benchmark", "file"]].astype(str))
    mine = pd.MultiIndex.from_arrays([df["benchmark"].astype(str), df["file"].astype(str)])
    return df[mine.isin(keep)]


def _metric(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = df[(df["metric"].astype(str) == metric) & df["value"].notna() & df["regime"].notna()]
    return plain(latest(rows))


def correctness(df: pd.DataFrame) -> pd.DataFrame:
    """One verdict per machine, regime and strategy from the error benchmark: machine,
    device_name, the regime's columns, regime, label, strategy, error, tolerance, correct,
    commit. Not measured is absent (never a verdict)."""
    cols = [*DEVICE, *[c for c in REGIME_COLUMNS if c != "device"], "regime", "label",
            "strategy", "error", "tolerance", "correct", "commit"]
    rows = _metric(df, ERROR)
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = rows.rename(columns={"value": "error"})
    out["tolerance"] = out["dtype"].map(tolerance_of).astype(float)
    out["correct"] = (out["error"] <= out["tolerance"]) & out["tolerance"].notna()
    out["label"] = [regime_label(r) for r in out[REGIME_COLUMNS].to_dict("records")]
    return out[cols].reset_index(drop=True)


def correctness_grid(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per machine and device: rows regimes, columns strategies (registry order), cells
    "right" / "WRONG" with the error over the tolerance (e.g. "WRONG 2.3e+03× tol")."""
    if verdicts.empty:
        return pd.DataFrame()
    order = [n for n in STRATEGIES if n in set(verdicts["strategy"])] + sorted(
        set(verdicts["strategy"]) - set(STRATEGIES))
    cell = [("right" if ok else "WRONG") + f" {err / tol:.1g}× tol"
            for ok, err, tol in zip(verdicts["correct"], verdicts["error"],
                                    verdicts["tolerance"], strict=True)]
    wide = verdicts.assign(cell=cell).pivot_table(
        index=["machine", "device_name", "device", "label"], columns="strategy", values="cell",
        aggfunc="first", sort=False)
    wide = wide.reindex(columns=order)
    wide.columns.name = None
    return wide.reset_index()


def strategy_summary(g: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per machine, device, mode and strategy, over the regimes of the grid: in how many it is
    correct, the fastest correct or tied with it, recommended; and the geometric mean of its
    paired ratio over the regimes where BOTH it and the baseline are correct (with that count:
    never a mean over regimes where one of them is wrong)."""
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
    strategy over the baseline's on the SAME regime, with the strategy's verdict there.
    Columns: machine, device_name, device, regime, label, strategy, value, baseline_value,
    relative, correct (False where not measured), commit."""
    cols = [*DEVICE, "regime", "label", "strategy", "value", "baseline_value", "relative",
            "correct", "commit"]
    rows = _metric(df, metric)
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = over_baseline(rows, baseline)
    out["label"] = [regime_label(r) for r in out[REGIME_COLUMNS].to_dict("records")]
    ok = verdicts[["machine", "regime", "strategy", "correct"]] if not verdicts.empty else \
        pd.DataFrame(columns=["machine", "regime", "strategy", "correct"])
    out = out.merge(ok, on=["machine", "regime", "strategy"], how="left")
    out["correct"] = out["correct"].astype("boolean").fillna(False).astype(bool)
    return out[cols].reset_index(drop=True)


def compiled(df: pd.DataFrame) -> pd.DataFrame:
    """``torch.compile`` against eager (``compiled.Compiled``), per machine, regime and
    strategy of the newest runs: eager_s, compiled_s (asv's medians, separate processes),
    ratio = compiled / eager with the conservative interval of asv's two 99% intervals
    (``low`` = compiled low / eager high), verdict by ``Interval.verdict`` ("faster": the
    compiled module is faster), compile_s (first call), error of the compiled output against
    the oracle and correct (False where not measured)."""
    cols = [*DEVICE, "regime", "label", "strategy", "eager_s", "compiled_s", "ratio", "low",
            "high", "verdict", "compile_s", "error", "correct", "commit"]
    if "compile" not in df.columns:
        return pd.DataFrame(columns=cols)
    rows = plain(latest(df[df["metric"].astype(str).isin([COMPILED, COMPILE_SECONDS,
                                                          COMPILED_ERROR])
                           & df["value"].notna() & df["regime"].notna()]))
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
    out["ratio"] = out["compiled_s"] / out["eager_s"]
    out["low"] = out["c_low"] / out["e_high"]
    out["high"] = out["c_high"] / out["e_low"]
    # asv's interval of a time may reach 0 or infinity (too few samples): undecided, as the
    # engine writes it, (0, inf).
    bounds = out[["e_low", "e_high", "c_low", "c_high"]].to_numpy(dtype=float)
    decided = pd.Series(np.isfinite(bounds).all(axis=1) & (bounds > 0).all(axis=1),
                        index=out.index)
    out["low"] = out["low"].where(decided, 0.0)
    out["high"] = out["high"].where(decided, np.inf)
    out["verdict"] = [Interval(r, lo, hi).verdict if ok else "undecided" for r, lo, hi, ok in
                      zip(out["ratio"], out["low"], out["high"], decided, strict=True)]
    out = out.merge(side(COMPILE_SECONDS, "compile", {"value": "compile_s"}), on=keys,
                    how="left")
    out = out.merge(side(COMPILED_ERROR, "compile", {"value": "error"}), on=keys, how="left")
    out["correct"] = (out["error"] <= out["dtype"].map(tolerance_of)).fillna(False)
    out["label"] = [regime_label(r) for r in out[REGIME_COLUMNS].to_dict("records")]
    return out[cols]


def python_version(text: object) -> str:
    """``3.11.7`` out of an asv python/env name (which may spell the interpreter's path)."""
    found = re.search(r"(\d+\.\d+(?:\.\d+)?)", str(text))
    return found.group(1) if found else ""


def environment(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine: devices, CPU, GPU, python (version only: asv's env name spells the
    interpreter's path), torch, CUDA, cuDNN, threads, commits measured and their dates."""
    cols = ["machine", "devices", "cpu", "gpu", "python", "torch", "cuda", "cudnn", "threads",
            "commits", "first commit date", "last commit date", "last commit"]
    measured = plain(df[df["value"].notna()])
    if measured.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for machine, g in measured.groupby("machine", sort=True):
        last = g.loc[g["date"].idxmax()] if g["date"].notna().any() else g.iloc[-1]
        names = sorted({str(x) for x in g["device_name"].dropna()} - {"n/a (no CUDA device)"})
        rows.append({"machine": machine, "devices": ", ".join(names), "cpu": last["cpu"],
                     "gpu": last["gpu"], "python": python_version(last["python"]),
                     "torch": last["torch"], "cuda": last["cuda"], "cudnn": last["cudnn"],
                     "threads": last["threads"], "commits": g["commit"].nunique(),
                     "first commit date": g["date"].min(), "last commit date": g["date"].max(),
                     "last commit": str(last["commit"])[:8]})
    return pd.DataFrame(rows, columns=cols)


def modes_present(g: pd.DataFrame) -> list[tuple]:
    """(machine, device_name, device, mode) of the grid, sorted; forward before train_step."""
    if g.empty:
        return []
    keys = g[[*DEVICE, "mode"]].drop_duplicates().to_records(index=False).tolist()
    return sorted(keys, key=lambda k: (k[0], k[1], k[2], k[3] != "forward", k[3]))

