"""The findings' tables: loaded results and side inputs in, DataFrames and dicts out (pure).
:func:`build_findings` puts them together; ``render.findings_page`` writes the text. Every
speed statement comes from the paired ratios (``model.paired``), none from unpaired timings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.load.loaded import Loaded
from analysis.load.results import Problem
from analysis.load.tidy import plain
from analysis.model import claims as c
from analysis.model import paired
from analysis.model import resolution as res
from analysis.model.answer import with_hardware
from analysis.model.policy_rules import auto_policy
from analysis.model.tables import over_baseline
from birnn_bench.strategies import BASELINE

DEVICE_KEYS = ["machine", "device", "device_name"]
CONFIG = [*DEVICE_KEYS, *[k for k in paired.REGIME_COLUMNS if k != "device"]]
PEAK = "track_peak_bytes"
#: Exact counts per forward (``benchmarks/profiles.py``); kernels and syncs on CUDA only.
COUNTS = {"track_ops": "ATen ops", "track_kernels": "CUDA kernels",
          "track_host_syncs": "host syncs"}
#: The project's reproducibility target between two runs of the same code on one machine:
#: |ratio in one run / in the other - 1|, over regimes and strategies correct in both.
REPRODUCIBLE_MEDIAN, REPRODUCIBLE_MAX = 0.02, 0.05


def decided(g: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per machine, mode and regime of the grid: ``status`` "unresolved" (the regime's A/A could
    not tell: nothing decided), "faster" (a safe strategy, the ``winner``, significantly faster
    than the baseline), "baseline" (the baseline significantly faster than every other safe
    strategy measured correct) or "tied"."""
    keys = [*DEVICE_KEYS, "mode", "regime"]
    rows = []
    for values, group in g.groupby(keys, sort=False):
        ok = group[group["safe"] & group["correct"] & (group["strategy"] != baseline)]
        faster = group[group["recommended"] & (group["strategy"] != baseline)]
        if not group["resolved"].iloc[0]:
            status, winner = "unresolved", {"strategy": None, "low": None, "high": None}
        elif not faster.empty:
            status, winner = "faster", faster.iloc[0]
        elif not ok.empty and (ok["verdict"] == "slower").all():
            status, winner = "baseline", group[group["strategy"] == baseline].iloc[0]
        else:
            status, winner = "tied", {"strategy": None, "low": None, "high": None}
        rows.append({**dict(zip(keys, values, strict=True)),
                     "label": paired.regime_label(group.iloc[0]), "status": status,
                     "winner": winner["strategy"], "low": winner["low"], "high": winner["high"]})
    return pd.DataFrame(rows, columns=[*keys, "label", "status", "winner", "low", "high"])


