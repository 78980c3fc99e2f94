"""docs/FINDINGS.md and the README's generated block from a :class:`~analysis.model.findings.
Findings`, by the templates ``findings.md`` and ``readme_block.md``: here the sentences that put
its numbers into words and the tables the templates show. No absolute path of the machine that
built them ends up in the text (:func:`strip_paths`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.load.inputs import InputError
from analysis.model import answer, deployability, kernels, paired
from analysis.model import findings as f
from analysis.model import numbers as num
from analysis.model.findings import DEVICE_KEYS, Findings
from analysis.model.paired import MODE_LABELS, in_regime_order, regime_label
from analysis.model.resolution import REQUIRED_SHARE
from analysis.render import format as fmt
from analysis.render import views
from analysis.render.templates import render
from birnn_bench.compare import RESOLVED
from birnn_bench.hardware import describe
from birnn_bench.resolution import SLOWDOWN

README_START, README_END = "<!-- findings:start -->", "<!-- findings:end -->"
COMMAND, GPU_COMMAND = "bash scripts/findings.sh", "bash scripts/gpu_run.sh"
KERNELS_COMMAND = "python3 scripts/kernels.py"
_ABSOLUTE = re.compile(r"(?<![\w.:/~])/(?:[\w.+-]+/)+")


def strip_paths(text: str) -> str:
    """Absolute paths cut to their last component (``/home/x/y.py`` -> ``…/y.py``)."""
    return _ABSOLUTE.sub("…/", text)


def _code(names: Any) -> str:
    return ", ".join(f"`{n}`" for n in names) or "none"


def _date(value: Any) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def decided_text(found: Findings, machine: str, device: str, mode: str) -> str:
    """Which regimes the ranking is decided in (and by what), which are tied."""
    d = found.decided
    d = d[(d["machine"] == machine) & (d["device"] == device) & (d["mode"] == mode)]
    b, n = found.baseline, len(d)
    won = [f"{r.label} (`{r.winner}` {num.interval(r.low, r.high)} of `{b}`'s time)"
           for r in d[d["status"] == "faster"].itertuples()]
    won += [f"{r.label} (`{b}`: every other safe strategy significantly slower)"
            for r in d[d["status"] == "baseline"].itertuples()]
    tied = list(d.loc[d["status"] == "tied", "label"])
    unresolved = list(d.loc[d["status"] == "unresolved", "label"])
    parts = [f"Decided in {len(won)}/{n} regime(s)" + (": " + "; ".join(won) if won else "")]
    if tied:
        parts.append(f"Tied in {len(tied)}/{n} (no safe strategy significantly faster than "
                     f"`{b}`, and `{b}` not faster than every other): " + "; ".join(tied))
    if unresolved:
        parts.append(f"Unresolved in {len(unresolved)}/{n} (the regime's A/A reaching beyond "
                     f"1 ± {RESOLVED:.0%} or significant: nothing decided, `{b}` stays): "
                     + "; ".join(unresolved))
    return ". ".join(parts) + "."


def resolution_line(res: Mapping[str, pd.DataFrame] | None) -> str:
    """The resolution of the grid's own run in one sentence per machine (``model.resolution``:
    the A/A and a known 5% slowdown timed in the same rounds as the grid)."""
    totals = res["summary"] if res is not None else pd.DataFrame()
    if totals.empty:
        return ("Resolution not measured: the grid's run has no A/A (`ratios.Paired*`), so "
                "nothing in it is decided.")
    parts = []
    for (machine, commit), t in totals.groupby(["machine", "commit"], sort=True):
        modes = [f"{MODE_LABELS.get(x.mode, x.mode)}: A/A 99% interval inside "
                 f"1 ± {RESOLVED:.0%} in {x.inside}/{x.regimes} regimes (its farthest bound "
                 f"{x.farthest:.1%} off 1; half-width within ±{RESOLVED:.0%} in "
                 f"{x.within}/{x.regimes}), "
                 f"{f'{x.significant}/{x.regimes}' if x.significant else 'none'} significant, "
                 f"a {SLOWDOWN:.0%} slowdown detected in {x.detected}/{x.regimes}, median "
                 f"half-width {x.median_half_width:.1%}" for x in t.itertuples()]
        parts.append(f"Resolution of the grid's own run (`{machine}`, `{str(commit)[:8]}`): "
                     + "; ".join(modes) + ".")
    return " ".join(parts)


def _resolution(res: Mapping[str, pd.DataFrame] | None) -> list[str]:
    line = resolution_line(res)
    if res is None or res["summary"].empty:
        return [line]
    totals, regimes = res["summary"], res["regimes"]
    verdicts = ", ".join(f"`{x.machine}` {MODE_LABELS.get(x.mode, x.mode)}: "
                         f"**{'passed' if x.passed else 'not passed'}**"
                         for x in totals.itertuples())
    misses = regimes[~regimes["resolved"]
                     | ~regimes["detected"].eq(True)]
    shown = [f"{x.label} ({MODE_LABELS.get(x.mode, x.mode)}: A/A "
             f"[{x.aa_low:.3f}, {x.aa_high:.3f}], +{SLOWDOWN:.0%} copy "
             + (f"[{x.slowed_low:.3f}, {x.slowed_high:.3f}]" if pd.notna(x.slowed)
                else "not timed") + ")" for x in misses.itertuples()]
    return [f"{line} Each regime's A/A is the baseline against itself and the {SLOWDOWN:.0%} "
            "slowdown a calibrated copy of the baseline, both timed in the same rounds as the "
            f"grid's candidates (`docs/resolution.json` lists every regime). A regime decides "
            f"only when its A/A's whole interval lies inside 1 ± {RESOLVED:.0%} and is not "
            f"significant; elsewhere the grid says unresolved. Criteria: the A/A inside "
            f"1 ± {RESOLVED:.0%} and the slowdown detected "
            f"in ≥ {REQUIRED_SHARE:.0%} of regimes, no A/A significant: {verdicts}.", "",
            "Regimes that miss a criterion: " + ("; ".join(shown) or "none") + "."]


def reproducibility_lines(found: Findings) -> list[str]:
    r = found.reproducibility
    if r.empty:
        return ["Reproducibility: no machine has paired ratios on two commits yet; the next "
                "run on the same machine adds the comparison."]
    return [f"`{x.machine}`, {MODE_LABELS.get(x.mode, x.mode)}: commit `{x.new[:8]}` against "
            f"`{x.old[:8]}`, |ratio ÷ ratio − 1| over {x.points} regime × strategy points "
            f"correct on both: median {x.median:.1%}, max {x.max:.1%} ({x.worst}); "
            f"target ≤ {f.REPRODUCIBLE_MEDIAN:.0%} median, ≤ {f.REPRODUCIBLE_MAX:.0%} max: "
            f"**{'passed' if x.passed else 'failed'}**." for x in r.itertuples()]


def _policy(found: Findings) -> list[str]:
    p, b = found.policy, found.baseline
    rule = p["generated_from"]["rule"]
    lines = [f"`strategy=\"auto\"` in `last_states` reads `birnn_bench/auto_policy.json`, "
             f"written by this command, and before it the local policy `birnn-bench tune` "
             f"writes for this machine. Allowed: {_code(p['correct_everywhere'])}. "
             f"{rule[0].upper()}{rule[1:]}. An entry applies only on the hardware it was "
             f"measured on (elsewhere `auto` is `{b}` until `birnn-bench tune` has run, and "
             "says so once); the lookup takes the rules of the call's device, cell, mode and "
             "full-length-or-not, then the nearest in layers, length pattern, dtype, T, batch "
             "and hidden size.", ""]
    for entry in p["machines"]:
        moved = [r for r in entry["rules"] if r["strategy"] != b]
        lines += [f"- `{entry['machine']}` ({describe(entry['hardware'])}, commit "
                  f"`{entry['commit'][:8]}`): {len(entry['rules'])} rules, "
                  f"{len(moved)} off `{b}`" + (": " + "; ".join(
                      f"{MODE_LABELS.get(r['mode'], r['mode'])} {r['cell']} {r['layers']}L "
                      f"B{r['batch']} T{r['max_len']} {r['lengths']}: `{r['strategy']}` "
                      f"{num.interval(r['low'], r['high'])}" for r in moved) if moved else "")]
    return lines + ([] if p["machines"] else [f"_(no machines: `auto` is `{b}` everywhere)_"])


def _sources(found: Findings, conditions: int) -> list[str]:
    summary = found.check["summary"]
    tolerances = ", ".join(f"{k} {v:.0e}" for k, v in found.check.get("tolerances", {}).items())
    parts = [f"Results: {_source_text(found)}. Correctness: `birnn-bench check` under torch "
             f"{found.check.get('torch', '?')}, {conditions} conditions × {len(summary)} "
             f"strategies; tolerances {tolerances}."]
    return parts + (["", f"{len(found.problems)} data problem(s) while loading (the rest was "
                     "used): see [the report's Data problems](report/index.html#problems)."]
                    if found.problems else [])  # listed there, with what clears each


def _source_text(found: Findings) -> str:
    text = "; ".join(f"machine `{r.machine}` ({r.devices}), commit `{r.commit[:8]}` of "
                     f"{_date(r.date)}, torch {r.torch}" for r in found.sources.itertuples())
    return text or "none"


def replace_readme_block(readme: str, block: str, name: str = "README.md") -> str:
    """``readme`` with the text between its one pair of markers replaced by ``block`` (which
    carries the markers); nothing outside them changes."""
    starts, ends = readme.count(README_START), readme.count(README_END)
    if (starts, ends) != (1, 1) or readme.index(README_END) < readme.index(README_START):
        raise InputError(f"{name}: expected one '{README_START}' followed by one "
                         f"'{README_END}', found {starts} and {ends}")
    head, rest = readme.split(README_START, 1)
    return head + block + rest.split(README_END, 1)[1]


def grid_sections(found: Findings, device: str) -> dict[str, Any]:
    """The grids of one device (``grid_sections.md``): per machine and mode a heading, the grid,
    its floor note and what it decides; or the ``message`` saying why there are none."""
    if found.grid.empty:
        return {"message": "No paired ratios in these results (`ratios.PairedForward` / "
                           "`ratios.PairedTrainStep`): an asv run of the current suite adds them."}
    keys = found.grid[DEVICE_KEYS].drop_duplicates().itertuples(index=False)
    devices = sorted((str(m), str(d), str(n)) for m, d, n in keys if d == device)
    if not devices:
        return {"message": f"No CUDA results yet: the GPU run (`{GPU_COMMAND}`) adds them; commit "
                           f"its asv results and rerun `{COMMAND}`."}
    return {"message": "", "grids": [g for machine, device, name in devices
                                     for g in _machine_grids(found, machine, device, name)]}


def _machine_grids(found: Findings, machine: str, device: str, name: str) -> list[dict]:
    mine = found.grid[(found.grid["machine"] == machine) & (found.grid["device"] == device)]
    src = found.sources[(found.sources["machine"] == machine)
                        & found.sources["commit"].isin(mine["commit"])]
    title = f"{name} — `{device}` on machine `{machine}`"
    for s in src.head(1).itertuples():
        title += (f", commit `{s.commit[:8]}` of {_date(s.date)}, torch {s.torch}"
                  + (f", {s.threads} thread(s)" if pd.notna(s.threads) else ""))
    return [{"heading": f"{title}: {label}", "frame": fmt.grid_frame(g),
             "note": fmt.floor_notes(g, found.check["summary"]),
             "decided": decided_text(found, machine, device, mode)}
            for mode, label in MODE_LABELS.items()
            if not (g := mine[mine["mode"] == mode]).empty]


def _limits(lim: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """How far the fastest correct strategy is from the limit, per padded regime, and the
    regimes beyond 1.5× of it."""
    if lim.empty:
        return pd.DataFrame(), ""
    far = lim[lim["gap"] > 1.5]
    return pd.DataFrame({
        "machine, commit": "`" + lim["machine"].astype(str) + "` `"
        + lim["commit"].astype(str).str[:8] + "`",
        "mode": lim["mode"].map(MODE_LABELS), "regime": lim["label"],
        "fill": lim["fill"].map("{:.2f}".format),
        "padded call": lim["padded"].map(num.ratio), "limit": lim["limit"].map(num.ratio),
        "fastest safe": "`" + lim["best"].astype(str) + "` " + lim["best_ratio"].map(num.ratio),
        "its distance to the limit": lim["gap"].map("{:.2f}×".format)}), "" if far.empty else (
        f"Beyond 1.5× of the limit in {len(far)}/{len(lim)} regimes ("
        + ", ".join(f"{x.label} {MODE_LABELS.get(x.mode, x.mode)} on `{x.machine}`: "
                    f"{x.gap:.2f}×" for x in far.itertuples()) + ").")


def _per_regime(frame: pd.DataFrame, baseline: str, cell: Any) -> list[dict[str, Any]]:
    """One table per machine and device: rows regimes, the baseline's value, then ``cell`` of
    every other strategy's row."""
    parts = []
    for (machine, device, name), g in frame.groupby(DEVICE_KEYS, sort=True):
        g = in_regime_order(g)
        names = [baseline, *[n for n in paired.strategy_order(g["strategy"]) if n != baseline]]
        rows = []
        for _, r in g.groupby("regime", sort=False):
            by = {row["strategy"]: row for _, row in r.iterrows()}
            rows.append({"regime": regime_label(r.iloc[0]),
                         **{n: cell(by[n]) if n in by else "" for n in names}})
        parts.append({"title": f"{name} (`{device}`, machine `{machine}`, commit "
                               f"`{str(g['commit'].iloc[0])[:8]}`)", "frame": pd.DataFrame(rows)})
    return parts


