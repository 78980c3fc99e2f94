"""The findings' kernels section (pure): ``scripts/kernels.py --json`` payloads (one per machine)
in; per machine and regime which rnn kernel family each strategy's call runs with oneDNN on and
off, the padded ÷ packed time under each, machines side by side, and the sentence that says why
LSTM ratios move between CPUs and GRU ratios do not, all computed from the payloads."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from analysis.model import numbers as num
from analysis.model import paired
from analysis.model.paired import regime_label
from birnn_bench.compare import RESOLVED, Interval

ONEDNN = "oneDNN"
SHORT = {"native per-step": "per-step", "native fused": "fused"}
WHAT = {"oneDNN": "oneDNN's whole-sequence kernel (`aten::mkldnn_rnn_layer`",
        "native per-step": "ATen's cell step by step (`aten::addmm` + pointwise gates per step",
        "native fused": "ATen's fused cell per step (`aten::_thnn_fused_*_cell`"}
#: Regimes in the order the payload lists them (the quick grid's), grouped by cell and layers.
_CELLS = {"lstm": 0, "gru": 1}


def _sorted(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(rows, key=lambda row: (_CELLS.get(row["cell"], 9), row["layers"]))


def _cell(on: Mapping[str, Any] | None, off: Mapping[str, Any] | None) -> str:
    def text(row: Mapping[str, Any]) -> str:
        return f"{SHORT.get(row['family'], row['family'])} {int(row['run_ops']):,}"

    if on is None or off is None:
        return text(on or off) if (on or off) else ""
    same = on["family"] == off["family"] and on["run_ops"] == off["run_ops"]
    return text(on) if same else f"{text(on)} → {text(off)}"


def families(payload: Mapping[str, Any]) -> pd.DataFrame:
    """One machine: rows regimes, columns strategies (registry order); a cell is the kernel
    family and the ATen ops of the rnn call with oneDNN on, "→" the same with it off where
    they differ."""
    rows = payload["rows"]
    by = {(r["regime"], r["strategy"], bool(r["onednn"])): r for r in rows}
    names = paired.strategy_order(r["strategy"] for r in rows)
    out, seen = [], set()
    for r in _sorted(rows):
        if r["regime"] in seen:
            continue
        seen.add(r["regime"])
        out.append({"regime": regime_label(r), **{
            f"`{n}`": _cell(by.get((r["regime"], n, True)), by.get((r["regime"], n, False)))
            for n in names}})
    return pd.DataFrame(out)


def ratios(payloads: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Machines side by side: rows regimes, per machine the padded ÷ packed time (median of the
    paired per-round ratios, 99% interval) with oneDNN on and off."""
    timings = {(p["machine"], t["regime"], bool(t["onednn"])): t
               for p in payloads for t in p["timings"]}
    firsts = {t["regime"]: t for p in payloads for t in p["timings"]}
    out = []
    for t in _sorted(firsts.values()):
        row = {"regime": regime_label(t)}
        for p in payloads:
            for flag, label in ((True, "on"), (False, "off")):
                found = timings.get((p["machine"], t["regime"], flag))
                row[f"`{p['machine']}` oneDNN {label}"] = "" if found is None else \
                    num.ratio_interval(found["ratio"], found["ratio_low"], found["ratio_high"])
        out.append(row)
    return pd.DataFrame(out)


def resolution(payload: Mapping[str, Any]) -> str:
    """How fine the machine's comparisons resolve: their A/A (the packed call against itself in
    the same rounds), by the engine's rule."""
    intervals = [Interval(t["aa"], t["aa_low"], t["aa_high"]) for t in payload["timings"]
                 if all(k in t for k in ("aa", "aa_low", "aa_high"))]
    if not intervals:
        return f"`{payload['machine']}`: no A/A recorded."
    resolved = sum(i.resolves for i in intervals)
    widths = [i.half_width for i in intervals]
    return (f"`{payload['machine']}`: the A/A (the packed call against itself in the same "
            f"rounds) resolves (inside 1 ± {RESOLVED:.0%}, not significant) in "
            f"{resolved}/{len(intervals)} comparisons "
            f"(median half-width {statistics.median(widths):.1%}, "
            f"{payload.get('budget_s', '?')} s "
            "each); elsewhere no difference of a few percent is decided, and the "
            "ratios above are read by their intervals.")


def _families_of(payloads: Sequence[Mapping[str, Any]], cell: str, strategies: Sequence[str],
                 flags: Sequence[bool], equal: bool) -> dict[str, tuple[int, int]]:
    """family -> (fewest, most) ATen ops of ``strategies``' calls on ``cell`` over the machines,
    with oneDNN in ``flags``, on regimes of equal lengths (``equal``) or not."""
    found: dict[str, list[int]] = {}
    for p in payloads:
        for r in p["rows"]:
            if (r["cell"] == cell and r["strategy"] in strategies and bool(r["onednn"]) in flags
                    and (r["lengths"] == "equal") == equal):
                found.setdefault(r["family"], []).append(int(r["run_ops"]))
    return {family: (min(ops), max(ops)) for family, ops in found.items()}


def _say(found: Mapping[str, tuple[int, int]]) -> str:
    """``oneDNN's whole-sequence kernel (`aten::mkldnn_rnn_layer`; 14–21 ATen ops)``."""
    parts = []
    for family, (low, high) in found.items():
        ops = f"{low:,}" + (f"–{high:,}" if high != low else "") + " ATen ops)"
        parts.append(f"{WHAT[family]}; {ops}" if family in WHAT else f"{family} ({ops}")
    return " or ".join(parts) or "nothing measured"