def reproducibility(df: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per machine and mode, its latest two commits (by date) with paired ratios compared: over
    every regime and strategy correct on both (the baseline's A/A left out),
    |ratio_new / ratio_old - 1|: median, max, the worst point, pass/fail."""
    cols = ["machine", "mode", "new", "old", "points", "median", "max", "worst", "passed"]
    r = paired.ratios(df)
    if r.empty:
        return pd.DataFrame(columns=cols)
    r = r.merge(paired.errors(df)[["machine", "commit", "regime", "strategy", "correct"]],
                on=["machine", "commit", "regime", "strategy"], how="left")
    r["correct"] = r["correct"].fillna(False).astype(bool)
    out = []
    for machine, g in r.groupby("machine", sort=True):
        commits = g.drop_duplicates("commit").sort_values(["date", "commit"])["commit"].tolist()
        if len(commits) < 2:
            continue
        new, old = commits[-1], commits[-2]
        both = g[g["commit"] == new].merge(g[g["commit"] == old], suffixes=("_new", "_old"),
                                           on=["mode", "regime", "strategy"])
        both = both[both["correct_new"] & both["correct_old"] & (both["strategy"] != baseline)]
        for mode, h in both.groupby("mode", sort=True):
            change = (h["ratio_new"] / h["ratio_old"] - 1).abs()
            worst = h.loc[change.idxmax()].rename(lambda k: k.removesuffix("_new"))
            out.append({"machine": machine, "mode": mode, "new": new, "old": old,
                        "points": len(h), "median": float(change.median()),
                        "max": float(change.max()),
                        "worst": f"{worst['strategy']} on {paired.regime_label(worst)}",
                        "passed": bool(change.median() <= REPRODUCIBLE_MEDIAN
                                       and change.max() <= REPRODUCIBLE_MAX)})
    return pd.DataFrame(out, columns=cols)


def per_regime(df: pd.DataFrame, metric: str, baseline: str = BASELINE) -> pd.DataFrame:
    """A deterministic metric (peak bytes, op counts) from each machine's newest commit that has
    it, per machine, regime and strategy: ``value`` and ``vs_baseline``, over the baseline's
    value on the SAME regime (never averaged across regimes)."""
    cols = [*CONFIG, "regime", "strategy", "commit", "value", "vs_baseline"]
    rows = df[(df["metric"].astype(str) == metric) & df["value"].notna() & df["regime"].notna()]
    rows = plain(paired.latest(rows.reset_index(drop=True)))
    if rows.empty:
        return pd.DataFrame(columns=cols)
    rows = over_baseline(rows, baseline).rename(columns={"relative": "vs_baseline"})
    return rows[cols].reset_index(drop=True)


@dataclass
class Findings:
    """What FINDINGS.md, the README block and the policy are made of."""

    check: dict
    safe: list[str]
    claims: pd.DataFrame
    grid: pd.DataFrame
    decided: pd.DataFrame
    limits: pd.DataFrame  # paired.limits: the fastest safe strategy against the limit
    reproducibility: pd.DataFrame
    memory: pd.DataFrame
    counts: dict[str, pd.DataFrame]  # COUNTS name -> per_regime frame, measured ones only
    policy: dict
    sources: pd.DataFrame
    resolution: dict[str, pd.DataFrame] = field(default_factory=dict)  # regimes, summary
    crosscheck: list[dict] = field(default_factory=list)
    deploy: pd.DataFrame | None = None
    kernels: list[dict] = field(default_factory=list)  # scripts/kernels.py payloads
    problems: list[Problem] = field(default_factory=list)
    baseline: str = BASELINE


def sources(df: pd.DataFrame, used: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Per machine and commit the sections use: commit date, devices, torch, threads."""
    keys = pd.concat([u[["machine", "commit"]] for u in used if not u.empty]
                     or [pd.DataFrame(columns=["machine", "commit"])]).drop_duplicates()
    rows = plain(df[df["value"].notna() & df["device"].notna()])
    rows = rows.merge(keys, on=["machine", "commit"])
    rows["devices"] = rows["device_name"].astype(str) + " (" + rows["device"].astype(str) + ")"
    out = rows.groupby(["machine", "commit"], sort=True).agg(
        date=("date", "first"), devices=("devices", lambda x: ", ".join(sorted(set(x)))),
        torch=("torch", "first"), threads=("threads", "max")).reset_index()
    out["threads"] = out["threads"].astype("Int64")
    return out.sort_values(["date", "machine"]).reset_index(drop=True)


def _facts(df: pd.DataFrame, grid: pd.DataFrame) -> dict[str, str]:
    """machine -> the hardware facts (JSON) recorded with the commit its grid shows."""
    if grid.empty or "facts" not in df.columns:
        return {}
    shown = set(zip(grid["machine"].astype(str), grid["commit"].astype(str), strict=True))
    rows = plain(df[["machine", "commit", "facts"]].drop_duplicates())
    return {m: f for m, c, f in rows.itertuples(index=False) if (m, c) in shown}


def build_findings(loaded: Loaded, check: Mapping[str, Any], crosscheck: Sequence[dict] = (),
                   deploy: pd.DataFrame | None = None, baseline: str = BASELINE,
                   kernels: Sequence[dict] = ()) -> Findings:
    """Every table and the policy from loaded results and the side inputs (``load.inputs``)."""
    df = loaded.data
    safe = c.safe(check["summary"])
    g = with_hardware(paired.grid(df, safe, baseline), df)
    mem = per_regime(df, PEAK, baseline)
    counts = {name: frame for name, frame in ((n, per_regime(df, n, baseline)) for n in COUNTS)
              if not frame.empty}
    regimes = res.per_regime(g, df, baseline)
    return Findings(
        check=dict(check), safe=safe, claims=c.claims(check["summary"], check["rows"]),
        grid=g, decided=decided(g, baseline), limits=paired.limits(g, baseline),
        reproducibility=reproducibility(df, baseline),
        memory=mem, counts=counts, policy=auto_policy(g, safe, _facts(df, g), baseline),
        sources=sources(df, [g, mem, *counts.values()]),
        resolution={"regimes": regimes, "summary": res.summary(regimes)},
        crosscheck=list(crosscheck), deploy=deploy, kernels=list(kernels),
        problems=list(loaded.problems),
        baseline=baseline)