def _deploy(found: Findings) -> dict[str, Any] | None:
    d = found.deploy
    if d is None or d.empty:
        return None
    return {"conclusion": deployability.deploy_conclusion(
                deployability.deploy_survivors(d, found.safe)),
            "sources": "; ".join(deployability.deploy_sources(d)),
            "table": deployability.deploy_table(d).assign(
                strategy=lambda t: "`" + t["strategy"] + "`"),
            "noted": bool((d["note"].astype(str).str.strip() != "").any())
            if "note" in d else False, "details": deployability.deploy_details(d)}


def _crosscheck(found: Findings) -> list[str]:
    lines = []
    for payload in found.crosscheck:
        env, rows = payload.get("environment", {}), payload["rows"]
        text = (f"- `{payload['source']}`: torch {env.get('torch', '?')}, "
                f"{env.get('threads', '?')} thread(s), {len(rows)} points")
        if rows:
            worst = max(rows, key=lambda r: abs(r["ratio"] - 1))
            where = worst.get("regime") or regime_label({"dtype": "float32", **worst})
            text += (f"; largest disagreement {abs(worst['ratio'] - 1):.1%} "
                     f"(`{worst['strategy']}` on {where})")
        if payload.get("tolerance"):
            text += (f" against a tolerance of {payload['tolerance']:.1%}: "
                     f"**{'agree' if payload.get('agree') else 'DISAGREE'}**")
        lines.append(text + ".")
    return lines


