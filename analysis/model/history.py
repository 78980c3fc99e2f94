"""History across commits: every series of the results, which changes count, per commit.

A *series* is one benchmark's value for one machine, environment, regime, strategy (and extra
parameter, e.g. ``compile=eager``) over its commits, oldest first; each point is compared with the
previous one by ``rules``: ``interval_change`` for paired ratios (as in
``scripts/publish_dashboard.py``), asv.conf.json's thresholds (``Limits``, which the PR check
reads too) for the rest. Absolute times follow the machine's load as much as the code.
A regression is a change for the worse (higher ratio, more bytes or ops, right -> wrong)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.load.tidy import extra_params, plain
from analysis.model.paired import MODES
from analysis.model.tables import tolerance_of
from birnn_bench.compare import Interval, change

RATIO, DETERMINISTIC, ABSOLUTE = "ratio", "deterministic", "absolute"
#: Deterministic counts and sizes: metric -> what the report calls it.
DETERMINISTIC_METRICS = {"track_peak_bytes": "peak bytes", "track_ops": "ATen ops",
                         "track_ops_extract": "ATen ops (extract)",
                         "track_kernels": "CUDA kernels", "track_host_syncs": "host syncs"}
#: Instructions per call under callgrind (``instructions.Instructions``): two runs of one commit
#: agree to the instruction here; across commits a change to other imported code moves counts
#: (up to 0.44% seen on untouched strategies, README), so asv.conf.json lets them move by 1%.
INSTRUCTION_METRICS = {"track_instructions": "instructions",
                       "track_instructions_extract": "instructions (extract)"}
#: Errors against the oracle, judged as a verdict (1 = above the dtype's tolerance).
VERDICT_METRICS = {"track_max_abs_error": "error verdict",
                   "track_compiled_error": "compiled error verdict"}
#: Values that are not a series of the code at all (the environment), or another view of one
#: (the dashboard's error verdict and the error over tolerance: track_max_abs_error's).
SKIPPED_METRICS = ("track_threads", "track_error_verdict", "track_error_over_tolerance")
LABELS = {**DETERMINISTIC_METRICS, **INSTRUCTION_METRICS, **VERDICT_METRICS}
WORDS = {"regression": "worse", "improvement": "better"}
#: A series: one machine name on ONE hardware (a name that held two CPUs splits there).
KEYS = ["machine", "hardware", "env", "benchmark", "regime", "strategy", "variant"]
COLUMNS = ["machine", "hardware", "env", "device_name", "kind", "quantity", "benchmark", "regime",
           "strategy", "variant", "commit", "date", "value", "low", "high"]


#: asv's threshold where no pattern of ``regressions_thresholds`` matches.
ASV_DEFAULT_THRESHOLD = 0.05
#: The error series of ``history`` is the verdict asv's dashboard shows as its own benchmark.
ASV_ALIASES = {"strategies.Error.track_max_abs_error": "strategies.Error.track_error_verdict"}


@dataclass(frozen=True)
class Limits:
    """``regressions_thresholds`` as (pattern, threshold) and the never-judged patterns."""

    thresholds: tuple[tuple[str, float], ...]
    never: tuple[str, ...]

    @classmethod
    def from_conf(cls, conf: dict) -> Limits:
        """From a loaded ``asv.conf.json``; ValueError naming a bad entry."""
        thresholds = []
        for pattern, value in (conf.get("regressions_thresholds") or {}).items():
            try:
                re.compile(pattern)
                thresholds.append((pattern, float(value)))
            except (re.error, TypeError, ValueError):
                raise ValueError(f"regressions_thresholds: {pattern!r}: {value!r} is not a "
                                 "pattern with a number") from None
        never = tuple(p for p, first in (conf.get("regressions_first_commits") or {}).items()
                      if first is None)
        return cls(tuple(thresholds), never)

    def threshold(self, name: str) -> float | None:
        """The relative change beyond which series ``name`` counts; None: never judged."""
        if any(re.match(p, name) for p in self.never):
            return None
        found = [value for pattern, value in self.thresholds if re.match(pattern, name)]
        return max(found) if found else ASV_DEFAULT_THRESHOLD

    def describe(self, name: str) -> str:
        """``1%`` / ``any change`` / ``never judged`` for series ``name``."""
        value = self.threshold(name)
        return "never judged" if value is None else "any change" if value == 0 else f"{value:.0%}"


def asv_name(benchmark: str, regime: object, strategy: object, variant: str = "") -> str:
    """A series' name as asv's regression detection matches it: ``bench('regime', 'strategy')``
    (plus the values of extra parameters, e.g. ``compile=eager``)."""
    extra = [repr(part.split("=", 1)[1]) for part in variant.split(",") if "=" in part]
    params = ", ".join([repr(str(regime)), repr(str(strategy)), *extra])
    return f"{ASV_ALIASES.get(benchmark, benchmark)}({params})"


def rules(limits: Limits) -> str:
    """The rules of ``changes`` in one sentence, for the report's pages."""
    def moves(benchmark: str) -> str:
        value = limits.threshold(asv_name(benchmark, "r", "s"))
        return "(never judged)" if value is None else "when it changes at all" if value == 0 else \
            f"when it moves by more than {value:.1%}"

    return (f"a change counts on instructions per call (callgrind) "
            f"{moves('instructions.Instructions.track_instructions')}, on a paired ratio when the "
            "quotient of the two commits' 99% intervals lies beyond 1 +- the process-level A/A "
            "(docs/resolution.json), on a deterministic value (peak bytes, op counts, error "
            f"verdict) {moves('strategies.PeakMemory.track_peak_bytes')}; absolute times are "
            "shown, never judged.")


