"""The answer, stated: per machine (its name and hardware), device, mode and cell, the
recommended strategy with its ratio and 99% interval in one line, split by the regime axes where
the recommendation changes; whether the machines agree; and where their ratios differ by more
than their resolution. Pure: the Compare grid (``analysis.model.paired.grid``) in, DataFrames out;
the line texts are Markdown (backticks, bold) that the pages convert."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping

import pandas as pd

from analysis.model import numbers as num
from analysis.model.paired import MODE_LABELS, in_regime_order, regime_label
from birnn_bench.compare import RESOLVED, Interval, change
from birnn_bench.strategies import BASELINE

#: The regime axes within a cell, in the order a split by them is tried and written.
AXES = ("layers", "batch", "max_len", "lengths", "hidden", "dtype")
_AXIS_TEXT = {"layers": "{}L", "batch": "B{}", "max_len": "T{}", "hidden": "H{}",
              "lengths": "{} lengths", "dtype": "{}"}
LINE_KEYS = ["machine", "hardware", "device", "device_name", "mode", "cell"]
#: The hardware facts that explain a difference between machines, as the table names them.
FACTS = {"cpu": "CPU model", "num_cpu": "cores", "cpu_capability": "CPU capability",
         "onednn": "oneDNN", "gpu": "GPU"}
NOT_RECORDED = "not recorded"


def with_hardware(g: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """The grid with ``hardware`` (readable) and ``facts`` (JSON) of the results file each
    machine's grid comes from (the loader's columns; blank where the frame has none)."""
    if g.empty:
        return g.assign(hardware=pd.Series(dtype=object), facts=pd.Series(dtype=object))
    if "hardware" not in df.columns:
        return g.assign(hardware="", facts="{}")
    facts = df["facts"] if "facts" in df.columns else pd.Series("{}", index=df.index)
    files = pd.DataFrame({"machine": df["machine"].astype(str), "commit": df["commit"].astype(str),
                          "hardware": df["hardware"].astype(str), "facts": facts.astype(str)})
    files = files.drop_duplicates(["machine", "commit"])
    out = g.drop(columns=["hardware", "facts"], errors="ignore").astype(
        {"machine": str, "commit": str}).merge(files, on=["machine", "commit"], how="left")
    return out.fillna({"hardware": "", "facts": "{}"})


def split_axes(recs: pd.DataFrame) -> list[str]:
    """The fewest regime axes (``AXES``) within which ``recs`` (one row per regime, column
    ``recommended``) recommend one strategy each: [] when the answer does not change."""
    axes = [a for a in AXES if a in recs.columns and recs[a].nunique() > 1]
    picked = recs["recommended"].fillna("")
    for size in range(len(axes) + 1):
        for combo in itertools.combinations(axes, size):
            if not combo:
                if picked.nunique() <= 1:
                    return []
                continue
            if (picked.groupby([recs[a] for a in combo]).nunique() <= 1).all():
                return list(combo)
    return axes


def _where(values: Mapping[str, object]) -> str:
    return " ".join(_AXIS_TEXT[a].format(v) for a, v in values.items())


def _range(low: float, high: float) -> str:
    return num.ratio(low) if num.ratio(low) == num.ratio(high) else \
        f"{num.ratio(low)[:-1]}–{num.ratio(high)}"


def _names(names: pd.Series) -> str:
    return "/".join(f"`{n}`" for n in dict.fromkeys(names.dropna()))


def clauses(g: pd.DataFrame) -> pd.DataFrame:
    """One row per machine, device, mode, cell and part of the cell where the recommendation is
    one strategy (``where``: the values of ``split_axes``, "" for the whole cell): the strategy,
    its regimes, the range of its ratio and of its 99% interval, how many regimes could not be
    decided (``unresolved``), and, where it is the baseline, the next safe strategy's range."""
    gh = g if "hardware" in g.columns else g.assign(hardware="")
    cols = [*LINE_KEYS, "commit", "where", "strategy", "regimes", "of", "ratio_min", "ratio_max",
            "low", "high", "unresolved", "next", "next_min", "next_max"]
    if gh.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for keys, cell in gh.groupby(LINE_KEYS, sort=False):
        per_regime = []
        for _, r in in_regime_order(cell).groupby("regime", sort=False):
            pick = r[r["recommended"]]
            others = r[r["safe"] & r["correct"] & ~r["recommended"]
                       & (r["strategy"] != BASELINE)].sort_values("ratio")
            first = r.iloc[0]
            per_regime.append({**{a: first[a] for a in AXES},
                               "recommended": pick["strategy"].iloc[0] if not pick.empty
                               else None,
                               "ratio": pick["ratio"].iloc[0] if not pick.empty else None,
                               "low": pick["low"].iloc[0] if not pick.empty else None,
                               "high": pick["high"].iloc[0] if not pick.empty else None,
                               "resolved": bool(first["resolved"]),
                               "next": others["strategy"].iloc[0] if not others.empty else None,
                               "next_ratio": others["ratio"].iloc[0] if not others.empty
                               else None})
        regimes = pd.DataFrame(per_regime)
        axes = split_axes(regimes)
        parts = regimes.groupby(axes, sort=False) if axes else [((), regimes)]
        for values, part in parts:
            values = values if isinstance(values, tuple) else (values,)
            name = part["recommended"].iloc[0]
            rows.append({**dict(zip(LINE_KEYS, keys, strict=True)),
                         "commit": str(cell["commit"].iloc[0]),
                         "where": _where(dict(zip(axes, values, strict=True))),
                         "strategy": name, "regimes": len(part), "of": len(regimes),
                         "ratio_min": part["ratio"].min(), "ratio_max": part["ratio"].max(),
                         "low": part["low"].min(), "high": part["high"].max(),
                         "unresolved": int((~part["resolved"]).sum()),
                         "next": _names(part["next"]),
                         "next_min": part["next_ratio"].min(),
                         "next_max": part["next_ratio"].max()})
    return pd.DataFrame(rows, columns=cols)


