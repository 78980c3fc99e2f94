"""Paired ratios -> the Compare grid. Pure functions: DataFrame in, DataFrame out.

``ratios.Paired*`` hold each strategy's time over the baseline's, per round in one process, with
a 99% interval; the baseline's own row is its A/A (the resolution). Joined with the error of the
same machine, commit, regime and strategy and decided by the library's rules (``recommend``,
``compare.Interval``): *correct* = error within the dtype's tolerance on that regime (not measured
is not correct); *safe* = correct on every condition of ``birnn-bench check`` (only a safe
strategy is recommended); *fastest correct* = lowest ratio among the correct (safe or not: a †);
*tied with the fastest* = correct and interval overlapping the fastest one's; *recommended* = a
safe strategy significantly faster than the baseline, else the baseline; *tied with the
recommended* = safe, correct, interval overlapping the recommended one's (what the pages mark ≈);
*floor* = lowest ratio."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import pandas as pd

from benchmarks.regimes import Regime
from birnn_bench.compare import Interval, verdict
from birnn_bench.oracle import tolerance
from birnn_bench.recommend import Ranked, choose
from birnn_bench.strategies import BASELINE, STRATEGIES
from birnn_bench.workload import DTYPES, fill

MODES = {"ratios.PairedForward": "forward", "ratios.PairedTrainStep": "train_step"}
MODE_LABELS = {"forward": "inference (forward)", "train_step": "training step"}
#: The regime's columns (the fields of its id: ``benchmarks.regimes.Regime``).
REGIME_COLUMNS = list(Regime.FIELDS)
#: THE order of regimes in every table and figure: device, cell, layers, then length, batch, then
#: any other field in the id's order.
_ORDER_FIRST = ["device", "cell", "layers", "max_len", "batch", "lengths", "hidden", "dtype"]
REGIME_ORDER = [*_ORDER_FIRST, *(name for name in Regime.FIELDS if name not in _ORDER_FIRST)]
GROUP = ["machine", "device_name", "mode", "regime"]
ERROR_METRIC = "track_max_abs_error"
#: ``strategies.Correctness``: conditions of the matrix failed, and checked.
MATRIX_METRICS = ("track_conditions_failed", "track_conditions_checked")


def matrix_summary(df: pd.DataFrame) -> tuple[dict[str, dict], str] | None:
    """The correctness matrix's verdicts the results carry (``strategies.Correctness``): per
    strategy ``{"passed", "total"}`` as ``birnn-bench check --json``'s summary, from the newest
    commit of each machine (a strategy counts as passing only where every machine says so), and
    where they come from; None when no results carry them."""
    rows = df[df["metric"].astype(str).isin(list(MATRIX_METRICS)) & df["value"].notna()]
    if rows.empty:
        return None
    rows = latest(rows.astype({"machine": str, "strategy": str, "metric": str}))
    wide = rows.pivot_table(index=["machine", "strategy"], columns="metric", values="value",
                            aggfunc="first").reindex(columns=list(MATRIX_METRICS)).dropna()
    if wide.empty:
        return None
    summary: dict[str, dict] = {}
    for (_, name), row in wide.iterrows():
        failed, total = int(row[MATRIX_METRICS[0]]), int(row[MATRIX_METRICS[1]])
        mine = summary.setdefault(str(name), {"passed": total - failed, "total": total})
        if (mine["passed"], mine["total"]) != (total - failed, total):  # machines disagree
            mine["passed"] = min(mine["passed"], total - failed) if total == mine["total"] else 0
    where = ", ".join(f"{m} at {c[:8]}" for m, c in
                      rows[["machine", "commit"]].drop_duplicates().itertuples(index=False))
    return summary, f"the results (strategies.Correctness: {where})"


def in_regime_order(frame: pd.DataFrame, first: Sequence[str] = (),
                    then: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` sorted by ``first``, the regime (``REGIME_ORDER``, the columns it has), then
    ``then``: the one order of regimes every table and figure shows."""
    keys = [*first, *[c for c in REGIME_ORDER if c in frame.columns and c not in first], *then]
    return frame.sort_values(keys, kind="stable") if keys and not frame.empty else frame


def strategy_order(names: Iterable[str]) -> list[str]:
    """Registry order (the thread's), unknown names last."""
    names = list(dict.fromkeys(names))
    known = [n for n in STRATEGIES if n in names]
    return known + sorted(n for n in names if n not in STRATEGIES)


def regime_label(row: pd.Series | dict) -> str:
    """``lstm 2L B64 T128 H128 skewed`` (+ the dtype when it is not float32)."""
    label = (f"{row['cell']} {int(row['layers'])}L B{int(row['batch'])} T{int(row['max_len'])} "
             f"H{int(row['hidden'])} {row['lengths']}")
    return label if row["dtype"] == "float32" else f"{label} {row['dtype']}"


