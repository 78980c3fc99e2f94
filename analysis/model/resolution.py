"""The resolution of the grid's own run, per regime and mode: the A/A (the baseline's row of the
paired ratios) and a known 5% slowdown of the baseline timed in the SAME rounds
(``ratios.Resolution*``). Pure: the grid and the loaded frame in, DataFrames and a dict out.
What the findings and ``docs/resolution.json`` say about resolution comes from here only."""

from __future__ import annotations

import json

import pandas as pd

from analysis.model.paired import regime_label
from birnn_bench.compare import RESOLVED, Interval, verdict
from birnn_bench.resolution import SLOWDOWN

#: The share of regimes (per machine and mode) that must resolve and detect the slowdown.
REQUIRED_SHARE = 0.9
SLOWED = {"ratios.ResolutionForward": "forward", "ratios.ResolutionTrainStep": "train_step"}
METRICS = {"track_slowed_ratio": "slowed", "track_slowed_ratio_low": "slowed_low",
           "track_slowed_ratio_high": "slowed_high", "track_rounds": "rounds"}
KEYS = ["machine", "device_name", "commit", "mode", "regime"]
COLUMNS = [*KEYS, "label", "aa_ratio", "aa_low", "aa_high", "half_width", "within", "off_one",
           "significant", "resolved", "slowed", "slowed_low", "slowed_high", "detected", "rounds"]


def _slowed(df: pd.DataFrame) -> pd.DataFrame:
    rows = df[df["benchmark"].astype(str).str.rsplit(".", n=1).str[0].isin(list(SLOWED))]
    rows = rows[rows["value"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=[*KEYS, *METRICS.values()])
    rows = rows.astype({c: str for c in ("machine", "device_name", "commit", "regime",
                                         "metric")})
    rows["mode"] = rows["benchmark"].astype(str).str.rsplit(".", n=1).str[0].map(SLOWED)
    wide = rows.pivot_table(index=KEYS, columns="metric", values="value", aggfunc="first")
    return wide.reindex(columns=list(METRICS)).rename(columns=METRICS).reset_index()


def per_regime(grid: pd.DataFrame, df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One row per machine, commit, mode and regime of ``grid`` (``paired.grid``: the newest
    commit of each machine): the A/A, its half-width and whether that is within ``RESOLVED``,
    ``off_one`` (its farther bound's distance from 1), significant, ``resolved``
    (``compare.Interval.resolves``, the one rule: inside 1 +- ``RESOLVED``, not significant),
    and the +5% copy's interval with whether the rule finds it slower (``detected``; NaN where
    the run did not time it)."""
    if grid.empty:
        return pd.DataFrame(columns=COLUMNS)
    aa = grid[grid["strategy"] == baseline]
    labels = [regime_label(r) for r in aa.to_dict("records")]
    aa = aa[[*KEYS, "aa_ratio", "aa_low", "aa_high"]].astype(
        {c: str for c in KEYS}).reset_index(drop=True).assign(label=labels)
    out = aa.merge(_slowed(df), on=KEYS, how="left")
    intervals = [Interval(*v) for v in out[["aa_ratio", "aa_low", "aa_high"]].to_numpy(float)]
    out["half_width"] = [i.half_width for i in intervals]
    out["within"] = out["half_width"] <= RESOLVED * (1 + 1e-9)
    out["off_one"] = [i.off_one for i in intervals]
    out["significant"] = [i.significant for i in intervals]
    out["resolved"] = [i.resolves for i in intervals]
    out["detected"] = [
        verdict(Interval(r, lo, hi), aa_i) == "slower" if pd.notna(r) else float("nan")
        for r, lo, hi, aa_i in zip(out["slowed"], out["slowed_low"], out["slowed_high"],
                                   intervals, strict=True)]
    return out[COLUMNS]


def summary(regimes: pd.DataFrame) -> pd.DataFrame:
    """Per machine, commit and mode: regimes, how many have an A/A of half-width within
    ``RESOLVED`` (``within``) and whose whole interval lies inside 1 +- ``RESOLVED`` (``inside``,
    the one rule's reading), the farthest bound, significant A/As, the +5% detected (of those
    where it was timed), the median half-width, and ``passed``: inside and detected in
    ``REQUIRED_SHARE`` of the regimes, no A/A significant."""
    cols = ["machine", "device_name", "commit", "mode", "regimes", "within", "inside",
            "farthest", "significant", "slowed_timed", "detected", "median_half_width", "passed"]
    if regimes.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (machine, device, commit, mode), g in regimes.groupby(
            ["machine", "device_name", "commit", "mode"], sort=True):
        n, timed = len(g), int(g["detected"].notna().sum())
        detected = int(g["detected"].eq(True).sum())
        significant = int(g["significant"].sum())
        inside = sum(Interval(*v).inside(RESOLVED)
                     for v in g[["aa_ratio", "aa_low", "aa_high"]].to_numpy(float))
        rows.append({"machine": machine, "device_name": device, "commit": commit, "mode": mode,
                     "regimes": n, "within": int(g["within"].sum()), "inside": inside,
                     "farthest": float(g["off_one"].max()), "significant": significant,
                     "slowed_timed": timed, "detected": detected,
                     "median_half_width": float(g["half_width"].median()),
                     "passed": bool(inside >= REQUIRED_SHARE * n and timed == n
                                    and detected >= REQUIRED_SHARE * n and significant == 0)})
    return pd.DataFrame(rows, columns=cols)


def as_json(regimes: pd.DataFrame, totals: pd.DataFrame,
            reproducibility: pd.DataFrame) -> dict:
    """``docs/resolution.json``: what the findings say about resolution, with the regimes."""
    def records(frame: pd.DataFrame) -> list[dict]:  # NaN -> null, numpy -> JSON types
        return json.loads(frame.to_json(orient="records", double_precision=6))

    return {"source": "the grid's own run: A/A = the baseline's row of ratios.Paired*, the "
                      f"+{SLOWDOWN:.0%} copy = ratios.Resolution*, in the same rounds",
            "resolved_within": RESOLVED, "required_share": REQUIRED_SHARE,
            "slowdown": SLOWDOWN, "summary": records(totals), "regimes": records(regimes),
            "between_runs": records(reproducibility)}


def tolerances(resolution_json: dict | None) -> dict[str, float]:
    """Per mode, how far a paired ratio moved between two runs of the same code on one machine
    (the largest change in ``between_runs`` of ``docs/resolution.json``): the process-level A/A.
    The history flags a change between commits only beyond it (``compare.change``)."""
    found: dict[str, float] = {}
    for row in (resolution_json or {}).get("between_runs", []) or []:
        if isinstance(row, dict) and isinstance(row.get("max"), (int, float)):
            mode = str(row.get("mode"))
            found[mode] = max(found.get(mode, 0.0), float(row["max"]))
    return found