def clause_text(c: pd.Series | Mapping) -> str:
    """One clause of an answer line (Markdown)."""
    where = f"{c['where']}: " if c["where"] else ""
    count = f"{c['regimes']}/{c['of']} regimes" if not c["where"] else \
        f"{c['regimes']} regime{'s' if c['regimes'] != 1 else ''}"
    unresolved = int(c["unresolved"])
    if not isinstance(c["strategy"], str):
        return f"{where}none: no safe strategy measured correct ({count})"
    if c["strategy"] != BASELINE:
        interval = num.interval(c["low"], c["high"])
        span = (f"{num.ratio(c['ratio_min'])} {interval}" if c["regimes"] == 1 else
                f"{_range(c['ratio_min'], c['ratio_max'])} (99% intervals within {interval})")
        return f"{where}**`{c['strategy']}`** {span} of `{BASELINE}`'s time, {count}"
    text = f"{where}**`{BASELINE}`**, {count}"
    decided = c["regimes"] - unresolved
    if unresolved == c["regimes"]:
        return text + (f": unresolved (the regime's A/A reaching beyond "
                       f"1 ± {RESOLVED:.0%} or significant), the safe default")
    if c["next"]:
        text += (f": the next safe strategy, {c['next']}, takes "
                 f"{_range(c['next_min'], c['next_max'])} its time")
    if unresolved:
        text += (f"; {unresolved} of them unresolved (A/A reaching beyond 1 ± {RESOLVED:.0%} "
                 f"or significant), {decided} decided")
    return text


def lines(g: pd.DataFrame) -> pd.DataFrame:
    """The answer: one row per machine (name and hardware), device, mode and cell with its
    ``text`` (Markdown: the cell and mode, then one clause per part of the cell where the
    recommendation is one strategy) and ``strategies`` (the recommended names, ";"-joined)."""
    parts = clauses(g)
    cols = [*LINE_KEYS, "commit", "strategies", "text"]
    if parts.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for keys, mine in parts.groupby(LINE_KEYS, sort=False):
        row = dict(zip(LINE_KEYS, keys, strict=True))
        rows.append({**row, "commit": mine["commit"].iloc[0],
                     "strategies": ";".join(dict.fromkeys(
                         s for s in mine["strategy"] if isinstance(s, str))),
                     "text": f"**{row['cell']}**, {MODE_LABELS.get(row['mode'], row['mode'])}: "
                             + "; ".join(clause_text(c) for _, c in mine.iterrows())})
    out = pd.DataFrame(rows, columns=cols)
    order = {m: i for i, m in enumerate(MODE_LABELS)}
    return out.assign(_m=out["mode"].map(order)).sort_values(
        ["machine", "hardware", "device", "_m", "cell"], kind="stable").drop(columns="_m") \
        .reset_index(drop=True)