def _span(values: Sequence[float], unit: str = "×") -> str:
    low, high = min(values), max(values)
    if f"{low:.2f}" == f"{high:.2f}":
        return f"{low:.2f}{unit}"
    return f"{low:.2f}–{high:.2f}{unit}"


def _timed(payload: Mapping[str, Any]) -> str:
    """``LSTM 1.07–2.07× on, 2.30–3.85× off (off ÷ on 1.62–2.24); GRU ...`` over the regimes whose
    lengths differ, "" when none is timed both ways."""
    pairs: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
    by = {(t["regime"], bool(t["onednn"])): t for t in payload["timings"]
          if t["lengths"] != "equal"}
    for (regime, flag), t in by.items():
        if flag and (regime, False) in by:
            pairs.setdefault(t["cell"], []).append((t, by[(regime, False)]))
    parts = []
    for cell in ("lstm", "gru"):
        got = pairs.get(cell)
        if not got:
            continue
        apart = sum(on["ratio_high"] < off["ratio_low"] or off["ratio_high"] < on["ratio_low"]
                    for on, off in got)
        parts.append(f"{cell.upper()} {_span([on['ratio'] for on, _ in got])} on, "
                     f"{_span([off['ratio'] for _, off in got])} off (off ÷ on per regime "
                     f"{_span([off['ratio'] / on['ratio'] for on, off in got], '')}; the two "
                     f"99% intervals apart in {apart}/{len(got)} regimes)")
    return "; ".join(parts)


def why(payloads: Sequence[Mapping[str, Any]]) -> str:
    """Why LSTM ratios move between CPUs and GRU ratios hold, from the payloads: which kernels
    each cell's padded and packed calls run with oneDNN on and off (op counts), and the padded ÷
    packed time under each on the regimes whose lengths differ (where packing skips padding)."""
    if not payloads:
        return ""
    padded, packed = [payloads[0]["padded"]], [payloads[0]["packed"]]
    lstm_on = _families_of(payloads, "lstm", padded, (True,), False)
    lstm_off = _families_of(payloads, "lstm", padded, (False,), False)
    lstm_packed = _families_of(payloads, "lstm", packed, (True, False), False)
    lstm_equal = _families_of(payloads, "lstm", packed, (True,), True)
    gru = {flag: _families_of(payloads, "gru", padded + packed, (flag,), False)
           for flag in (True, False)}
    gru_all = _families_of(payloads, "gru", padded + packed, (True, False), False)
    timed = [f"`{p['machine']}` ({p['hardware'].get('cpu_capability', '?')}): {text}"
             for p in payloads if (text := _timed(p))]
    text = (f"Why, from the op counts: with oneDNN on, an LSTM's padded call (`{padded[0]}`) "
            f"is {_say(lstm_on)}, with it off {_say(lstm_off)}; its packed call "
            f"(`{packed[0]}`) is {_say(lstm_packed)} either way wherever the lengths differ"
            + (f" (with every length equal to T and oneDNN on, it is {_say(lstm_equal)} too)"
               if ONEDNN in lstm_equal else "")
            + f"; a GRU's padded and packed calls are {_say(gru_all)}, oneDNN on or off. "
            "Padded ÷ packed time on the regimes whose lengths differ: "
            + (" | ".join(timed) or "not timed") + ".")
    unpacked = paired.strategy_order(
        r["strategy"] for p in payloads for r in p["rows"]
        if r["cell"] == "lstm" and r["lengths"] != "equal" and r["onednn"]
        and ONEDNN in r["family"])
    if (ONEDNN in lstm_on and ONEDNN not in lstm_off and ONEDNN not in lstm_packed
            and ONEDNN not in gru_all and set(gru[True]) == set(gru[False])):
        text += (" So an LSTM's padded-versus-packed standing (and with it that of every "
                 f"strategy whose LSTM call runs oneDNN: {', '.join(f'`{n}`' for n in unpacked)})"
                 " is set by how fast oneDNN's kernel runs against ATen's per-step cell on the "
                 "CPU at hand, which is why LSTM ratios differ between CPUs; a GRU runs the "
                 "same ATen ops on both paths whatever the flag, so its ratios hold across CPUs.")
    spread = _across(payloads)
    if spread:
        text += f" Across the {len(payloads)} machines, {spread}."
    return text


def _across(payloads: Sequence[Mapping[str, Any]]) -> str:
    """The largest max ÷ min over machines of one regime's padded ÷ packed time (oneDNN on),
    per cell, over regimes whose lengths differ: "" with fewer than two machines."""
    if len(payloads) < 2:
        return ""
    got: dict[tuple[str, str], list[float]] = {}
    for p in payloads:
        for t in p["timings"]:
            if t["onednn"] and t["lengths"] != "equal":
                got.setdefault((t["cell"], t["regime"]), []).append(t["ratio"])
    parts = []
    for cell in ("lstm", "gru"):
        spans = [max(v) / min(v) for (c, _), v in got.items() if c == cell and len(v) > 1]
        if spans:
            parts.append(f"{cell.upper()}'s padded ÷ packed time (oneDNN on) differs by up to "
                         f"{max(spans):.2f}× between machines on one regime")
    return ", ".join(parts)