def _kernels(payloads: list[dict]) -> dict[str, Any]:
    if not payloads:
        return {}
    return {"why": kernels.why(payloads), "ratios": kernels.ratios(payloads),
            "resolution": [kernels.resolution(p) for p in payloads],
            "families": [{"machine": p["machine"], "frame": kernels.families(p),
                          "about": f"{describe(p['hardware'])}; torch {p.get('torch', '?')}, "
                                   f"{p.get('threads', '?')} thread(s), "
                                   f"`{p.get('source', '?')}`"} for p in payloads]}


def _short(found: Findings, conditions: int) -> list[str]:
    """The "In short" list: the safe strategies, the claims' verdicts, where the ranking is
    decided, resolution and reproducibility."""
    cl, b = found.claims, found.baseline
    partial = cl[cl["verdict"].str.startswith("holds only")]
    false = cl[cl["verdict"] == "false"]
    return [f"Safe strategies (correct on all {conditions} conditions of the check): "
            f"{_code(found.safe)}; only these are ever recommended, `{b}` is the default.",
            f"Of the thread's {len(cl)} claims, {int((cl['verdict'] == 'holds').sum())} hold, "
            f"{len(partial)} hold only under a condition ({', '.join(partial['id'])}), "
            f"{len(false)} are false ({', '.join(false['id'])}).",
            *[f"{name} (`{device}`, machine `{machine}`), {MODE_LABELS[mode]}: the ranking "
              f"is decided in {d['status'].isin(['faster', 'baseline']).sum()}/{len(d)} "
              f"regime(s), tied in {(d['status'] == 'tied').sum()}, unresolved in "
              f"{(d['status'] == 'unresolved').sum()}."
              for (machine, device, name, mode), d in found.decided.groupby(
                  [*DEVICE_KEYS, "mode"], sort=True)],
            resolution_line(found.resolution), *reproducibility_lines(found)]