def agreement(g: pd.DataFrame) -> str:
    """One sentence: do the machines recommend the same strategy on the regimes (and modes)
    they share? (One machine: nothing to compare.)"""
    if g.empty:
        return ""
    gh = g if "hardware" in g.columns else g.assign(hardware="")
    picks = gh[gh["recommended"]]
    who = gh[["machine", "hardware"]].drop_duplicates()
    if len(who) < 2:
        return "One machine measured: nothing to compare across machines yet."
    wide = picks.assign(kind=picks["device"].astype(str)).pivot_table(
        index=["kind", "mode", "regime"], columns=["machine", "hardware"], values="strategy",
        aggfunc="first")
    shared = wide.dropna()
    if shared.empty:
        return (f"The {len(who)} machines share no regime (device, mode and workload): "
                "nothing to compare.")
    same = shared.nunique(axis=1) == 1
    names = ", ".join(f"`{m}`" for m in who["machine"])
    if same.all():
        return (f"The {len(who)} machines ({names}) agree on all {len(shared)} recommendations "
                "they share (same device, mode and regime).")
    differ = shared[~same]
    labels = {r["regime"]: regime_label(r) for r in picks.to_dict("records")}
    listed = "; ".join(
        f"{MODE_LABELS.get(mode, mode)} {labels[regime]}: " + ", ".join(
            f"`{row[(m, h)]}` on {m}" for m, h in differ.columns)
        for (kind, mode, regime), row in differ.head(12).iterrows())
    more = f" (and {len(differ) - 12} more)" if len(differ) > 12 else ""
    return (f"The {len(who)} machines ({names}) agree on {int(same.sum())} of the "
            f"{len(shared)} recommendations they share; they differ on {listed}{more}.")


def differences(g: pd.DataFrame, tolerance: Mapping[str, float] | None = None,
                baseline: str = BASELINE) -> pd.DataFrame:
    """The cells (device, mode, regime, strategy) two machines both measured correct whose
    ratios differ by more than their resolution: the quotient's conservative 99% interval
    (``compare.change``) beyond 1 +- the larger of the two regimes' A/A reaches (how far each
    A/A's farther bound lies from 1, ``Interval.off_one``) and the process-level A/A of the
    mode (``tolerance``). Wide: one ``ratio`` column per machine
    (``machine: ratio [low, high]``), ``apart`` = largest over smallest ratio; widest first."""
    cols = ["mode", "regime", "label", "strategy", "apart"]
    gh = g if "hardware" in g.columns else g.assign(hardware="")
    if gh.empty or gh[["machine", "hardware"]].drop_duplicates().shape[0] < 2:
        return pd.DataFrame(columns=cols)
    rows = gh[(gh["strategy"] != baseline) & gh["correct"]].copy()
    aa = gh[gh["strategy"] == baseline].set_index(["machine", "mode", "regime"])
    reach = {key: Interval(1.0, low, high).off_one
             for key, low, high in zip(aa.index, aa["aa_low"], aa["aa_high"], strict=True)}
    found = []
    for (mode, regime, strategy), same in rows.groupby(["mode", "regime", "strategy"],
                                                       sort=False):
        if same["machine"].nunique() < 2:
            continue
        points = list(same.itertuples())
        slack = (tolerance or {}).get(mode, 0.0)
        apart = any(
            change(Interval(a.ratio, a.low, a.high), Interval(b.ratio, b.low, b.high),
                   max(slack, reach.get((a.machine, mode, regime), 0.0),
                       reach.get((b.machine, mode, regime), 0.0))) != "tied"
            for a, b in itertools.combinations(points, 2))
        if not apart:
            continue
        row = {"mode": mode, "regime": regime, "label": regime_label(points[0]._asdict()),
               "strategy": strategy, "apart": same["ratio"].max() / same["ratio"].min()}
        row.update({p.machine: num.ratio_interval(p.ratio, p.low, p.high) for p in points})
        found.append(row)
    if not found:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(found).sort_values("apart", ascending=False, kind="stable") \
        .reset_index(drop=True)


def hardware_facts(gh: pd.DataFrame) -> pd.DataFrame:
    """Per machine of the grid (``with_hardware``): the recorded facts that change the answer
    (``FACTS``), "not recorded" where its results files do not say."""
    if gh.empty or "facts" not in gh.columns:
        return pd.DataFrame(columns=["machine", *FACTS.values()])
    rows = []
    for machine, facts in gh[["machine", "facts"]].drop_duplicates("machine").itertuples(
            index=False):
        try:
            known = json.loads(facts) if isinstance(facts, str) else {}
        except ValueError:
            known = {}
        rows.append({"machine": machine, **{label: str(known.get(key) or NOT_RECORDED)
                                            for key, label in FACTS.items()}})
    return pd.DataFrame(rows)
