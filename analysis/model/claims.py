"""The thread's claims, settled by ``birnn-bench check --json`` (dicts in, DataFrames out).
:data:`CLAIMS` holds the quotes of the Stack Overflow thread "Taking the last state from BiLSTM
(BiGRU) in PyTorch" and the strategy embodying each, never a verdict: verdicts are computed from
the check's rows. :func:`safe` (correct on every condition) is what recommendations draw from."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.load.inputs import CHECK_FACTORS
from birnn_bench.strategies import STRATEGIES

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Part:
    """Evidence: ``strategy``'s ``half`` (both / fwd / bwd) is expected correct (``expect``)
    or wrong on the conditions of ``scope`` (a key of :data:`SCOPES`; all when empty)."""

    strategy: str
    expect: bool = True
    half: str = "both"
    scope: str = ""
    role: str = ""


@dataclass(frozen=True)
class Claim:
    id: str
    who: str
    quote: str
    parts: tuple[Part, ...]
    note: str = ""


_L2, _NOPAD, _LONG = "with num_layers ≥ 2", "without padding", "with T > 1"
SCOPES: dict[str, Callable[[Row], bool]] = {
    _L2: lambda row: int(row["num_layers"]) >= 2, _NOPAD: lambda row: not row["padded"],
    _LONG: lambda row: int(row["max_len"]) > 1}
CLAIMS: tuple[Claim, ...] = (
    Claim("Q", "the asker", "`u_emb_batch = lasthidden[-1] + lasthidden[-2]` after "
          "`pack_sequence(...)`: \"Is this correct?\"",
          (Part("hn_index", role="h_n's last two rows after packing"),)),
    Claim("A1a", "igrinis (answer 1)", "`lasthidden[0] + lasthidden[1]`, \"assuming you have "
          "only one layer\"", (Part("hn_first_layer", role="h_n's first two rows"),)),
    Claim("A1b", "igrinis (answer 1)", "\"If you have more layers, your variant seems better\"",
          (Part("hn_index", scope=_L2, role="the asker's h_n[-2:]"),
           Part("hn_first_layer", expect=False, scope=_L2, role="h_n[0:2]"))),
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
           Part("hn_padded", half="bwd", scope=_NOPAD, role="h_n's backward half (padded batch)"),
           Part("padded_gather", half="bwd", scope=_NOPAD,
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
          (Part("last_step_naive", expect=False, half="bwd", scope=_LONG,
                role="the backward output at t=-1"),)),
)
_OK = {"both": "passed", "fwd": "fwd_ok", "bwd": "bwd_ok"}


def safe(check_summary: Mapping[str, Mapping]) -> list[str]:
    """Strategies that passed every condition of the check, in the registry's order."""
    order = {name: i for i, name in enumerate(STRATEGIES)}
    names = [n for n, info in check_summary.items()
             if info.get("total") and info.get("passed") == info.get("total")]
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def _pattern(rows: Sequence[Row], good: Callable[[Row], bool]) -> tuple[list[str], list[str]]:
    """(factor values under which every row is bad, under which none is) as ``field=value``,
    as ``birnn_bench.check.summarize`` computes them; empty when all or none are good."""
    if sum(bool(good(r)) for r in rows) in (0, len(rows)):
        return [], []
    always, never = [], []
    for name in CHECK_FACTORS:
        for value in dict.fromkeys(r[name] for r in rows):
            bad = [not good(r) for r in rows if r[name] == value]
            (always if all(bad) else never if not any(bad) else []).append(f"{name}={value}")
    return always, never


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def describe_conditions(conditions: Sequence[str], rows: Sequence[Row]) -> str:
    """``["num_layers=2", "num_layers=3"]`` -> ``"num_layers ≥ 2"``; ``padded=True`` with the
    length patterns it covers -> ``"the batch is padded (lengths sorted)"``; alternatives are
    joined with "or" (each one alone decides)."""
    by_field: dict[str, list[str]] = {}
    for condition in conditions:
        name, _, value = condition.partition("=")
        by_field.setdefault(name, []).append(value)
    parts = []
    for name, values in by_field.items():
        if name == "lengths" and "padded" in by_field:
            continue
        if name == "padded":
            text = "the batch is padded" if values[0] == "True" else "no sequence is padded"
            lengths = by_field.get("lengths")
            parts.append(text + (f" (lengths {', '.join(lengths)})" if lengths else ""))
            continue
        numbers = [_number(v) for v in values]
        if len(values) > 1 and all(n is not None for n in numbers):
            low = min(n for n in numbers if n is not None)
            above = {str(r[name]) for r in rows if (_number(str(r[name])) or -math.inf) >= low}
            if above == set(values):
                parts.append(f"{name} ≥ {values[numbers.index(low)]}")
                continue
        parts.append(f"{name} = {' or '.join(values)}")
    return " or ".join(parts)