def render_findings(found: Findings) -> str:
    """docs/FINDINGS.md."""
    b, g, cl = found.baseline, found.grid, found.claims
    conditions = max((int(i["total"]) for i in found.check["summary"].values()), default=0)
    # machines' ratios compared beyond their A/As and the process-level A/A between two runs
    between = found.reproducibility.groupby("mode")["max"].max().to_dict() \
        if not found.reproducibility.empty else {}
    limits, far = _limits(found.limits)
    v = {"source_text": _source_text(found), "conditions": conditions,
         "answer": views.answer_view(answer.lines(g), answer.agreement(g),
                                     answer.differences(g, between), answer.hardware_facts(g)),
         "short": _short(found, conditions), "cpu": grid_sections(found, "cpu"),
         "cuda": grid_sections(found, "cuda"), "limits": limits, "far": far,
         "resolution": _resolution(found.resolution),
         "reproducibility": reproducibility_lines(found),
         "claims": pd.DataFrame({"#": cl["id"], "who": cl["who"], "claim": cl["quote"],
                                 "strategy": [_code(x.split(", ")) for x in cl["strategies"]],
                                 "verdict": "**" + cl["verdict"] + "**"}),
         "check_counts": ", ".join(f"`{n}` {i['passed']}/{i['total']}"
                                   for n, i in found.check["summary"].items()),
         "memory": [] if found.memory.empty else _per_regime(
             found.memory, b, lambda r: num.byte_count(r["value"]) if r["strategy"] == b
             else num.ratio(r["vs_baseline"])),
         "counts": [(f.COUNTS[metric], _per_regime(frame, b, lambda r: f"{r['value']:.0f}"))
                    for metric, frame in found.counts.items()],
         "cuda_counts": "track_kernels" in found.counts, "deploy": _deploy(found),
         "crosscheck": _crosscheck(found), "kernels": _kernels(found.kernels),
         "policy": _policy(found), "sources": _sources(found, conditions)}
    text = render("findings.md", f=found, v=v, b=b, command=COMMAND, legend=fmt.GRID_LEGEND,
                  kernels_command=KERNELS_COMMAND)
    return strip_paths(text.rstrip("\n") + "\n")


def readme_block(found: Findings, findings_href: str = "docs/FINDINGS.md") -> str:
    """The README's generated block, markers included: the grids of the newest CPU machine."""
    cpu = found.grid[found.grid["device"] == "cpu"] if not found.grid.empty else found.grid
    grids = None
    if not cpu.empty:
        newest = cpu.loc[cpu["date"].idxmax()]
        grids = _machine_grids(found, str(newest["machine"]), "cpu", str(newest["device_name"]))
    text = render("readme_block.md", start=README_START, end=README_END, command=COMMAND,
                  href=findings_href, legend=fmt.GRID_LEGEND,
                  v={"grids": grids, "safe": _code(found.safe),
                     "resolution": resolution_line(found.resolution)})
    return strip_paths(text.rstrip("\n"))