def ratios(df: pd.DataFrame) -> pd.DataFrame:
    """One row per machine, commit, mode, regime and strategy: ``ratio``, ``low``, ``high``."""
    rows = df[df["kind"].astype(str) == "ratio"].copy()
    columns = ["machine", "device_name", "commit", "date", "mode", "regime",
               *REGIME_COLUMNS, "strategy", "ratio", "low", "high"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    benchmark = rows["benchmark"].astype(str)
    rows["mode"] = benchmark.str.rsplit(".", n=1).str[0].map(MODES)
    rows["which"] = benchmark.str.extract(r"track_time_ratio(_low|_high)?$")[0].fillna("")
    rows = rows[rows["mode"].notna()]
    keys = columns[:-3]  # all but ratio, low, high
    rows = rows.astype({c: object for c in keys if isinstance(rows[c].dtype, pd.CategoricalDtype)})
    # groupby + unstack, not pivot_table: its dropna=False (needed to keep keys that are NaN,
    # e.g. an unknown device name) builds the product of every key's values, 27 s on two machines.
    wide = rows.groupby([*keys, "which"], dropna=False, sort=False)["value"].first() \
        .unstack("which").reset_index()
    wide.columns.name = None
    wide = wide.reindex(columns=[*keys, "", "_low", "_high"]).rename(
        columns={"": "ratio", "_low": "low", "_high": "high"}).dropna(subset=columns[-3:])
    # low <= ratio <= high holds: the loader left out (and reported) every point where not.
    return wide[columns].reset_index(drop=True)


def latest(frame: pd.DataFrame) -> pd.DataFrame:
    """Each machine's most recent commit (by commit date) that has rows."""
    if frame.empty:
        return frame
    newest = frame.groupby("machine", observed=True)["date"].transform("max")
    return frame[frame["date"] == newest].reset_index(drop=True)


def errors(df: pd.DataFrame) -> pd.DataFrame:
    """machine, commit, regime, strategy -> ``error`` and ``correct`` (against the tolerance of
    the regime's dtype, ``birnn_bench.oracle``)."""
    rows = df[(df["metric"].astype(str) == ERROR_METRIC) & df["regime"].notna()]
    keys = ["machine", "commit", "regime", "strategy"]
    out = rows[[*keys, "dtype", "value"]].astype(dict.fromkeys([*keys, "dtype"], object))
    out = out.rename(columns={"value": "error"})
    out["correct"] = [bool(e <= tolerance(DTYPES[d]))
                      for e, d in zip(out["error"], out["dtype"], strict=True)]
    return out.drop(columns="dtype").drop_duplicates(keys, keep="last")


def grid(df: pd.DataFrame, safe: Collection[str], baseline: str = BASELINE) -> pd.DataFrame:
    """The Compare grid, long form: the latest paired ratios of every machine with
    ``error``, ``correct``, ``safe``, ``verdict`` (against the baseline; "A/A" for its own row,
    whose ratio is 1 and whose measured A/A is in ``aa_ratio``, ``aa_low``, ``aa_high``) and the
    flags ``fastest_correct``, ``tied_with_fastest``, ``recommended``, ``floor``."""
    found = latest(ratios(df))
    if found.empty:
        return found.assign(error=[], correct=[], safe=[], aa_ratio=[], aa_low=[], aa_high=[],
                            resolved=[], verdict=[], fastest_correct=[],
                            tied_with_fastest=[], recommended=[], tied_with_recommended=[],
                            floor=[])
    found = found.merge(errors(df), on=["machine", "commit", "regime", "strategy"], how="left")
    found["correct"] = found["correct"].fillna(False).astype(bool)
    found["safe"] = found["strategy"].isin(list(safe))
    # The baseline's row holds its A/A (the resolution): kept as aa_*; as a strategy it IS the
    # reference, 1 by definition, and is ranked as such (a noisy A/A of 0.85 is no speed-up).
    is_base = found["strategy"] == baseline
    for column in ("ratio", "low", "high"):
        found["aa_" + column] = found[column].where(is_base)
        found.loc[is_base, column] = 1.0
    parts = [_decide(group, baseline) for _, group in found.groupby(GROUP, sort=False)]
    out = pd.concat(parts, ignore_index=True)
    out["_order"] = out["strategy"].map({name: i for i, name in enumerate(STRATEGIES)})
    return in_regime_order(out, GROUP[:3], ["_order"]).drop(columns="_order") \
        .reset_index(drop=True)


def _decide(group: pd.DataFrame, baseline: str) -> pd.DataFrame:
    group = group.copy()
    aa = group[group["strategy"] == baseline]
    resolution = (Interval(*aa[["aa_ratio", "aa_low", "aa_high"]].iloc[0].astype(float))
                  if not aa.empty else None)
    group["resolved"] = resolution is not None and resolution.resolves
    group["verdict"] = [
        "A/A" if name == baseline else verdict(Interval(r, lo, hi), resolution)
        for name, r, lo, hi in zip(group["strategy"], group["ratio"], group["low"],
                                   group["high"], strict=True)]
    correct = group[group["correct"]]
    fastest = correct.loc[correct["ratio"].idxmin()] if not correct.empty else None
    group["fastest_correct"] = group["tied_with_fastest"] = False
    if fastest is not None:
        group.loc[fastest.name, "fastest_correct"] = True
        group["tied_with_fastest"] = group["correct"] & (group["low"] <= fastest["high"]) \
            & (group["high"] >= fastest["low"]) & ~group["fastest_correct"]
    ranked = [Ranked(strategy=row.strategy, correct=bool(row.correct),
                     safe=bool(row.safe and row.correct), max_abs_error=float("nan"),
                     ratio=Interval(row.ratio, row.low, row.high), verdict=row.verdict)
              for row in group.itertuples()]
    chosen = choose(ranked, baseline) if any(r.safe for r in ranked) else None
    group["recommended"] = group["strategy"] == chosen
    # The safe alternatives as good as the recommendation (intervals overlap its own; the
    # baseline's is [1, 1]): what the grid marks with ≈.
    pick = group[group["recommended"]]
    group["tied_with_recommended"] = False
    if not pick.empty:
        low, high = float(pick["low"].iloc[0]), float(pick["high"].iloc[0])
        group["tied_with_recommended"] = (group["safe"] & group["correct"]
                                          & ~group["recommended"] & (group["low"] <= high)
                                          & (group["high"] >= low))
    group["floor"] = group.index == group["ratio"].idxmin()
    return group


def recommendations(g: pd.DataFrame) -> pd.DataFrame:
    """One row per machine, mode and regime: the recommendation with its ratio and interval,
    the fastest correct (``fastest_safe`` False: not a safe default), the floor and whether it
    is correct here, and the A/A resolution."""
    nan = float("nan")
    absent = {"strategy": None, "ratio": nan, "low": nan, "high": nan, "verdict": "",
              "safe": False, "aa_low": nan, "aa_high": nan}
    rows = []
    for keys, group in g.groupby(GROUP, sort=False):
        first = group.iloc[0]
        best, top, aa = (picked.iloc[0] if not picked.empty else absent for picked in (
            group[group["recommended"]], group[group["fastest_correct"]],
            group[group["verdict"] == "A/A"]))
        floor = group[group["floor"]].iloc[0]
        row = dict(zip(GROUP, keys, strict=True))
        row.update({c: first[c] for c in ("commit", *REGIME_COLUMNS)}, label=regime_label(first))
        row.update(recommended=best["strategy"], ratio=best["ratio"], low=best["low"],
                   high=best["high"], verdict=best["verdict"], fastest_correct=top["strategy"],
                   fastest_ratio=top["ratio"], fastest_safe=bool(top["safe"]),
                   floor=floor["strategy"], floor_ratio=floor["ratio"],
                   floor_correct=bool(floor["correct"]), floor_safe=bool(floor["safe"]),
                   aa_low=aa["aa_low"], aa_high=aa["aa_high"], resolved=bool(first["resolved"]))
        rows.append(row)
    return pd.DataFrame(rows)


#: The strategy whose time is the fused padded call (a plain call over every padded step).
PADDED_CALL = "hn_padded"


def limits(g: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per machine, mode and regime with padding: the limit of a correct strategy, a fused call
    over the real tokens only, estimated as the padded call's ratio (``PADDED_CALL``, timed in
    the same rounds) times the batch's fill (``workload.fill``); the fastest safe strategy
    correct there, and how far it is from the limit (``gap`` = its ratio / the limit)."""
    cols = ["machine", "device_name", "commit", "mode", "regime", "label", "fill", "padded",
            "limit", "best", "best_ratio", "gap"]
    if g.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (machine, device, mode, regime), group in g.groupby(GROUP, sort=False):
        first = group.iloc[0]
        padded = group[group["strategy"] == PADDED_CALL]
        safe = group[group["safe"] & group["correct"]]
        if str(first["lengths"]) == "equal" or padded.empty or safe.empty:
            continue
        share = fill(str(first["lengths"]), int(first["batch"]), int(first["max_len"]))
        best = safe.loc[safe["ratio"].idxmin()]
        limit = float(padded["ratio"].iloc[0]) * share
        rows.append({"machine": machine, "device_name": device, "commit": first["commit"],
                     "mode": mode, "regime": regime, "label": regime_label(first),
                     "fill": share, "padded": float(padded["ratio"].iloc[0]), "limit": limit,
                     "best": best["strategy"], "best_ratio": float(best["ratio"]),
                     "gap": float(best["ratio"]) / limit})
    return pd.DataFrame(rows, columns=cols)