def interval_change(before: tuple[float, float, float], now: tuple[float, float, float],
                    tolerance: float = 0.0) -> str:
    """"slower" / "faster" / "tied": ``now`` = (ratio, low, high) against ``before``'s, by the
    project's rule across commits (``compare.change``: the quotient's conservative interval
    beyond 1 +- ``tolerance``, the process-level A/A)."""
    return change(Interval(*before), Interval(*now), tolerance)


def _variant(rows: pd.DataFrame) -> pd.Series:
    """``name=value`` of the parameters beyond the suite's (``compile=eager``), else ""."""
    parts = [name + "=" + rows[name].astype(object).astype(str).where(rows[name].notna(), "")
             for name in extra_params(rows)]
    if not parts:
        return pd.Series("", index=rows.index, dtype=object)
    joined = parts[0].str.cat(parts[1:], sep=",")
    return joined.str.replace(r"(^|,)[^,=]+=(?=,|$)", "", regex=True).str.strip(",")


def _ratio_series(df: pd.DataFrame) -> pd.DataFrame:
    rows = df[(df["kind"].astype(str) == "ratio") & df["value"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = plain(rows[["machine", "hardware", "env", "device_name", "benchmark", "regime",
                       "strategy", "commit", "date", "value"]])
    split = rows["benchmark"].str.extract(r"^(?P<base>.+\.track_time_ratio)(?P<which>_low|_high)?$")
    rows = rows.assign(base=split["base"], which=split["which"].fillna(""))
    rows = rows[rows["base"].notna() & rows["base"].str.rsplit(".", n=1).str[0].isin(MODES)]
    keys = ["machine", "hardware", "env", "device_name", "base", "regime", "strategy", "commit",
            "date"]
    wide = rows.pivot_table(index=keys, columns="which", values="value", aggfunc="first",
                            observed=True).reset_index()
    wide = wide.reindex(columns=[*keys, "", "_low", "_high"]).rename(
        columns={"": "value", "_low": "low", "_high": "high", "base": "benchmark"})
    wide = wide.dropna(subset=["value"])
    mode = wide["benchmark"].str.rsplit(".", n=1).str[0].map(MODES)
    return wide.assign(kind=RATIO, quantity="paired ratio (" + mode.astype(str) + ")",
                       variant="")[COLUMNS]


def series(df: pd.DataFrame) -> pd.DataFrame:
    """Every measured point that belongs to a series, long form (``COLUMNS``): an error's value
    is its verdict (1 = wrong), low / high are set for ratios only."""
    ratios = _ratio_series(df)
    metric = df["metric"].astype(str)
    rest = df[(df["kind"].astype(str) != "ratio") & df["value"].notna()
              & ~metric.isin(SKIPPED_METRICS) & df["regime"].notna()]
    if rest.empty:
        return ratios.reset_index(drop=True)
    rest = plain(rest)
    rest["variant"] = _variant(rest)
    counted = rest["metric"].isin(list(LABELS))
    rest = rest[counted | (rest["kind"] == "time") | (rest["unit"] == "seconds")].copy()
    metric = rest["metric"]
    verdict = metric.isin(list(VERDICT_METRICS))
    tolerance = rest.loc[verdict, "dtype"].map(tolerance_of).astype(float)
    rest.loc[verdict, "value"] = (rest.loc[verdict, "value"] > tolerance).astype(float)
    rest["kind"] = np.where(metric.isin(list(LABELS)), DETERMINISTIC, ABSOLUTE)
    rest["quantity"] = metric.map(LABELS).fillna(metric + " (s)")
    rest["low"] = rest["high"] = np.nan
    if ratios.empty:
        return rest[COLUMNS].reset_index(drop=True)
    return pd.concat([ratios, rest[COLUMNS]], ignore_index=True)


def _thresholds(points: pd.DataFrame, limits: Limits) -> np.ndarray:
    """Per deterministic point: the relative change beyond which it counts (NaN: never judged),
    asv.conf.json's (``limits``) for its series; a verdict (right / wrong) counts when it flips."""
    out = np.full(len(points), np.nan)
    found: dict[str, float | None] = {}
    columns = ("kind", "benchmark", "regime", "strategy", "variant")
    for i, (kind, benchmark, regime, strategy, variant) in enumerate(zip(
            *(points[c].to_numpy() for c in columns), strict=True)):
        if kind != DETERMINISTIC:
            continue
        if str(benchmark).rsplit(".", 1)[-1] in VERDICT_METRICS:
            out[i] = 0.0
            continue
        name = asv_name(benchmark, regime, strategy, variant)
        if name not in found:
            found[name] = limits.threshold(name)
        out[i] = np.nan if found[name] is None else found[name]
    return out


def changes(points: pd.DataFrame, ratio_tolerance: Mapping[str, float] | None = None, *,
            limits: Limits) -> pd.DataFrame:
    """``series`` with each point's previous point of the same series (``previous_commit``,
    ``previous_value``, ``previous_low``, ``previous_high``) and ``change``: "regression",
    "improvement", "" (no change that counts; always "" for absolute times), and ``judged``
    (False for absolute times and what asv.conf.json never judges). ``ratio_tolerance``: per
    mode, how far the same code's paired ratio moved between two processes
    (``analysis.model.resolution.tolerance``); a paired ratio's change counts only beyond it.
    ``limits``: asv.conf.json's thresholds, for the deterministic series."""
    extra = ["previous_commit", "previous_value", "previous_low", "previous_high", "change",
             "judged"]
    if points.empty:
        return pd.DataFrame(columns=[*COLUMNS, *extra])
    out = points.assign(_key=points.groupby(KEYS, sort=False, dropna=False).ngroup(),
                        _date=pd.to_datetime(points["date"], utc=True))
    out = out.sort_values(["_key", "_date", "commit"], kind="stable")
    out = out.drop_duplicates(["_key", "commit"], keep="last").reset_index(drop=True)
    same = out["_key"].eq(out["_key"].shift())
    for column in ("commit", "value", "low", "high"):
        out["previous_" + column] = out[column].shift().where(same)
    change = np.full(len(out), "", dtype=object)
    kind, has_prev = out["kind"].to_numpy(), same.to_numpy()
    det = has_prev & (kind == DETERMINISTIC)
    value, prev = out["value"].to_numpy(float), out["previous_value"].to_numpy(float)
    # Only a change beyond the series' threshold counts (prev > 0 where it is set; NaN: never).
    slack = _thresholds(out, limits)
    with np.errstate(invalid="ignore"):
        change[det & (value > prev * (1 + slack))] = "regression"
        change[det & (value < prev * (1 - slack))] = "improvement"
    modes = out["benchmark"].astype(str).str.rsplit(".", n=1).str[0].map(MODES)
    for i in np.flatnonzero(has_prev & (kind == RATIO)):
        verdict = interval_change(
            (prev[i], out.at[i, "previous_low"], out.at[i, "previous_high"]),
            (value[i], out.at[i, "low"], out.at[i, "high"]),
            (ratio_tolerance or {}).get(modes.iat[i], 0.0))
        change[i] = {"slower": "regression", "faster": "improvement"}.get(verdict, "")
    out["change"] = change
    out["judged"] = (kind != ABSOLUTE) & ~((kind == DETERMINISTIC) & np.isnan(slack))
    return out.drop(columns=["_key", "_date"])


def flagged(history: pd.DataFrame) -> pd.DataFrame:
    """The changes that count (``changes`` rows with a regression or improvement)."""
    return history[history["change"] != ""].reset_index(drop=True)


def per_commit(history: pd.DataFrame) -> pd.DataFrame:
    """One row per machine and commit (oldest first): previous commit measured there, and how
    many series regressed / improved, in all and per quantity (``what``: readable)."""
    cols = ["machine", "commit", "date", "previous_commit", "regressions", "improvements", "what"]
    if history.empty:
        return pd.DataFrame(columns=cols)
    h = history.assign(_date=pd.to_datetime(history["date"], utc=True))
    rows = []
    for (machine, commit), group in h.groupby(["machine", "commit"], sort=False):
        counted = group[group["change"] != ""]
        what = []
        for quantity, q in counted.groupby("quantity", sort=True):
            n = q["change"].value_counts()
            what.append(f"{quantity}: " + ", ".join(
                f"{n[change]} {word}" for change, word in WORDS.items() if change in n))
        n = counted["change"].value_counts()
        previous = group["previous_commit"].dropna()
        rows.append({"machine": machine, "commit": commit, "date": group["_date"].min(),
                     "previous_commit": previous.mode().iloc[0] if not previous.empty else None,
                     "regressions": int(n.get("regression", 0)),
                     "improvements": int(n.get("improvement", 0)), "what": "; ".join(what)})
    return pd.DataFrame(rows, columns=cols).sort_values(["machine", "date", "commit"]) \
        .reset_index(drop=True)


def lines(history: pd.DataFrame, kind: str, quantity: str) -> pd.DataFrame:
    """Per machine AND hardware (a name that held two CPUs is two series), commit and strategy:
    the geometric mean of one quantity over the regimes measured at EVERY commit of that series
    that has the quantity (a fixed set, so commits and strategies are compared on the same
    workloads). Only commits with points appear."""
    cols = ["machine", "hardware", "commit", "date", "strategy", "value", "regimes"]
    rows = history[(history["kind"] == kind) & (history["quantity"] == quantity)
                   & (history["variant"] == "")]
    rows = rows[rows["value"] > 0]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    parts = []
    for (machine, hardware), mine in rows.groupby(["machine", "hardware"], sort=True):
        commits = mine["commit"].nunique()
        present = mine.groupby(["regime", "strategy"])["commit"].nunique()
        everywhere = present[present == commits].reset_index()[["regime", "strategy"]]
        kept = mine.merge(everywhere, on=["regime", "strategy"])
        # Every strategy over the same regimes: those all of them have at every commit.
        per_regime = kept.groupby("regime")["strategy"].nunique()
        regimes = per_regime[per_regime == kept["strategy"].nunique()].index
        kept = kept[kept["regime"].isin(regimes)]
        if kept.empty:
            continue
        kept = kept.assign(_log=np.log(kept["value"].astype(float)))
        g = (kept.groupby(["commit", "strategy"], sort=False)
             .agg(date=("date", "first"), _log=("_log", "mean"), regimes=("regime", "nunique"))
             .reset_index())
        g["value"] = np.exp(g.pop("_log"))
        parts.append(g.assign(machine=machine, hardware=hardware))
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


def plotted(lines_: pd.DataFrame) -> bool:
    """Some series (machine and hardware) of ``lines`` has two commits or more to draw."""
    return not lines_.empty and \
        int(lines_.groupby(["machine", "hardware"])["commit"].nunique().max()) >= 2