@dataclass
class _Result:
    part: Part
    rows: list[dict]
    good: int
    always: list[str]
    never: list[str]


def _evaluate(part: Part, summary: Mapping[str, Mapping], rows: Sequence[dict]) -> _Result:
    mine = [r for r in rows if r["strategy"] == part.strategy
            and (not part.scope or SCOPES[part.scope](r))]

    def good(row: Row) -> bool:
        return bool(row[_OK[part.half]]) == part.expect

    info = summary.get(part.strategy, {})
    if not part.scope and part.half == "both" and part.expect and "always_fails" in info:
        always, never = list(info["always_fails"]), list(info["never_fails"])
    else:
        always, never = _pattern(mine, good)
    return _Result(part, mine, sum(good(r) for r in mine), always, never)


def _part_text(result: _Result) -> str:
    part, n, rows = result.part, len(result.rows), result.rows
    who = f"`{part.strategy}`" + ("" if part.half == "both" else f" ({part.half} half)")
    role = f" ({part.role})" if part.role else ""
    scope = f" {part.scope}" if part.scope else ""
    if n == 0:
        return f"{who}{role}: no condition of the check{scope}, not tested"
    word, other = ("correct", "wrong") if part.expect else ("wrong", "correct")
    text = f"{who}{role}: {word} in {result.good}/{n}{scope}"
    if 0 < result.good < n:
        if result.never:
            text += f"; {word} whenever {describe_conditions(result.never, rows)}"
        if result.always:
            text += f"; {other} whenever {describe_conditions(result.always, rows)}"
    if part.half == "both" and part.expect and result.good < n:
        pieces = []
        for half in ("fwd", "bwd"):
            wrong = sum(not r[_OK[half]] for r in rows)
            always = _pattern(rows, lambda r, ok=_OK[half]: bool(r[ok]))[0]
            if wrong == n:
                pieces.append(f"{half} half wrong in every condition")
            elif wrong:
                pieces.append(f"{half} half wrong " + (
                    f"whenever {describe_conditions(always, rows)} ({wrong}/{n})" if always
                    else f"in {wrong}/{n} (no single factor decides)"))
        text += " — " + ", ".join(pieces) if pieces else ""
    misses = [r.get("max_abs_error" if part.half == "both" else f"{part.half}_error")
              for r in rows if not r[_OK[part.half]]]
    misses = [m for m in misses if m is not None]
    if misses and (result.good < n if part.expect else result.good > 0):
        tolerance = max((r.get("tolerance") or 0) for r in rows)
        text += f"; off by ≥ {min(misses):.2g} where wrong (tolerance ≤ {tolerance:.0e})"
    return text


def _verdict(results: Sequence[_Result]) -> str:
    tested = [r for r in results if r.rows]
    if not tested:
        return "not tested"
    if any(r.good == 0 for r in tested):
        return "false"
    if all(r.good == len(r.rows) for r in tested):
        return "holds" if len(tested) == len(results) else "holds where tested"
    conditions = [describe_conditions(r.never, r.rows) for r in tested
                  if r.good < len(r.rows) and r.never]
    if conditions:
        return "holds only when " + " and ".join(dict.fromkeys(conditions))
    held, total = sum(r.good for r in tested), sum(len(r.rows) for r in tested)
    return f"holds in {held}/{total} (no single factor decides)"


def claims(check_summary: Mapping[str, Mapping], check_rows: Sequence[Row]) -> pd.DataFrame:
    """Every claim with its verdict ("holds", "holds only when ...", "false", "not tested"):
    columns id, who, quote, strategies, verdict, evidence_held ("k/n" conditions where the
    evidence came out as the claim says), where (per strategy), note."""
    rows = [dict(r) for r in check_rows]
    out = []
    for claim in CLAIMS:
        results = [_evaluate(part, check_summary, rows) for part in claim.parts]
        held, total = sum(r.good for r in results), sum(len(r.rows) for r in results)
        out.append({"id": claim.id, "who": claim.who, "quote": claim.quote,
                    "strategies": ", ".join(dict.fromkeys(p.strategy for p in claim.parts)),
                    "verdict": _verdict(results), "evidence_held": f"{held}/{total}",
                    "where": "; ".join(_part_text(r) for r in results), "note": claim.note})
    return pd.DataFrame(out, columns=["id", "who", "quote", "strategies", "verdict",
                                      "evidence_held", "where", "note"])
