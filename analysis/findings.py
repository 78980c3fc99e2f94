"""Findings for production: the thread's claims settled, the headline per device, the auto policy.

Pure functions (dicts, lists and DataFrames in; strings, DataFrames, dicts and matplotlib Figures
out). Nothing here reads or writes a file: ``analysis.cli`` (``python -m analysis findings``)
reads the inputs, calls :func:`build_findings`, and writes ``docs/FINDINGS.md``, the figures,
``birnn_bench/auto_policy.json`` and the generated block of ``README.md``.

Inputs:

* the asv results tree, loaded by ``analysis.load`` (any machines, any commits);
* ``birnn-bench check --json`` (``{torch, tolerances, rows, summary}``): every verdict about a
  claim of the thread is COMPUTED from its rows and summary (:data:`CLAIMS` holds the quotes and
  which strategy, direction and conditions each claim is about; never a verdict);
* optionally ``scripts/crosscheck.py --json`` files (measurement integrity) and
  ``birnn-bench deploy --json`` files (deployability).

Everything is deterministic: the same inputs give the same bytes (no generation timestamps).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis import summarize as s
from analysis.load import Loaded, Problem

#: The README block's markers (only the text between them is generated).
README_START = "<!-- findings:start -->"
README_END = "<!-- findings:end -->"
#: The README section after which the markers are inserted when absent.
README_ANCHOR = "## The answer in one call"
#: The one command that rebuilds every generated file (said in each of them).
COMMAND = "bash scripts/findings.sh"
#: Figure file stems (PNG under --figures) -> caption.
FIGURES = {
    "check_matrix": "The correctness matrix by condition",
    "speedup": "Speed-up against hn_index (inference)",
    "time_vs_batch": "Time per call vs batch size (inference)",
    "train_speedup": "Speed-up against hn_index (training step)",
    "memory": "Peak memory relative to hn_index",
    "op_counts": "ATen ops per forward call",
}
#: Where the README's one figure comes from.
README_FIGURE = "speedup"
OP_METRICS = {"track_ops": "ops", "track_ops_extract": "ops_extract",
              "track_kernels": "kernels", "track_host_syncs": "host_syncs"}
DEPLOY_COLUMNS = ("strategy", "cell", "layers", "device", "technology", "status")
DEPLOY_STATUSES = ("works", "fails", "wrong", "unavailable")
CHECK_FACTORS = ("cell", "num_layers", "proj_size", "layout", "lengths", "dtype", "padded")


class InputError(ValueError):
    """An input file is missing something the findings need; the message names the file."""


# ---------------------------------------------------------------------------------------------
# parsing (text in, validated data out; the CLI reads the files)


def _json(text: str, name: str) -> Any:
    if not text.strip():
        raise InputError(f"{name}: is empty (0 bytes of JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{name}: is not valid JSON: {err.msg} at line {err.lineno} column "
                         f"{err.colno}") from None


def parse_check(text: str, name: str = "check.json") -> dict:
    """``birnn-bench check --json`` output, validated: ``{torch, tolerances, rows, summary}``."""
    data = _json(text, name)
    hint = "write it with: birnn-bench check --json FILE"
    if not isinstance(data, dict) or "rows" not in data or "summary" not in data:
        raise InputError(f"{name}: not a birnn-bench check --json file (no 'rows' and "
                         f"'summary'); {hint}")
    rows, summary = data["rows"], data["summary"]
    if not isinstance(rows, list) or not rows or not isinstance(summary, dict):
        raise InputError(f"{name}: 'rows' must be a non-empty list and 'summary' an object; "
                         f"{hint}")
    needed = {"strategy", *CHECK_FACTORS, "max_len", "fwd_ok", "bwd_ok", "passed"}
    for i, row in enumerate(rows):
        missing = needed - set(row) if isinstance(row, dict) else needed
        if missing:
            raise InputError(f"{name}: row {i} lacks {', '.join(sorted(missing))} (written by "
                             f"an older birnn-bench?); {hint}")
    for strategy, info in summary.items():
        if not isinstance(info, dict) or not {"passed", "total"} <= set(info):
            raise InputError(f"{name}: summary of {strategy!r} lacks 'passed'/'total'")
        mine = [r for r in rows if r["strategy"] == strategy]
        if len(mine) != info["total"] or sum(bool(r["passed"]) for r in mine) != info["passed"]:
            raise InputError(f"{name}: summary of {strategy!r} ({info['passed']}/"
                             f"{info['total']}) disagrees with its rows")
    return data


def parse_crosscheck(text: str, name: str = "crosscheck.json") -> dict:
    """``scripts/crosscheck.py --json`` output, validated; ``source`` is set to ``name``."""
    data = _json(text, name)
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise InputError(f"{name}: not a scripts/crosscheck.py --json file (no 'rows' list)")
    needed = {"device", "cell", "batch", "max_len", "lengths", "hidden", "layers", "strategy",
              "asv_median_s", "torch_median_s", "ratio"}
    for i, row in enumerate(data["rows"]):
        missing = needed - set(row) if isinstance(row, dict) else needed
        if missing:
            raise InputError(f"{name}: row {i} lacks {', '.join(sorted(missing))}")
    return {**data, "source": name}


def parse_deploy(text: str, name: str = "deploy.json") -> pd.DataFrame:
    """``birnn-bench deploy --json`` output -> one row per strategy x cell x layers x device x
    technology (``source`` = ``name``)."""
    data = _json(text, name)
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise InputError(f"{name}: not a birnn-bench deploy --json file (no 'rows' list)")
    for i, row in enumerate(rows):
        missing = set(DEPLOY_COLUMNS) - set(row) if isinstance(row, dict) else DEPLOY_COLUMNS
        if missing:
            raise InputError(f"{name}: row {i} lacks {', '.join(sorted(missing))}")
        if row["status"] not in DEPLOY_STATUSES:
            raise InputError(f"{name}: row {i} has status {row['status']!r}, expected one of "
                             f"{', '.join(DEPLOY_STATUSES)}")
    frame = pd.DataFrame(rows)
    for column in ("detail", "note"):
        if column not in frame:
            frame[column] = ""
    frame["detail"] = frame["detail"].fillna("").astype(str)
    frame["source"] = name
    return frame


# ---------------------------------------------------------------------------------------------
# the thread's claims


@dataclass(frozen=True)
class Part:
    """One piece of evidence: ``strategy``'s ``half`` (both / fwd / bwd) is expected correct
    (``expect=True``) or wrong (``expect=False``) on the check's conditions that ``scope``
    keeps (all when None)."""

    strategy: str
    expect: bool = True
    half: str = "both"
    scope: Callable[[Mapping[str, Any]], bool] | None = None
    scope_label: str = ""
    role: str = ""


@dataclass(frozen=True)
class Claim:
    id: str
    who: str
    quote: str  # brief, in English
    parts: tuple[Part, ...]
    note: str = ""


def _layers_at_least(n: int) -> Callable[[Mapping[str, Any]], bool]:
    return lambda row: int(row["num_layers"]) >= n


def _unpadded(row: Mapping[str, Any]) -> bool:
    return not row["padded"]


def _longer_than_one(row: Mapping[str, Any]) -> bool:
    return int(row["max_len"]) > 1


#: The claims of the Stack Overflow thread "Taking the last state from BiLSTM (BiGRU) in
#: PyTorch" (../shared/seed/), and which strategy of the registry embodies each. Verdicts are
#: computed by :func:`claims` from the check; nothing here says whether a claim holds.
CLAIMS: tuple[Claim, ...] = (
    Claim("Q", "the asker", "`u_emb_batch = lasthidden[-1] + lasthidden[-2]` after "
          "`pack_sequence(...)`: \"Is this correct?\"",
          (Part("hn_index", role="h_n's last two rows after packing"),)),
    Claim("A1a", "igrinis (answer 1)", "`lasthidden[0] + lasthidden[1]`, \"assuming you have "
          "only one layer\"",
          (Part("hn_first_layer", role="h_n's first two rows"),)),
    Claim("A1b", "igrinis (answer 1)", "\"If you have more layers, your variant seems better\"",
          (Part("hn_index", scope=_layers_at_least(2), scope_label="with num_layers ≥ 2",
                role="the asker's h_n[-2:]"),
           Part("hn_first_layer", expect=False, scope=_layers_at_least(2),
                scope_label="with num_layers ≥ 2", role="h_n[0:2]"))),
    Claim("A1c", "igrinis (answer 1)", "`output[-1, :, :H] + output[-1, :, H:]` \"should give "
          "the same result\"",
          (Part("last_step_naive", role="the output at the last padded step"),)),
    Claim("A1d", "igrinis (answer 1)", "\"Create two regular LSTMs, feed one the input and the "
          "other the reversed sequence\", take both last states",
          (Part("manual_two_rnn", role="two unidirectional rnns on the module's weights"),),
          note="manual_two_rnn reverses each sequence within its own length; flipping the "
          "padded batch would start the backward rnn in the padding."),
    Claim("A2a", "answer 2", "Split `output` with `view(seq_len, batch, 2, H)` / "
          "`torch.chunk(output, 2, 2)`, `gather` the forward pass at `lengths - 1`, the "
          "backward pass at position 0",
          (Part("chunk_view", role="on the output unpacked from a PackedSequence"),)),
    Claim("A2b", "answer 2", "The same gather \"for people using unpacked sequences\" (a "
          "padded batch, no packing)",
          (Part("padded_gather", role="gather on the padded batch's output"),)),
    Claim("A3a", "answer 3", "\"h_n of the reverse direction is the hidden state of the first "
          "step\" (`output[:, 0, H:] == h_n[1]`)",
          (Part("hn_index", half="bwd", role="h_n's backward half (packed)"),
           Part("chunk_view", half="bwd", role="the backward output at t=0 (packed)"),
           Part("hn_padded", half="bwd", scope=_unpadded, scope_label="without padding",
                role="h_n's backward half (padded batch)"),
           Part("padded_gather", half="bwd", scope=_unpadded, scope_label="without padding",
                role="the backward output at t=0 (padded batch)")),
          note="Both readings of the backward state match the oracle wherever they are "
          "correct at all, so they agree with each other: the backward direction ends at t=0. "
          "On a padded batch without packing both start in the padding and are wrong alike."),
    Claim("A3b", "answer 3", "\"Use `output[:, -1, :H] + output[:, -1, H:]`, not "
          "`h_n[0] + h_n[1]`\" (igrinis' answer \"is incorrect\")",
          (Part("last_step_naive", role="the recommended output[:, -1]"),
           Part("hn_first_layer", expect=False, role="the rejected h_n[0] + h_n[1]"))),
    Claim("A3c", "answer 3", "\"The reverse direction's last-time-step hidden state only "
          "contains information of the last time step\"",
          (Part("last_step_naive", expect=False, half="bwd", scope=_longer_than_one,
                scope_label="with T > 1", role="the backward output at t=-1"),)),
)


def _ok_key(half: str) -> str:
    return {"both": "passed", "fwd": "fwd_ok", "bwd": "bwd_ok"}[half]


def _value_text(value: Any) -> str:
    return str(value)


def _pattern(rows: Sequence[Mapping[str, Any]], good: Callable[[Mapping[str, Any]], bool]
             ) -> tuple[list[str], list[str]]:
    """(factor values under which every row is bad, under which none is), as ``field=value``
    strings, the way ``birnn_bench.check.summarize`` computes ``always_fails``/``never_fails``.
    Empty when every row or no row is good."""
    n_good = sum(bool(good(r)) for r in rows)
    if n_good in (0, len(rows)):
        return [], []
    always, never = [], []
    for name in CHECK_FACTORS:
        for value in dict.fromkeys(r[name] for r in rows):
            group = [r for r in rows if r[name] == value]
            bad = sum(not good(r) for r in group)
            if bad == len(group):
                always.append(f"{name}={_value_text(value)}")
            elif bad == 0:
                never.append(f"{name}={_value_text(value)}")
    return always, never


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def describe_conditions(conditions: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """``["num_layers=2", "num_layers=3"]`` -> ``"num_layers ≥ 2"``; ``padded=True`` (with the
    length patterns it covers) -> ``"the batch is padded (lengths sorted, ...)"``. Alternatives
    are joined with "or" (each one alone decides)."""
    by_field: dict[str, list[str]] = {}
    for condition in conditions:
        name, _, value = condition.partition("=")
        by_field.setdefault(name, []).append(value)
    parts = []
    lengths = by_field.get("lengths")
    for name, values in by_field.items():
        if name == "lengths" and "padded" in by_field:
            continue
        if name == "padded":
            padded = values[0] == "True"
            text = "the batch is padded" if padded else "no sequence is padded"
            if lengths:
                text += f" (lengths {', '.join(lengths)})"
            parts.append(text)
            continue
        present = sorted({_value_text(r[name]) for r in rows},
                         key=lambda v: (_as_number(v) is None, _as_number(v) or 0, v))
        numbers = [_as_number(v) for v in values]
        if len(values) > 1 and all(n is not None for n in numbers):
            low = min(numbers)  # type: ignore[type-var]
            above = [v for v in present if (_as_number(v) or -math.inf) >= low]
            if sorted(above) == sorted(values):
                parts.append(f"{name} ≥ {values[numbers.index(low)]}")
                continue
        parts.append(f"{name} = {' or '.join(values)}")
    return " or ".join(parts)


@dataclass
class _PartResult:
    part: Part
    rows: list[dict]
    good: int
    always: list[str]
    never: list[str]
    smallest_miss: float | None
    halves: dict[str, tuple[int, list[str]]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.rows)


def _evaluate(part: Part, check_summary: Mapping[str, Mapping], rows: Sequence[dict]
              ) -> _PartResult:
    mine = [r for r in rows if r["strategy"] == part.strategy]
    if part.scope is not None:
        mine = [r for r in mine if part.scope(r)]
    key = _ok_key(part.half)

    def good(row: Mapping[str, Any]) -> bool:
        return bool(row[key]) == part.expect

    info = check_summary.get(part.strategy, {})
    if part.scope is None and part.half == "both" and part.expect and "always_fails" in info:
        # The whole strategy: the check's own summary says where it fails.
        always, never = list(info["always_fails"]), list(info["never_fails"])
    else:
        always, never = _pattern(mine, good)
    misses = [r.get("max_abs_error") if part.half == "both" else r.get(f"{part.half}_error")
              for r in mine if not bool(r[key])]
    misses = [m for m in misses if m is not None]
    result = _PartResult(part, mine, sum(good(r) for r in mine), always, never,
                         min(misses) if misses else None)
    if part.half == "both":
        for half in ("fwd", "bwd"):
            ok = _ok_key(half)
            wrong = [r for r in mine if not r[ok]]
            result.halves[half] = (len(wrong), _pattern(mine, lambda r, ok=ok: bool(r[ok]))[0])
    return result


def _part_text(result: _PartResult) -> str:
    part = result.part
    who = f"`{part.strategy}`" + ("" if part.half == "both" else f" ({part.half} half)")
    role = f" ({part.role})" if part.role else ""
    scope = f" {part.scope_label}" if part.scope_label else ""
    if result.n == 0:
        return f"{who}{role}: no condition of the check{scope}, not tested"
    word = "correct" if part.expect else "wrong"
    wrong_count = result.n - result.good if part.expect else result.good
    text = f"{who}{role}: {word} in {result.good}/{result.n}{scope}"
    if 0 < result.good < result.n:
        if result.never:
            text += f"; {word} whenever {describe_conditions(result.never, result.rows)}"
        if result.always:
            other = "wrong" if part.expect else "correct"
            text += f"; {other} whenever {describe_conditions(result.always, result.rows)}"
    if part.half == "both" and part.expect and wrong_count and result.halves:
        pieces = []
        for half in ("fwd", "bwd"):
            count, always = result.halves[half]
            if not count:
                continue
            if count == result.n:
                pieces.append(f"{half} half wrong in every condition")
            elif always:
                pieces.append(f"{half} half wrong whenever "
                              f"{describe_conditions(always, result.rows)} ({count}/{result.n})")
            else:
                pieces.append(f"{half} half wrong in {count}/{result.n} (no single factor "
                              "decides)")
        if pieces:
            text += " — " + ", ".join(pieces)
    if wrong_count and result.smallest_miss is not None:
        tolerance = max((r.get("tolerance") or 0) for r in result.rows)
        text += f"; off by ≥ {result.smallest_miss:.2g} where wrong (tolerance ≤ {tolerance:.0e})"
    return text


def _verdict(results: Sequence[_PartResult]) -> str:
    tested = [r for r in results if r.n]
    if not tested:
        return "not tested"
    if any(r.good == 0 for r in tested):
        return "false"
    if all(r.good == r.n for r in tested):
        return "holds" if len(tested) == len(results) else "holds where tested"
    conditions = [describe_conditions(r.never, r.rows) for r in tested
                  if r.good < r.n and r.never]
    if conditions:
        return "holds only when " + " and ".join(dict.fromkeys(conditions))
    held = sum(r.good for r in tested)
    return f"holds in {held}/{sum(r.n for r in tested)} (no single factor decides)"


def claims(check_summary: Mapping[str, Mapping], check_rows: Sequence[Mapping[str, Any]],
           catalogue: Sequence[Claim] = CLAIMS) -> pd.DataFrame:
    """Every claim of the thread with its verdict, computed from ``birnn-bench check --json``.

    Columns: id, who, quote, strategies, verdict ("holds", "holds only when ...", "false",
    "not tested"), evidence_held ("k/n": conditions where the evidence came out as the claim
    says), where (per strategy: where it is correct or wrong, from the check's
    ``always_fails``/``never_fails`` and its rows), note.
    """
    rows = [dict(r) for r in check_rows]
    out = []
    for claim in catalogue:
        results = [_evaluate(part, check_summary, rows) for part in claim.parts]
        out.append({
            "id": claim.id, "who": claim.who, "quote": claim.quote,
            "strategies": ", ".join(dict.fromkeys(p.strategy for p in claim.parts)),
            "verdict": _verdict(results),
            "evidence_held": f"{sum(r.good for r in results)}/{sum(r.n for r in results)}",
            "where": "; ".join(_part_text(r) for r in results),
            "note": claim.note,
        })
    return pd.DataFrame(out, columns=["id", "who", "quote", "strategies", "verdict",
                                      "evidence_held", "where", "note"])


def correct_everywhere(check_summary: Mapping[str, Mapping]) -> list[str]:
    """Strategies that passed every condition of the check, in the registry's order."""
    from birnn_bench.strategies import STRATEGIES

    names = [n for n, info in check_summary.items()
             if info.get("total") and info.get("passed") == info.get("total")]
    order = {name: i for i, name in enumerate(STRATEGIES)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def strategy_verdicts(check_summary: Mapping[str, Mapping],
                      check_rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per strategy: passed/total, wrong halves, where it fails (from the check)."""
    from birnn_bench.strategies import STRATEGIES

    rows = [dict(r) for r in check_rows]
    out = []
    for name, info in check_summary.items():
        mine = [r for r in rows if r["strategy"] == name]
        if info["passed"] == info["total"]:
            where = "correct in every condition"
        elif info["passed"] == 0:
            where = "never correct"
        else:
            where = []
            if info.get("never_fails"):
                where.append("correct whenever "
                             + describe_conditions(info["never_fails"], mine))
            if info.get("always_fails"):
                where.append("wrong whenever " + describe_conditions(info["always_fails"], mine))
            where = "; ".join(where) or "no single factor decides"
        strategy = STRATEGIES.get(name)
        out.append({"strategy": name, "packs": "yes" if strategy and strategy.packs else "no",
                    "correct": f"{info['passed']}/{info['total']}",
                    "fwd wrong": info.get("fwd_failed", ""),
                    "bwd wrong": info.get("bwd_failed", ""), "where": where})
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# headline, training step, memory


def _geomean(values: Iterable[float]) -> float:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x) and x > 0], float)
    return float(np.exp(np.log(v).mean())) if v.size else np.nan


def headline(recs: pd.DataFrame, tp: pd.DataFrame, everywhere: Sequence[str] | None = None,
             baseline: str = s.BASELINE) -> pd.DataFrame:
    """Per device and regime: the fastest CORRECT strategy, its time, its ratio to
    ``baseline`` and to the fastest strategy of all (correct or not: the floor).

    Columns: CONFIG, strategy, time_s, verdict, baseline_time_s, vs_baseline (time /
    baseline's time; 1 when the winner is the baseline), baseline_tied (the baseline is not
    significantly slower than the winner), fastest_any, fastest_any_time_s,
    fastest_any_correct, vs_fastest (time / the fastest time of all, >= 1),
    correct_everywhere (the winner passed every condition of the check; NA when not given).
    """
    cols = [*s.CONFIG, "strategy", "time_s", "verdict", "baseline_time_s", "vs_baseline",
            "baseline_tied", "fastest_any", "fastest_any_time_s", "fastest_any_correct",
            "vs_fastest", "correct_everywhere"]
    if recs.empty:
        return pd.DataFrame(columns=cols)
    metric = recs["metric"].iloc[0]
    timed = tp[tp["metric"] == metric]
    keys = {k: g for k, g in timed.groupby(s.CONFIG, sort=False, observed=True)}
    out = []
    for rec in recs.itertuples(index=False):
        key = tuple(getattr(rec, c) for c in s.CONFIG)
        group = keys.get(key)
        row = {c: getattr(rec, c) for c in s.CONFIG}
        row.update(strategy=rec.strategy, time_s=rec.time_s, verdict=rec.verdict)
        if group is None or group.empty:
            out.append(row)
            continue
        fastest = group.sort_values(["time_s", "strategy"]).iloc[0]
        base = group[group["strategy"] == baseline]
        base_time = float(base["time_s"].iloc[0]) if len(base) else np.nan
        tied = {t.strip() for t in str(rec.tied_with or "").split(",") if t.strip()}
        row.update(
            baseline_time_s=base_time, vs_baseline=rec.time_s / base_time,
            baseline_tied=(rec.strategy == baseline or baseline in tied)
            if rec.strategy is not None else pd.NA,
            fastest_any=fastest["strategy"], fastest_any_time_s=float(fastest["time_s"]),
            fastest_any_correct=bool(fastest["correct"]),
            vs_fastest=rec.time_s / float(fastest["time_s"]),
            correct_everywhere=pd.NA if everywhere is None or rec.strategy is None
            else rec.strategy in everywhere)
        out.append(row)
    return pd.DataFrame(out, columns=cols)


def _strategy_order(names: Iterable[str]) -> list[str]:
    from analysis.plots import _strategy_order as order

    return order(list(names))


def ranking(recs_fwd: pd.DataFrame, recs_train: pd.DataFrame, tp: pd.DataFrame,
            baseline: str = s.BASELINE) -> pd.DataFrame:
    """Per device and strategy, inference vs training step: regimes correct, how often best or
    tied with the best, geometric-mean time relative to ``baseline`` (over the regimes where
    both were timed and the strategy is correct), and the rank by that ratio among strategies
    correct in every regime measured (NA for the others)."""
    cols = ["machine", "device", "device_name", "strategy", "correct_in",
            "forward_best_or_tied", "forward_vs_baseline", "forward_rank",
            "train_best_or_tied", "train_vs_baseline", "train_rank"]
    parts = []
    for label, recs, metric in (("forward", recs_fwd, s.FORWARD),
                                ("train", recs_train, s.TRAIN_STEP)):
        if recs.empty:
            continue
        standing = s.overall(recs, tp)
        sp = s.speedup(tp[tp["metric"] == metric], baseline)
        sp = sp[sp["correct"]]
        ratio = (sp.assign(r=1 / sp["speedup"]).groupby([*s.DEVICE_KEYS, "strategy"])["r"]
                 .agg(_geomean).rename(f"{label}_vs_baseline").reset_index())
        standing = standing.merge(ratio, on=[*s.DEVICE_KEYS, "strategy"], how="left")
        standing[f"{label}_best_or_tied"] = (standing["best_or_tied"].astype(str) + "/"
                                             + standing["regimes"].astype(str))
        standing[f"{label}_rank"] = pd.array([pd.NA] * len(standing), dtype="Int64")
        for _, idx in standing.groupby(s.DEVICE_KEYS, sort=False).groups.items():
            g = standing.loc[idx]
            eligible = g[g["correct_everywhere"]].sort_values([f"{label}_vs_baseline",
                                                              "strategy"])
            for rank, i in enumerate(eligible.index, start=1):
                standing.loc[i, f"{label}_rank"] = rank
        standing["correct_in"] = (standing["correct_in"].astype(str) + "/"
                                  + standing["regimes"].astype(str))
        keep = [*s.DEVICE_KEYS, "strategy", "correct_in", f"{label}_best_or_tied",
                f"{label}_vs_baseline", f"{label}_rank"]
        parts.append(standing[keep])
    if not parts:
        return pd.DataFrame(columns=cols)
    out = parts[0]
    for other in parts[1:]:
        out = out.merge(other.drop(columns="correct_in"), on=[*s.DEVICE_KEYS, "strategy"],
                        how="outer")
    for c in cols:
        if c not in out:
            out[c] = pd.NA
    order = {n: i for i, n in enumerate(_strategy_order(out["strategy"].unique()))}
    out["_o"] = out["strategy"].map(order)
    return out.sort_values([*s.DEVICE_KEYS, "_o"]).drop(columns="_o")[cols] \
        .reset_index(drop=True)


def memory(tp: pd.DataFrame, baseline: str = s.BASELINE) -> pd.DataFrame:
    """Per device and strategy: peak bytes of one forward call (median over regimes, max), and
    the geometric-mean ratio to ``baseline``'s, overall and per length distribution."""
    rows = tp[(tp["metric"] == s.FORWARD) & tp["peak_bytes"].notna()]
    if rows.empty:
        return pd.DataFrame()
    base = rows[rows["strategy"] == baseline][[*s.CONFIG, "peak_bytes"]].rename(
        columns={"peak_bytes": "base"})
    rows = rows.merge(base, on=s.CONFIG, how="left")
    rows["ratio"] = rows["peak_bytes"] / rows["base"]
    lengths = [str(x) for x in sorted(rows["lengths"].astype(str).unique())]
    out = []
    order = _strategy_order(rows["strategy"].unique())
    for (machine, device, name), g in rows.groupby(s.DEVICE_KEYS, sort=True):
        for strategy in order:
            mine = g[g["strategy"] == strategy]
            if mine.empty:
                continue
            record = {"machine": machine, "device": device, "device_name": name,
                      "strategy": strategy, "regimes": len(mine),
                      "median_peak_bytes": float(mine["peak_bytes"].median()),
                      "max_peak_bytes": float(mine["peak_bytes"].max()),
                      "vs_baseline": _geomean(mine["ratio"])}
            for pattern in lengths:
                record[f"vs_baseline_{pattern}"] = _geomean(
                    mine.loc[mine["lengths"].astype(str) == pattern, "ratio"])
            out.append(record)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# op counts (asv Profiles / Kernels / HostSyncs)


def _distinct_lengths(lengths: str, batch: int, max_len: int) -> bool:
    """Whether the suite's workload holds sequences of different lengths (what decides whether
    packing changes the rnn kernel on CPU)."""
    import torch

    from birnn_bench.workload import make_lengths

    if int(batch) < 2:
        return False
    try:
        drawn = make_lengths(str(lengths), int(batch), int(max_len),
                             torch.Generator().manual_seed(0))
    except (ValueError, OSError):
        return str(lengths) != "equal"
    return bool((drawn != drawn[0]).any())


def op_counts(df: pd.DataFrame) -> pd.DataFrame:
    """The profile benchmarks of the newest runs, one row per device, regime and strategy.

    Points without an op count are left out. Columns: CONFIG, strategy, ops (ATen ops of one
    inference forward, all phases), ops_extract
    (the extract phase), kernels and host_syncs (CUDA only; NaN elsewhere), unequal (the batch
    holds sequences of different lengths), packs (the strategy packs), commit. Empty when the
    results hold no profile benchmarks.
    """
    from birnn_bench.strategies import STRATEGIES

    cols = [*s.CONFIG, "strategy", *OP_METRICS.values(), "unequal", "packs", "commit"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    snap = s.latest(df)
    rows = snap[snap["metric"].isin(list(OP_METRICS)) & snap["value"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    rows = s._plain(rows)
    wide = rows.pivot_table(index=[*s.CONFIG, "strategy"], columns="metric", values="value",
                            aggfunc="first", observed=True).reset_index()
    wide.columns.name = None
    wide = wide.rename(columns=OP_METRICS)
    for name in OP_METRICS.values():
        if name not in wide:
            wide[name] = np.nan
    commits = rows.groupby([*s.CONFIG, "strategy"])["commit"].agg(
        lambda c: ",".join(sorted(set(map(str, c))))).rename("commit").reset_index()
    wide = wide.merge(commits, on=[*s.CONFIG, "strategy"], how="left")
    cache: dict[tuple, bool] = {}
    wide["unequal"] = [cache.setdefault(k, _distinct_lengths(*k)) for k in
                       zip(wide["lengths"], wide["batch"], wide["max_len"], strict=True)]
    wide["packs"] = wide["strategy"].map(lambda n: bool(STRATEGIES[n].packs)
                                         if n in STRATEGIES else False)
    wide = wide[wide["ops"].notna()]  # the op count is what every table and note starts from
    return wide[cols].sort_values([*s.CONFIG, "strategy"]).reset_index(drop=True)


def _group_label(cell: str, unequal: bool) -> str:
    return f"{cell}, {'unequal' if unequal else 'equal'} lengths"


def _span(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return ""
    lo, hi, mid = int(v.min()), int(v.max()), round(float(v.median()))
    return f"{mid}" if lo == hi else f"{mid} ({lo}–{hi})"


def ops_table(ops: pd.DataFrame) -> pd.DataFrame:
    """Per device and strategy: median (min–max) ops per forward for each cell x equal/unequal
    lengths group, ops in the extract phase, and CUDA kernels / host syncs when measured."""
    if ops.empty:
        return pd.DataFrame()
    ops = ops.assign(group=[_group_label(c, u) for c, u in
                            zip(ops["cell"], ops["unequal"], strict=True)])
    groups = sorted(ops["group"].unique())
    out = []
    for (_machine, device, name), g in ops.groupby(s.DEVICE_KEYS, sort=True):
        for strategy in _strategy_order(g["strategy"].unique()):
            mine = g[g["strategy"] == strategy]
            record = {"device": f"{name} ({device})", "strategy": strategy,
                      "packs": "yes" if mine["packs"].any() else "no"}
            for group in groups:
                record[f"ops: {group}"] = _span(mine.loc[mine["group"] == group, "ops"])
            record["ops in extract"] = _span(mine["ops_extract"])
            if mine["kernels"].notna().any():
                record["CUDA kernels"] = _span(mine["kernels"])
            if mine["host_syncs"].notna().any():
                record["host syncs"] = _span(mine["host_syncs"])
            out.append(record)
    return pd.DataFrame(out).fillna("")


def _median(values: pd.Series) -> float:
    v = values.dropna()
    return float(v.median()) if len(v) else np.nan


def _by_lengths(g: pd.DataFrame, column: str, unit: str = "") -> str:
    """"a on equal lengths, b on unequal" of ``g``'s rows, or the one span present."""
    unit = f" {unit}" if unit else ""
    equal, unequal = g.loc[~g["unequal"], column], g.loc[g["unequal"], column]
    if equal.empty or unequal.empty:
        return f"{_span(g[column])}{unit}"
    if _span(equal) == _span(unequal):
        return f"{_span(equal)}{unit} whether lengths are equal or not"
    return f"{_span(equal)}{unit} on equal lengths, {_span(unequal)} on unequal"


def ops_caveat(ops: pd.DataFrame) -> str:
    """What the op counts cannot say yet (no GPU profile), or nothing."""
    if ops.empty or ops["kernels"].notna().any():
        return ""
    return ("No CUDA profile in these results: how many kernels each strategy launches on a "
            "GPU and whether packing adds host syncs there is not measured yet; the CPU "
            "counts above do not carry over to cuDNN.")


def ops_notes(ops: pd.DataFrame, tp: pd.DataFrame | None = None,
              baseline: str = s.BASELINE) -> dict[str, str]:
    """One paragraph per strategy, derived from the counts (and, on CUDA, from the timings at
    small batch): what it launches per cell and length pattern, where the count jumps and why
    when the data shows it, how it compares with ``baseline``."""
    if ops.empty:
        return {}
    notes = {}
    cuda_ops = ops[ops["device"] == "cuda"]
    for strategy in _strategy_order(ops["strategy"].unique()):
        mine = ops[ops["strategy"] == strategy]
        sentences = []
        for (machine, device, name), g in mine.groupby(s.DEVICE_KEYS, sort=True):
            here = ops[(ops["machine"] == machine) & (ops["device"] == device)]
            base = here[here["strategy"] == baseline]
            merged = g.merge(base[[*s.CONFIG, "ops", "kernels", "host_syncs"]], on=s.CONFIG,
                             how="left", suffixes=("", "_base"))
            cells = sorted(g["cell"].unique())
            per_cell = "; ".join(f"{cell.upper()} {_by_lengths(g[g['cell'] == cell], 'ops')}"
                                 for cell in cells)
            text = (f"On {name} ({device}), ATen ops per forward (median, range over regimes): "
                    f"{per_cell}. The extract step takes {_by_lengths(g, 'ops_extract', 'ops')}")
            if strategy != baseline and merged["ops_base"].notna().any():
                diff = _median(merged["ops"] - merged["ops_base"])
                text += (f". In all, {abs(round(diff))} {'more' if diff > 0 else 'fewer'} "
                         f"ops than {baseline} per forward (median per regime)" if diff else
                         f". In all, as many ops as {baseline}")
            sentences.append(text + ".")
            for cell in cells:
                c = g[g["cell"] == cell]
                equal, unequal = c.loc[~c["unequal"], "ops"], c.loc[c["unequal"], "ops"]
                if equal.empty or unequal.empty:
                    continue
                factor = _median(unequal) / _median(equal)
                if factor >= 3:
                    text = (f"Unequal lengths multiply its {cell.upper()} count by "
                            f"{factor:.0f}x")
                    if bool(c["packs"].any()) and device == "cpu":
                        text += (": it packs, and a PackedSequence of unequal lengths runs the "
                                 "rnn step by step instead of the fused kernel it reaches on "
                                 "equal lengths (oneDNN's LSTM on CPU)")
                    sentences.append(text + ".")
                    continue
                others = here[(here["cell"] != cell) & ~here["unequal"]]
                if others.empty:
                    continue
                jump = _median(equal) / _median(others["ops"])
                if jump >= 10:
                    other = "/".join(sorted(x.upper() for x in others["cell"].unique()))
                    sentences.append(
                        f"Even on equal lengths its {cell.upper()} count is {jump:.0f}x the "
                        f"median {other} count there: here the {cell.upper()} runs step by "
                        "step rather than as one fused kernel.")
            if device == "cuda" and g["kernels"].notna().any():
                text = (f"On {name}: {_span(g['kernels'])} CUDA kernels and "
                        f"{_span(g['host_syncs'])} host syncs per forward")
                if strategy != baseline and merged["kernels_base"].notna().any():
                    dk = _median(merged["kernels"] - merged["kernels_base"])
                    ds = _median(merged["host_syncs"] - merged["host_syncs_base"])
                    text += (f" ({round(dk):+d} kernels, {round(ds):+d} host syncs against "
                             f"{baseline}, median per regime)")
                unpacked = cuda_ops[(cuda_ops["machine"] == machine) & ~cuda_ops["packs"]]
                if bool(g["packs"].any()) and not unpacked.empty:
                    extra_syncs = _median(g["host_syncs"]) - _median(unpacked["host_syncs"])
                    extra_kernels = _median(g["kernels"]) - _median(unpacked["kernels"])
                    if extra_syncs > 0 or extra_kernels > 0:
                        text += (f". Packing adds {extra_kernels:.0f} kernels and "
                                 f"{extra_syncs:.0f} host sync(s) over the strategies that do "
                                 "not pack (medians)")
                        small = _small_batch_ratio(tp, machine, strategy)
                        if small is not None:
                            text += (f"; at batch ≤ 16 it takes {small[0]:.2f}x the time of "
                                     f"the fastest non-packing correct strategy ({small[1]})")
                sentences.append(text + ".")
        notes[strategy] = " ".join(sentences)
    return notes


def _small_batch_ratio(tp: pd.DataFrame | None, machine: str, strategy: str
                       ) -> tuple[float, str] | None:
    """Geometric-mean time of ``strategy`` over the fastest correct non-packing strategy at
    batch <= 16 on ``machine``'s CUDA device (inference), with that strategy's name."""
    from birnn_bench.strategies import STRATEGIES

    if tp is None or tp.empty:
        return None
    rows = tp[(tp["metric"] == s.FORWARD) & (tp["machine"] == machine)
              & (tp["device"] == "cuda") & (tp["batch"] <= 16) & tp["correct"]]
    mine = rows[rows["strategy"] == strategy]
    other = rows[rows["strategy"].map(lambda n: n in STRATEGIES and not STRATEGIES[n].packs)]
    if mine.empty or other.empty:
        return None
    best = other.sort_values(["time_s", "strategy"]).groupby(s.CONFIG, observed=True).head(1)
    merged = mine.merge(best[[*s.CONFIG, "time_s", "strategy"]], on=s.CONFIG,
                        suffixes=("", "_other"))
    if merged.empty:
        return None
    names = ", ".join(sorted(set(merged["strategy_other"])))
    return _geomean(merged["time_s"] / merged["time_s_other"]), names


def ops_figure(ops: pd.DataFrame):
    """Bars: ATen ops per forward per strategy (median over regimes), one bar per cell x
    equal/unequal lengths, one panel per device; log scale."""
    import seaborn as sns

    from analysis import plots

    if ops.empty:
        return plots._empty("no profile benchmarks (track_ops) in the results")
    g = ops.assign(group=[_group_label(c, u) for c, u in
                          zip(ops["cell"], ops["unequal"], strict=True)],
                   panel=ops["device_name"].astype(str) + " (" + ops["device"].astype(str)
                   + ")")
    g = g.groupby(["panel", "strategy", "group"], sort=True)["ops"].median().reset_index()
    order = _strategy_order(g["strategy"].unique())
    with plots._style():
        grid = sns.catplot(data=g, kind="bar", x="strategy", y="ops", hue="group",
                           hue_order=sorted(g["group"].unique()), order=order,
                           palette=plots.PALETTE, col="panel",
                           col_wrap=min(2, g["panel"].nunique()), height=3.6, aspect=1.7,
                           sharey=False)
        for ax in grid.axes.flat:
            ax.set_yscale("log")
            ax.tick_params(axis="x", labelrotation=30)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
        grid.set_axis_labels("strategy", "ATen ops per forward (median, log)")
        if grid.legend is not None:
            grid.legend.set_title("cell, lengths in the batch")
        grid.set_titles("{col_name}")
        grid.figure.suptitle("What each strategy launches: ATen ops of one inference forward "
                             "(dispatcher count)", y=1.03)
    return grid.figure


# ---------------------------------------------------------------------------------------------
# deployability, measurement integrity


def _deploy_label(row: Any) -> str:
    """One cell's outcome: status, ``*`` when it carries a note (e.g. a transcription was
    deployed), graph breaks when counted and non-zero."""
    label = str(row.status)
    note = getattr(row, "note", "")
    if isinstance(note, str) and note.strip():
        label += "*"
    breaks = getattr(row, "graph_breaks", None)
    if breaks is not None and not pd.isna(breaks) and int(breaks) > 0:
        label += f" ({int(breaks)} graph breaks)"
    return label


def deploy_table(deploy: pd.DataFrame | None) -> pd.DataFrame:
    """Per device and strategy, one column per technology: the outcome when every cell x layers
    measured agrees (``works``, ``fails``...; ``*`` = with a note), else how many work and what
    the others did (``works 2/4; fails: gru L2``)."""
    if deploy is None or deploy.empty:
        return pd.DataFrame()
    technologies = list(dict.fromkeys(deploy["technology"]))
    out = []
    for device, g in deploy.groupby("device", sort=True):
        for strategy in _strategy_order(g["strategy"].unique()):
            mine = g[g["strategy"] == strategy]
            record = {"device": device, "strategy": strategy}
            for tech in technologies:
                cells = mine[mine["technology"] == tech]
                if cells.empty:
                    record[tech] = ""
                    continue
                labels = [_deploy_label(r) for r in cells.itertuples()]
                if len(set(labels)) == 1:
                    record[tech] = labels[0]
                    continue
                works = sum(st == "works" for st in cells["status"])
                others = [f"{label}: {r.cell} L{r.layers}" for r, label in
                          zip(cells.itertuples(), labels, strict=True) if r.status != "works"]
                record[tech] = f"works {works}/{len(labels)}" + (
                    "; " + ", ".join(others) if others else "")
            out.append(record)
    return pd.DataFrame(out)


def deploy_details(deploy: pd.DataFrame | None) -> pd.DataFrame:
    """Why: the distinct messages of the cells that did not work (per technology and outcome),
    and the first note of each technology's cells that carry one (``*`` in the table)."""
    if deploy is None or deploy.empty:
        return pd.DataFrame()
    cols = ["technology", "status", "cells", "strategies", "detail"]
    bad = deploy[deploy["status"] != "works"]
    parts = []
    if not bad.empty:
        parts.append(bad.groupby(["technology", "status", "detail"], sort=False).agg(
            strategies=("strategy", lambda x: ", ".join(dict.fromkeys(x))),
            cells=("strategy", "size")).reset_index())
    if "note" in deploy:
        noted = deploy[deploy["note"].fillna("").astype(str).str.strip() != ""]
        if not noted.empty:
            first = noted.groupby(["technology", "status"], sort=False).agg(
                strategies=("strategy", lambda x: ", ".join(dict.fromkeys(x))),
                cells=("strategy", "size"),
                detail=("note", lambda x: "* " + str(x.iloc[0]))).reset_index()
            parts.append(first)
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


def crosscheck_table(payloads: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Every crosscheck row: torch.utils.benchmark median / asv median, with its interval."""
    from analysis.report import _fmt_time

    out = []
    for payload in payloads:
        for row in payload["rows"]:
            low, high = row.get("ratio_low"), row.get("ratio_high")
            out.append({
                "device": row["device"],
                "shape": f"{row['cell']} batch {row['batch']} T {row['max_len']} "
                         f"{row['lengths']} h{row['hidden']} L{row['layers']}",
                "strategy": row["strategy"], "asv": _fmt_time(row["asv_median_s"]),
                "torch.utils.benchmark": _fmt_time(row["torch_median_s"]),
                "ratio": f"{row['ratio']:.3f}",
                "95% interval": f"{low:.3f}–{high:.3f}" if low is not None
                and high is not None else "",
                "source": payload.get("source", "")})
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# the auto policy


def sources(df: pd.DataFrame) -> pd.DataFrame:
    """The results files the tables are built from (the newest per machine and benchmark):
    machine, devices, commit, commit date (UTC, ISO), torch, threads, file."""
    cols = ["machine", "devices", "commit", "date", "torch", "threads", "file"]
    snap = s.latest(df)
    snap = snap[snap["value"].notna()]
    if snap.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for (machine, file), g in snap.groupby(["machine", "file"], observed=True, sort=True):
        date = g["date"].iloc[0]
        threads = g["threads"].dropna()
        out.append({"machine": str(machine),
                    "devices": ", ".join(sorted({f"{d} ({n})" for d, n in
                                                 zip(g["device"], g["device_name"],
                                                     strict=True)})),
                    "commit": str(g["commit"].iloc[0]),
                    "date": "" if pd.isna(date) else
                    pd.Timestamp(date).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "torch": str(g["torch"].iloc[0]),
                    "threads": int(threads.iloc[0]) if len(threads) else None,
                    "file": str(file)})
    return pd.DataFrame(out, columns=cols)


def _round(x: float, digits: int = 4) -> float | None:
    if x is None or not np.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def auto_policy(tp: pd.DataFrame, check_summary: Mapping[str, Mapping],
                source: pd.DataFrame | None = None, metric: str = s.FORWARD,
                alpha: float = s.ALPHA, baseline: str = s.BASELINE) -> dict:
    """The rules of ``birnn_bench/auto_policy.json`` (read by ``birnn_bench.policy``).

    ``correct_everywhere``: strategies with passed == total in the check. For each measured
    (device, layers, batch, lengths), pooling every machine of that device type and every cell,
    hidden size, dtype and max_len measured (the "sub-regimes"), a candidate replaces
    ``baseline`` only when it is in ``correct_everywhere``, was measured correct in every
    sub-regime, its geometric-mean time ratio to the baseline is < 1, AND it is significantly
    faster (``analysis.summarize.compare`` at ``alpha``: permutation test on samples and
    reproduced in every asv round, else non-overlapping asv 99% intervals) in a strict
    majority of the sub-regimes. Among such candidates the lowest geometric-mean ratio wins;
    otherwise the baseline stays.
    """
    allowed = correct_everywhere(check_summary)
    base = baseline if baseline in allowed else (allowed[0] if allowed else baseline)
    rows = tp[(tp["metric"] == metric) & tp["device"].isin(["cpu", "cuda"])]
    rules = []
    regime = ["device", "layers", "batch", "lengths"]
    sub = ["machine", "cell", "hidden", "dtype", "max_len"]
    for key, group in rows.groupby(regime, sort=True, observed=True):
        base_rows = group[group["strategy"] == base].set_index(sub)
        n = len(base_rows)
        scored: list[tuple[float, str, int, int, bool]] = []
        for candidate in allowed:
            if candidate == base or n == 0:
                continue
            cand = group[group["strategy"] == candidate].set_index(sub)
            common = base_rows.index.intersection(cand.index)
            if len(common) < n or not cand.loc[common, "correct"].all():
                continue  # not measured (correct) wherever the baseline was
            ratios, wins = [], 0
            for at in common:
                fast, slow = cand.loc[at], base_rows.loc[at]
                ratios.append(float(fast["time_s"]) / float(slow["time_s"]))
                wins += bool(fast["time_s"] < slow["time_s"]
                             and s.compare(fast, slow, alpha)[0])
            ratio = _geomean(ratios)
            scored.append((ratio, candidate, wins, len(common),
                           bool(ratio < 1 and wins * 2 > len(common))))
        scored.sort(key=lambda x: (x[0], x[1]))
        chosen = next((x for x in scored if x[4]), None)
        record = dict(zip(regime, key, strict=True))
        record = {"device": str(record["device"]), "layers": int(record["layers"]),
                  "batch": int(record["batch"]), "lengths": str(record["lengths"])}
        if chosen is None:
            record.update(strategy=base, vs_baseline=1.0, significant_in=None)
        else:
            record.update(strategy=chosen[1], vs_baseline=_round(chosen[0]),
                          significant_in=f"{chosen[2]}/{chosen[3]}")
        record["sub_regimes"] = n
        other = next((x for x in scored if chosen is None or x[1] != chosen[1]), None)
        record["best_other"] = other[1] if other else None
        record["best_other_vs_baseline"] = _round(other[0]) if other else None
        record["best_other_significant_in"] = f"{other[2]}/{other[3]}" if other else None
        rules.append(record)
    generated_from: dict[str, Any] = {
        "command": COMMAND, "metric": metric, "alpha": alpha, "baseline": base,
        "rule": "per device, layers, batch and lengths: the baseline unless a strategy correct "
                "on every condition of the check is faster by geometric mean over the "
                "sub-regimes (machines, cells, hidden sizes, dtypes, max_len) and significantly "
                "faster in a strict majority of them",
        "check": {"conditions": max((int(i.get("total", 0)) for i in check_summary.values()),
                                    default=0)},
    }
    if source is not None and not source.empty:
        generated_from["results"] = [
            {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
             for k, v in r.items() if k != "file"} for r in source.to_dict("records")]
    return {"correct_everywhere": allowed, "rules": rules, "generated_from": generated_from}


# ---------------------------------------------------------------------------------------------
# figures


def check_figure(check_rows: Sequence[Mapping[str, Any]]):
    """Heatmap: strategy (columns) x condition factor value (rows), share of the check's
    conditions with that value where the strategy is correct; cells read "correct/total"."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from analysis import plots

    frame = pd.DataFrame([dict(r) for r in check_rows])
    if frame.empty:
        return plots._empty("no check rows")
    labels, shares, counts = [], {}, {}
    order = _strategy_order(frame["strategy"].unique())
    for name in CHECK_FACTORS:
        for value in dict.fromkeys(frame[name]):
            label = ("padded batch" if value else "no padding") if name == "padded" else \
                f"{name} = {value}"
            labels.append(label)
            group = frame[frame[name] == value]
            stat = group.groupby("strategy")["passed"].agg(["sum", "count"])
            shares[label] = (stat["sum"] / stat["count"]).reindex(order)
            counts[label] = (stat["sum"].astype(int).astype(str) + "/"
                             + stat["count"].astype(str)).reindex(order)
    share = pd.DataFrame(shares).T.loc[labels]
    count = pd.DataFrame(counts).T.loc[labels]
    with plots._style():
        fig, ax = plt.subplots(figsize=(max(8.0, 1.15 * len(order) + 3), 0.36 * len(labels) + 2))
        sns.heatmap(share.astype(float), ax=ax, cmap=plots.SEQUENTIAL, vmin=0, vmax=1,
                    annot=count.fillna("").to_numpy(), fmt="", linewidths=0.5,
                    linecolor="white", annot_kws={"fontsize": 8},
                    cbar_kws={"label": "share of conditions correct", "shrink": 0.6})
        ax.set_xlabel("strategy")
        ax.set_ylabel("condition of the check (float64 oracle)")
        ax.set_title(f"Correct against the oracle, by condition ({len(frame) // len(order)} "
                     "conditions per strategy)", loc="left")
        plots._label_axes(ax)
        fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# everything together


@dataclass
class Findings:
    """What FINDINGS.md, the README block, the figures and the policy are made of."""

    sources: pd.DataFrame
    check: dict
    claims: pd.DataFrame
    verdicts: pd.DataFrame
    everywhere: list[str]
    headline: pd.DataFrame
    recommendations: pd.DataFrame
    ranking: pd.DataFrame
    memory: pd.DataFrame
    ops: pd.DataFrame
    ops_table: pd.DataFrame
    ops_notes: dict[str, str]
    crosscheck: list[dict]
    crosscheck_table: pd.DataFrame
    deploy: pd.DataFrame | None
    policy: dict
    figures: dict[str, Any]
    problems: list[Problem]
    devices: pd.DataFrame
    #: Per device, how far apart one point's asv rounds landed (summarize.round_spread).
    round_spread: pd.DataFrame = field(default_factory=pd.DataFrame)
    baseline: str = s.BASELINE
    #: The figures FINDINGS.md embeds (op_counts only when the results hold op counts).
    figure_names: list[str] = field(default_factory=list)


def build_findings(loaded: Loaded, check: Mapping[str, Any],
                   crosscheck: Sequence[Mapping[str, Any]] = (),
                   deploy: pd.DataFrame | None = None, baseline: str = s.BASELINE,
                   alpha: float = s.ALPHA, figures: bool = True) -> Findings:
    """All tables, the policy and (unless ``figures=False``) the figures, from loaded results
    and the parsed check / crosscheck / deploy inputs."""
    from analysis import plots

    df = loaded.data
    verdicts = s.correctness(df)
    tp = s.throughput(df, verdicts)
    recs = s.recommend(tp, s.FORWARD, alpha)
    recs_train = s.recommend(tp, s.TRAIN_STEP, alpha)
    summary, rows = check["summary"], check["rows"]
    everywhere = correct_everywhere(summary)
    ops = op_counts(df)
    source = sources(df)
    devices = (tp[[*s.DEVICE_KEYS, "threads", "torch"]].drop_duplicates(s.DEVICE_KEYS)
               .sort_values(s.DEVICE_KEYS).reset_index(drop=True)) if not tp.empty else \
        pd.DataFrame(columns=[*s.DEVICE_KEYS, "threads", "torch"])
    found = Findings(
        sources=source, check=dict(check), claims=claims(summary, rows),
        verdicts=strategy_verdicts(summary, rows), everywhere=everywhere,
        headline=headline(recs, tp, everywhere, baseline), recommendations=recs,
        ranking=ranking(recs, recs_train, tp, baseline), memory=memory(tp, baseline),
        ops=ops, ops_table=ops_table(ops), ops_notes=ops_notes(ops, tp, baseline),
        crosscheck=list(crosscheck), crosscheck_table=crosscheck_table(crosscheck),
        deploy=deploy, policy=auto_policy(tp, summary, source, s.FORWARD, alpha, baseline),
        figures={}, problems=list(loaded.problems), devices=devices,
        round_spread=s.round_spread(tp), baseline=baseline,
        figure_names=[n for n in FIGURES if n != "op_counts" or not ops.empty])
    if figures:
        sp = s.speedup(tp, baseline)
        found.figures = {
            "check_matrix": check_figure(rows),
            "speedup": plots.speedup_heatmap(sp, s.FORWARD),
            "time_vs_batch": plots.time_vs_batch(tp, s.FORWARD),
            "train_speedup": plots.speedup_heatmap(sp, s.TRAIN_STEP),
            "memory": plots.memory_bars(sp),
        }
        if "op_counts" in found.figure_names:
            found.figures["op_counts"] = ops_figure(ops)
    return found


# ---------------------------------------------------------------------------------------------
# Markdown


def _md(df: pd.DataFrame) -> str:
    from analysis.report import markdown_table

    return markdown_table(df)


def _x(ratio: float) -> str:
    return "" if ratio is None or pd.isna(ratio) else f"{ratio:.2f}×"


def _device_title(row: Mapping[str, Any]) -> str:
    threads = row.get("threads")
    extra = f", {int(threads)} thread(s)" if threads is not None and not pd.isna(threads) \
        else ""
    return (f"{row['device_name']} — `{row['device']}` on machine `{row['machine']}`{extra}, "
            f"torch {row.get('torch', '')}")


def headline_markdown(found: Findings, device_keys: Sequence[Any]) -> str:
    """One device's headline table (formatted) with a caption of the constant parameters."""
    from analysis.report import _fmt_time

    h = found.headline
    mask = np.ones(len(h), dtype=bool)
    for name, value in zip(s.DEVICE_KEYS, device_keys, strict=True):
        mask &= (h[name] == value).to_numpy()
    h = h[mask]
    if h.empty:
        return "_(no timed regime)_"
    varying = [c for c in ("cell", "layers", "batch", "lengths", "max_len", "hidden", "dtype")
               if h[c].nunique() > 1]
    constant = [c for c in ("cell", "layers", "batch", "lengths", "max_len", "hidden", "dtype")
                if c not in varying]
    order = [c for c in ("cell", "layers", "batch", "lengths", "max_len", "hidden", "dtype")
             if c in varying]
    h = h.sort_values(order)
    b = found.baseline

    def winner(row: Any) -> str:
        if row.strategy is None or pd.isna(row.strategy):
            return "— (none measured correct)"
        mark = "" if row.correct_everywhere is pd.NA or bool(row.correct_everywhere) else " †"
        return f"`{row.strategy}`{mark}"

    table = pd.DataFrame({
        **{c: h[c].astype(str).to_numpy() for c in order},
        "fastest correct": [winner(r) for r in h.itertuples()],
        "time": h["time_s"].map(_fmt_time).to_numpy(),
        f"÷ {b}": h["vs_baseline"].map(_x).to_numpy(),
        f"{b} tied?": ["" if pd.isna(t) else ("yes" if t else "no, slower")
                       for t in h["baseline_tied"]],
        "fastest of all": [f"`{n}`" + ("" if ok else " (wrong)") if isinstance(n, str) else ""
                           for n, ok in zip(h["fastest_any"], h["fastest_any_correct"],
                                            strict=True)],
        "÷ fastest": h["vs_fastest"].map(_x).to_numpy(),
    })
    caption = ", ".join(f"{c} {h[c].iloc[0]}" for c in constant)
    return (f"{_md(table)}\n\n_Fixed: {caption}._" if caption else _md(table))


HEADLINE_LEGEND = (
    "**fastest correct**: the fastest strategy measured correct on that very regime (the "
    "error benchmark against the float64 oracle); † = correct here but not on every condition "
    "of the check, so not a safe default. **÷ {b}**: its time over {b}'s (below 1: faster). "
    "**{b} tied?**: whether {b} is statistically tied with the winner (not significantly "
    "slower at α = {alpha:g}). **fastest of all**: the fastest strategy, correct or not — the "
    "floor a correct strategy can aim at; **÷ fastest**: the winner's time over it.")


def _headline_sections(found: Findings, level: str, with_title: bool = True) -> list[str]:
    parts: list[str] = []
    for row in found.devices.to_dict("records"):
        if with_title:
            parts += [f"{level} {_device_title(row)}", ""]
        keys = [row[k] for k in s.DEVICE_KEYS]
        parts += [headline_markdown(found, keys), ""]
    if not (found.devices["device"] == "cuda").any():
        parts += [f"{level} The H100 (CUDA)", "",
                  "Not measured yet: no CUDA results in the committed results. The GPU run "
                  "adds them: commit its asv results (and its `docs/crosscheck-cuda.json`, "
                  f"`docs/deploy-cuda.json`), then rerun `{COMMAND}`; this section and the "
                  "policy's CUDA rules are rebuilt from them.", ""]
    return parts


def _claims_md(found: Findings) -> list[str]:
    c = found.claims
    table = pd.DataFrame({"#": c["id"], "who": c["who"], "claim": c["quote"],
                          "strategy": c["strategies"].map(
                              lambda x: ", ".join(f"`{n}`" for n in x.split(", "))),
                          "verdict": "**" + c["verdict"] + "**"})
    parts = [_md(table), "", "Where each claim holds or breaks (from the check's rows and its "
             "`always_fails` / `never_fails` summary):", ""]
    for row in c.itertuples():
        parts.append(f"- **{row.id}** ({row.verdict}): {row.where}."
                     + (f" _{row.note}_" if row.note else ""))
    return parts


def _ranking_md(found: Findings) -> list[str]:
    r = found.ranking
    if r.empty:
        return ["_(no timed regimes)_"]
    parts = []
    b = found.baseline
    for keys, g in r.groupby(s.DEVICE_KEYS, sort=True):
        row = dict(zip(s.DEVICE_KEYS, keys, strict=True))
        table = pd.DataFrame({
            "strategy": "`" + g["strategy"] + "`", "correct in": g["correct_in"],
            "inference: best or tied": g["forward_best_or_tied"],
            f"inference: time ÷ {b}": g["forward_vs_baseline"].map(_x),
            "inference rank": g["forward_rank"].astype(object).fillna("—"),
            "training: best or tied": g["train_best_or_tied"],
            f"training: time ÷ {b}": g["train_vs_baseline"].map(_x),
            "training rank": g["train_rank"].astype(object).fillna("—"),
        })
        ranked = {}
        for label in ("forward", "train"):
            eligible = g[g[f"{label}_rank"].notna()].sort_values(f"{label}_rank")
            ranked[label] = list(eligible["strategy"])
        same = ranked["forward"] == ranked["train"]
        text = ("Same order for inference and training." if same else
                "The order differs: inference " + " < ".join(f"`{n}`" for n in ranked["forward"])
                + "; training step " + " < ".join(f"`{n}`" for n in ranked["train"]) + ".")
        parts += [f"**{row['device_name']} ({row['device']}, {row['machine']})**. " + text
                  + " Ranks: strategies correct in every regime measured, by geometric-mean "
                  f"time relative to {b} (over the regimes of that device).", "", _md(table),
                  ""]
    return parts


def _memory_md(found: Findings) -> list[str]:
    from analysis.report import _fmt_bytes

    m = found.memory
    if m.empty:
        return ["_(no peak-memory measurements)_"]
    b = found.baseline
    table = pd.DataFrame({"device": m["device_name"].astype(str) + " (" + m["device"] + ")",
                          "strategy": "`" + m["strategy"] + "`",
                          "peak (median)": m["median_peak_bytes"].map(_fmt_bytes),
                          "peak (max)": m["max_peak_bytes"].map(_fmt_bytes),
                          f"÷ {b} (geomean)": m["vs_baseline"].map(_x)})
    for name in [c for c in m.columns if c.startswith("vs_baseline_")]:
        table[f"÷ {b}, {name.removeprefix('vs_baseline_')} lengths"] = m[name].map(_x)
    return [_md(table)]


def _ops_md(found: Findings) -> list[str]:
    if found.ops.empty:
        return ["The results hold no profile benchmarks yet (`profiles.Profiles.track_ops`, "
                "`track_ops_extract`; CUDA: `Kernels.track_kernels`, "
                "`HostSyncs.track_host_syncs`). They appear after an asv run of "
                "`benchmarks/profiles.py` is committed."]
    parts = [_md(found.ops_table), "",
             "Counts are exact (ATen ops at the dispatcher, below autograd: `nn.LSTM` shows as "
             "the kernels it reaches) and repeat from run to run. Per strategy:", ""]
    parts += [f"- **`{name}`**: {text}" for name, text in found.ops_notes.items()]
    caveat = ops_caveat(found.ops)
    return [*parts, *(["", caveat] if caveat else [])]


def _deploy_md(found: Findings) -> list[str]:
    if found.deploy is None or found.deploy.empty:
        return ["Not in these findings: no `docs/deploy-<device>.json`. Write one with "
                "`birnn-bench deploy --json docs/deploy-cpu.json` (or `DEPLOY=1 "
                f"{COMMAND}`), then rebuild."]
    d = found.deploy
    sources_text = ", ".join(f"`{x}`" for x in dict.fromkeys(d["source"]))
    parts = [f"From {sources_text}: each strategy wrapped in a module and deployed; "
             "`works` = every probe shape ran and matched eager, `wrong` = ran but differs, "
             "`fails` = deploying or running raised, `unavailable` = an optional dependency is "
             "missing. Cells: every cell × layers measured.", "",
             _md(deploy_table(d).assign(strategy=lambda t: "`" + t["strategy"] + "`"))]
    details = deploy_details(d)
    if not details.empty:
        parts += ["", "Why (each distinct message; `*`: the first note of a technology's noted "
                  "cells):", "", _md(details)]
    return parts


def _crosscheck_md(found: Findings) -> list[str]:
    if not found.crosscheck:
        return ["No `docs/crosscheck-<device>.json`: run `python scripts/crosscheck.py --json "
                "docs/crosscheck-cpu.json` and rebuild."]
    parts = ["`scripts/crosscheck.py` times three strategies on three shapes in one process, "
             "alternating asv's own runner (the `TimeBenchmark` `asv run` builds) and "
             "`torch.utils.benchmark` on the same case. Ratio = torch.utils.benchmark median / "
             "asv median (bootstrap 95% interval).", ""]
    for payload in found.crosscheck:
        env = payload.get("environment", {})
        worst = payload.get("largest_disagreement")
        tol = payload.get("tolerance")
        verdict = "agree" if payload.get("agree") else "DISAGREE"
        parts.append(f"- `{payload['source']}`: torch {env.get('torch', '?')}, "
                     f"{env.get('threads', '?')} thread(s), GPU {env.get('gpu', 'none')}: "
                     f"largest disagreement {worst * 100:.1f}% against a tolerance of "
                     f"{tol * 100:.0f}%: **{verdict}**." if worst is not None and tol
                     else f"- `{payload['source']}`")
    return [*parts, "", _md(found.crosscheck_table.drop(columns="source"))]


def _policy_md(found: Findings) -> list[str]:
    p = found.policy
    rules = pd.DataFrame(p["rules"])
    parts = ["`strategy=\"auto\"` in `last_states` reads `birnn_bench/auto_policy.json`, "
             "written by this command. Allowed (correct on every condition of the check): "
             + ", ".join(f"`{n}`" for n in p["correct_everywhere"]) + ". "
             + p["generated_from"]["rule"][0].upper() + p["generated_from"]["rule"][1:]
             + f" (α = {p['generated_from']['alpha']:g}, metric "
             f"`{p['generated_from']['metric']}`). The lookup takes the nearest measured "
             "rule on the same device (layers, then length pattern, then batch on a log "
             "scale); a device without rules gets `hn_index`.", ""]
    if rules.empty:
        return [*parts, "_(no rules: no timed regime)_"]
    rules = rules.rename(columns={"vs_baseline": "time ÷ baseline (geomean)",
                                  "significant_in": "significantly faster in",
                                  "sub_regimes": "sub-regimes",
                                  "best_other": "best other candidate",
                                  "best_other_vs_baseline": "its time ÷ baseline",
                                  "best_other_significant_in": "it is significantly faster in"})
    rules["strategy"] = "`" + rules["strategy"] + "`"
    rules["best other candidate"] = rules["best other candidate"].map(
        lambda n: f"`{n}`" if isinstance(n, str) else "—")
    return [*parts, _md(rules)]


def _sources_md(found: Findings) -> list[str]:
    src = found.sources
    parts = []
    if not src.empty:
        table = src.assign(commit=src["commit"].str[:8]).rename(columns={"date": "commit date"})
        parts += [_md(table), ""]
    parts.append(f"Correctness: `birnn-bench check` under torch {found.check.get('torch', '?')}"
                 f", {max((int(i['total']) for i in found.check['summary'].values()), default=0)}"
                 " conditions × "
                 f"{len(found.check['summary'])} strategies; tolerances "
                 + ", ".join(f"{k} {v:.0e}" for k, v in found.check.get("tolerances", {}).items())
                 + ".")
    if found.problems:
        parts += ["", "Data problems while loading (the rest was used):", ""]
        parts += [f"- {p.severity}: `{p.path}`: {p.message}" for p in found.problems]
    return parts


def _figure(name: str, href: str, found: Findings | None = None) -> str:
    if found is not None and name not in found.figure_names:
        return ""
    return f"![{FIGURES[name]}]({href}/{name}.png)"


def render_findings(found: Findings, figures_href: str = "figures") -> str:
    """docs/FINDINGS.md: Markdown with relative image links ``{figures_href}/<name>.png``."""
    b = found.baseline
    c = found.claims
    false = c[c["verdict"] == "false"]
    partial = c[c["verdict"].str.startswith("holds only")]
    held = c[c["verdict"] == "holds"]
    lines = [
        "# Findings: the last hidden state of a bidirectional LSTM/GRU in PyTorch", "",
        f"<!-- Generated by `{COMMAND}` (python -m analysis findings) from committed results; "
        "do not edit by hand. -->", "",
        f"Built from committed asv results ({_source_text(found)}) and the correctness check. "
        f"Rebuild everything with `{COMMAND}`.", "",
        "## In short", "",
        f"- Use `{b}` (pack with `enforce_sorted=False`, run, `h_n.view(num_layers, 2, B, H)"
        "[-1]`) or `last_states(rnn, x, lengths)`: correct on every condition of the check "
        f"({_passed(found, b)}). Correct everywhere: "
        + ", ".join(f"`{n}`" for n in found.everywhere) + ".",
        f"- Of the thread's {len(c)} claims, {len(held)} hold, {len(partial)} hold only under "
        f"a condition ({', '.join(partial['id'])}) and {len(false)} are false "
        f"({', '.join(false['id'])}).",
        *[f"- {line}" for line in _speed_lines(found)],
        "", "## 1. The thread's claims, settled by the oracle", "",
        "Each claim is mapped to the strategy that implements it; the verdict is computed from "
        "`birnn-bench check` (every strategy against a per-sequence float64 oracle on "
        f"{_conditions(found)} conditions: cells LSTM / LSTM with projection / GRU / RNN, 1–3 "
        "layers, both layouts, five length patterns, float64 and float32).", "",
        *_claims_md(found), "",
        "Every strategy in the check:", "",
        _md(found.verdicts.assign(strategy="`" + found.verdicts["strategy"] + "`")), "",
        _figure("check_matrix", figures_href), "",
        "## 2. Headline: the fastest correct strategy per device and regime", "",
        HEADLINE_LEGEND.format(b=b, alpha=s.ALPHA), "",
        *_headline_sections(found, "###"),
        _figure("speedup", figures_href), "", _figure("time_vs_batch", figures_href), "",
        "## 3. Training step (forward + backward): the ranking", "",
        *_ranking_md(found),
        _figure("train_speedup", figures_href), "",
        "## 4. Memory per strategy", "",
        "Peak bytes allocated by one inference forward (CPU: allocator events recorded by "
        "torch.profiler, oneDNN scratch included; CUDA: `max_memory_allocated`).", "",
        *_memory_md(found), "", _figure("memory", figures_href), "",
        "## 5. What each strategy launches: op counts", "",
        *_ops_md(found), "", _figure("op_counts", figures_href, found), "",
        "## 6. Deployability", "",
        *_deploy_md(found), "",
        "## 7. Measurement integrity", "",
        *_crosscheck_md(found), "",
        "## 8. `strategy=\"auto\"`", "",
        *_policy_md(found), "",
        "## 9. Sources and method", "",
        *_sources_md(found), "",
        "Method: a strategy is correct on a benchmark regime only where the suite's error "
        "benchmark measured it within the oracle's tolerance on that regime; times are asv "
        "medians; a margin is significant by a permutation test on raw samples when recorded "
        f"(α = {s.ALPHA:g}) that every asv round (a separate process) reproduces, else when "
        "asv's 99% intervals do not overlap, so differences one process shows are not counted."
        f"{_spread_text(found)} Full tables: `docs/report/` (`python -m analysis report`).", "",
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _spread_text(found: Findings) -> str:
    """What the every-round criterion guarded against in these very results."""
    parts = [f"{r['device_name']} (`{r['device']}`, `{r['machine']}`): median "
             f"{r['median_spread']:.2f}×, up to {r['max_spread']:.2f}× over {r['points']} points"
             for r in found.round_spread.to_dict("records")]
    if not parts:
        return ""
    return (" The slowest round's median over the fastest round's, for one and the same point: "
            + "; ".join(parts) + ".")


def _passed(found: Findings, name: str) -> str:
    info = found.check["summary"].get(name)
    return f"{info['passed']}/{info['total']}" if info else "not in the check"


def _conditions(found: Findings) -> int:
    return max((int(i["total"]) for i in found.check["summary"].values()), default=0)


def _source_text(found: Findings) -> str:
    src = found.sources
    if src.empty:
        return "none"
    return "; ".join(f"machine `{r.machine}`, commit `{r.commit[:8]}` of {r.date[:10]}"
                     for r in src.drop_duplicates(["machine", "commit"]).itertuples())


def _speed_lines(found: Findings) -> list[str]:
    """Per device: how often the baseline is the fastest correct strategy or tied with it."""
    h = found.headline
    out = []
    b = found.baseline
    for row in found.devices.to_dict("records"):
        mask = np.ones(len(h), dtype=bool)
        for name in s.DEVICE_KEYS:
            mask &= (h[name] == row[name]).to_numpy()
        g = h[mask & h["strategy"].notna().to_numpy()]
        if g.empty:
            continue
        tied = int(g["baseline_tied"].fillna(False).astype(bool).sum())
        slower = g[~g["baseline_tied"].fillna(False).astype(bool)]
        text = (f"{row['device_name']} (`{row['device']}`, `{row['machine']}`): `{b}` is the "
                f"fastest correct strategy or statistically tied with it in {tied}/{len(g)} "
                f"regimes; the winner's time is {_x(_geomean(g['vs_baseline']))} of `{b}`'s "
                f"(geometric mean) and {_x(_geomean(g['vs_fastest']))} the fastest strategy "
                "of all's")
        if not slower.empty:
            wins = ", ".join(f"`{k}` {v}" for k, v in slower["strategy"].value_counts()
                             .sort_index().items())
            text += f"; significantly faster than `{b}` in {len(slower)}: {wins}"
            unsafe = slower[~slower["correct_everywhere"].fillna(False).astype(bool)]
            if len(unsafe) == len(slower):
                text += (" — each of them correct in that regime only (†), not on every "
                         "condition of the check")
            elif len(unsafe):
                text += f" ({len(unsafe)} of them correct in that regime only, †)"
        out.append(text + ".")
        out += _memory_line(found, row) + _ranking_line(found, row)
    if not (found.devices["device"] == "cuda").any():
        out.append("The H100: not measured yet (section 2 says how it is added).")
    return out


def _device_rows(frame: pd.DataFrame, row: Mapping[str, Any]) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for name in s.DEVICE_KEYS:
        mask &= (frame[name] == row[name]).to_numpy()
    return frame[mask]


def _memory_line(found: Findings, row: Mapping[str, Any]) -> list[str]:
    m = _device_rows(found.memory, row) if not found.memory.empty else found.memory
    m = m[m["strategy"].isin(found.everywhere)] if not m.empty else m
    if m.empty:
        return []
    m = m.sort_values(["vs_baseline", "strategy"])
    parts = ", ".join(f"`{r.strategy}` {_x(r.vs_baseline)}" for r in m.itertuples())
    return [f"Peak memory of one forward on {row['device_name']}, strategies correct "
            f"everywhere, relative to `{found.baseline}` (geometric mean): {parts}."]


def _ranking_line(found: Findings, row: Mapping[str, Any]) -> list[str]:
    r = _device_rows(found.ranking, row) if not found.ranking.empty else found.ranking
    if r.empty:
        return []
    orders = {}
    for label in ("forward", "train"):
        eligible = r[r[f"{label}_rank"].notna()].sort_values(f"{label}_rank")
        orders[label] = list(eligible["strategy"])
    if not orders["forward"] or not orders["train"]:
        return []
    text = " < ".join(f"`{n}`" for n in orders["train"])
    same = "same order as inference" if orders["forward"] == orders["train"] else \
        "inference: " + " < ".join(f"`{n}`" for n in orders["forward"])
    return [f"Training step (forward + backward) on {row['device_name']}, strategies correct "
            f"everywhere by geometric-mean time: {text} ({same})."]


def readme_block(found: Findings, figures_href: str = "docs/figures",
                 findings_href: str = "docs/FINDINGS.md") -> str:
    """The README's generated block (markers included): the headline table per device and one
    figure."""
    b = found.baseline
    lines = [
        README_START,
        f"<!-- Generated by `{COMMAND}` from committed results; edits between these markers "
        "are overwritten. -->", "",
        "## Findings: the fastest correct strategy", "",
        f"Built from committed results ({_source_text(found)}); the thread's claims settled, "
        f"memory, the training step, op counts, deployability and `strategy=\"auto\"` in "
        f"[{findings_href}]({findings_href}). Fastest correct: the fastest strategy measured "
        f"correct on that regime († = not correct on every condition of the check, so not a "
        f"safe default); ÷ {b}: its time over {b}'s; {b} tied?: {b} not significantly "
        f"slower; fastest of all: the floor, correct or not. Rebuild: `{COMMAND}`.", "",
        *_headline_sections(found, "###"),
        _figure(README_FIGURE, figures_href), "",
        README_END,
    ]
    return "\n".join(lines)


def replace_readme_block(readme: str, block: str, name: str = "README.md") -> str:
    """``readme`` with the text between the markers replaced by ``block`` (which carries the
    markers); when the markers are absent, inserted right after the "The answer in one call"
    section. Nothing outside the markers changes."""
    starts, ends = readme.count(README_START), readme.count(README_END)
    if starts != ends or starts > 1:
        raise InputError(f"{name}: expected one '{README_START}' and one '{README_END}', found "
                         f"{starts} and {ends}")
    if starts == 1:
        head, rest = readme.split(README_START, 1)
        if README_END not in rest:
            raise InputError(f"{name}: '{README_END}' comes before '{README_START}'")
        _, tail = rest.split(README_END, 1)
        return head + block + tail
    match = re.search(rf"^{re.escape(README_ANCHOR)}[^\n]*\n", readme, flags=re.MULTILINE)
    if match is None:
        raise InputError(f"{name}: no '{README_START}' markers and no '{README_ANCHOR}' section "
                         "to insert them after")
    following = re.search(r"^## ", readme[match.end():], flags=re.MULTILINE)
    at = match.end() + following.start() if following else len(readme)
    before = readme[:at]
    if not before.endswith("\n\n"):
        before = before.rstrip("\n") + "\n\n"
    return before + block + "\n\n" + readme[at:]


def policy_json(policy: Mapping[str, Any]) -> str:
    """The policy file's text (sorted keys inside rules; stable across runs)."""
    return json.dumps(policy, indent=2, allow_nan=False) + "\n"
