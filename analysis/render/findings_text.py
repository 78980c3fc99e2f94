"""Text of the findings: ``docs/FINDINGS.md`` and the README's generated block (pure).
A :class:`~analysis.model.findings.Findings` in, Markdown out: every number comes from its
tables, and no absolute path of the machine that built them ends up in the text
(:func:`strip_paths`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from analysis.load.inputs import InputError
from analysis.model import answer, kernels, paired
from analysis.model import deployability as dep
from analysis.model import findings as f
from analysis.model import numbers as num
from analysis.model.findings import DEVICE_KEYS, Findings
from analysis.model.paired import MODE_LABELS, in_regime_order, regime_label
from analysis.model.resolution import REQUIRED_SHARE
from analysis.render import format as fmt
from analysis.render import report_answer as ra
from birnn_bench.compare import RESOLVED
from birnn_bench.hardware import describe
from birnn_bench.resolution import SLOWDOWN

README_START, README_END = "<!-- findings:start -->", "<!-- findings:end -->"
COMMAND, GPU_COMMAND = "bash scripts/findings.sh", "bash scripts/gpu_run.sh"
_ABSOLUTE = re.compile(r"(?<![\w.:/~])/(?:[\w.+-]+/)+")
_md = fmt.markdown_table


def strip_paths(text: str) -> str:
    """Absolute paths cut to their last component (``/home/x/y.py`` -> ``…/y.py``)."""
    return _ABSOLUTE.sub("…/", text)


def _iv(interval: Mapping[str, float]) -> str:
    return num.ratio_interval(interval["estimate"], interval["low"], interval["high"])


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
        parts.append(f"Unresolved in {len(unresolved)}/{n} (the regime's A/A wider than "
                     f"±{RESOLVED:.0%} or significant: nothing decided, `{b}` stays): "
                     + "; ".join(unresolved))
    return ". ".join(parts) + "."


def _grids(found: Findings, machine: str, device: str, name: str) -> list[str]:
    mine = found.grid[(found.grid["machine"] == machine) & (found.grid["device"] == device)]
    src = found.sources[(found.sources["machine"] == machine)
                        & found.sources["commit"].isin(mine["commit"])]
    title = f"{name} — `{device}` on machine `{machine}`"
    for s in src.head(1).itertuples():
        title += (f", commit `{s.commit[:8]}` of {_date(s.date)}, torch {s.torch}"
                  + (f", {s.threads} thread(s)" if pd.notna(s.threads) else ""))
    out = []
    for mode, label in MODE_LABELS.items():
        g = mine[mine["mode"] == mode]
        if not g.empty:
            note = fmt.floor_notes(g, found.check["summary"])
            out += [f"### {title}: {label}", "", _md(fmt.grid_frame(g)), "",
                    *([note, ""] if note else []), decided_text(found, machine, device, mode), ""]
    return out


def _limits(found: Findings) -> list[str]:
    """How far the fastest correct strategy is from the limit, per padded regime."""
    lim = found.limits
    if lim.empty:
        return []
    table = pd.DataFrame({
        "machine, commit": "`" + lim["machine"].astype(str) + "` `"
        + lim["commit"].astype(str).str[:8] + "`",
        "mode": lim["mode"].map(MODE_LABELS), "regime": lim["label"],
        "fill": lim["fill"].map("{:.2f}".format),
        "padded call": lim["padded"].map(num.ratio), "limit": lim["limit"].map(num.ratio),
        "fastest safe": "`" + lim["best"].astype(str) + "` " + lim["best_ratio"].map(num.ratio),
        "its distance to the limit": lim["gap"].map("{:.2f}×".format)})
    far = lim[lim["gap"] > 1.5]
    why = [] if far.empty else [
        f"Beyond 1.5× of the limit in {len(far)}/{len(lim)} regimes ("
        + ", ".join(f"{x.label} {MODE_LABELS.get(x.mode, x.mode)} on `{x.machine}`: "
                    f"{x.gap:.2f}×" for x in far.itertuples())
        + "). The limit is a bound no strategy here reaches: it is ONE fused call over the real "
        "tokens, while `bucketed` makes one call per bucket (each with its fixed cost, the "
        "per-call term of `birnn_bench/buckets.py`'s model) and pays for the sort, the "
        "gathers and the scatter back; the per-step strategies (`hn_index`, packed) run no "
        "fused kernel at all (GRU on CPU never does: section 10).", ""]
    return ["### How far the fastest safe strategy is from the limit", "",
            "The limit of a correct strategy is one fused call over the real tokens only: the "
            f"padded call's time (`hn_padded`, timed in the same rounds, wrong on these "
            "regimes) times the batch's fill (real tokens / (B × T)). Ratios to "
            f"`{found.baseline}`.", "", fmt.markdown_table(table), "", *why]


def _device_grids(found: Findings, device: str) -> list[str]:
    if found.grid.empty:
        return ["No paired ratios in these results (`ratios.PairedForward` / "
                "`ratios.PairedTrainStep`): an asv run of the current suite adds them.", ""]
    keys = found.grid[DEVICE_KEYS].drop_duplicates().itertuples(index=False)
    devices = sorted((str(m), str(d), str(n)) for m, d, n in keys if d == device)
    if not devices:
        return [f"No CUDA results yet: the GPU run (`{GPU_COMMAND}`) adds them; commit its "
                f"asv results and rerun `{COMMAND}`.", ""]
    return [fmt.GRID_LEGEND, "", *[line for machine, device, name in devices
                                   for line in _grids(found, machine, device, name)]]


def resolution_line(res: Mapping[str, pd.DataFrame] | None) -> str:
    """The resolution of the grid's own run in one sentence per machine (``model.resolution``:
    the A/A and a known 5% slowdown timed in the same rounds as the grid)."""
    totals = res["summary"] if res is not None else pd.DataFrame()
    if totals.empty:
        return ("Resolution not measured: the grid's run has no A/A (`ratios.Paired*`), so "
                "nothing in it is decided.")
    parts = []
    for (machine, commit), t in totals.groupby(["machine", "commit"], sort=True):
        modes = [f"{MODE_LABELS.get(x.mode, x.mode)}: A/A 99% half-width within "
                 f"±{RESOLVED:.0%} in {x.within}/{x.regimes} regimes (the whole interval inside "
                 f"1 ± {RESOLVED:.0%} in {x.inside}/{x.regimes}, its farthest bound "
                 f"{x.farthest:.1%} off 1), "
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
    misses = regimes[~regimes["within"] | regimes["significant"]
                     | ~regimes["detected"].eq(True)]
    shown = [f"{x.label} ({MODE_LABELS.get(x.mode, x.mode)}: A/A "
             f"[{x.aa_low:.3f}, {x.aa_high:.3f}], +{SLOWDOWN:.0%} copy "
             + (f"[{x.slowed_low:.3f}, {x.slowed_high:.3f}]" if pd.notna(x.slowed)
                else "not timed") + ")" for x in misses.itertuples()]
    return [f"{line} Each regime's A/A is the baseline against itself and the {SLOWDOWN:.0%} "
            "slowdown a calibrated copy of the baseline, both timed in the same rounds as the "
            f"grid's candidates (`docs/resolution.json` lists every regime). A regime decides "
            f"only when its A/A's half-width is within ±{RESOLVED:.0%} and it is not significant; "
            f"elsewhere the grid says unresolved. Criteria: half-width within ±{RESOLVED:.0%} and "
            f"the slowdown detected "
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


def _claims(found: Findings) -> list[str]:
    cl = found.claims
    table = pd.DataFrame({"#": cl["id"], "who": cl["who"], "claim": cl["quote"],
                          "strategy": [_code(x.split(", ")) for x in cl["strategies"]],
                          "verdict": "**" + cl["verdict"] + "**"})
    counts = ", ".join(f"`{n}` {i['passed']}/{i['total']}"
                       for n, i in found.check["summary"].items())
    return [_md(table), "", "Where each claim holds or breaks:", "",
            *[f"- **{r.id}** ({r.verdict}): {r.where}." + (f" _{r.note}_" if r.note else "")
              for r in cl.itertuples()],
            "", f"Every strategy in the check (conditions correct): {counts}."]


def _per_regime(frame: pd.DataFrame, baseline: str, cell: Callable[[pd.Series], str]) -> list[str]:
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
        parts += [f"**{name} (`{device}`, machine `{machine}`, commit "
                  f"`{str(g['commit'].iloc[0])[:8]}`)**", "", _md(pd.DataFrame(rows)), ""]
    return parts


def _memory(found: Findings) -> list[str]:
    b = found.baseline
    if found.memory.empty:
        return ["_(no peak-memory measurements)_", ""]
    return _per_regime(found.memory, b, lambda r: num.byte_count(r["value"])
                       if r["strategy"] == b else num.ratio(r["vs_baseline"]))


def _counts(found: Findings) -> list[str]:
    if not found.counts:
        return ["No profile benchmarks in these results (`profiles.Profiles.track_ops`).", ""]
    parts = ["Exact counts per inference forward (ATen ops at the dispatcher; CUDA kernels and "
             "host-blocking calls on CUDA only): they repeat run to run.", ""]
    for metric, frame in found.counts.items():
        parts += [f"{f.COUNTS[metric]}:", "",
                  *_per_regime(frame, found.baseline, lambda r: f"{r['value']:.0f}")]
    if "track_kernels" not in found.counts:
        parts += ["No CUDA profile yet: kernels and host syncs on a GPU come with the GPU run.",
                  ""]
    return parts


def _deploy(found: Findings) -> list[str]:
    d = found.deploy
    if d is None or d.empty:
        return ["No `docs/deploy-<device>.json`: `birnn-bench deploy --json "
                f"docs/deploy-cpu.json` (or `DEPLOY=1 {COMMAND}`) writes one."]
    details = dep.deploy_details(d)
    noted = bool((d["note"].astype(str).str.strip() != "").any()) if "note" in d else False
    return [dep.deploy_conclusion(dep.deploy_survivors(d, found.safe)), "",
            f"From {'; '.join(dep.deploy_sources(d))}. `works` = ran and matched eager on "
            "every probe shape, `wrong` = ran but differs, `fails` = raised, `unavailable` = "
            "an optional dependency is missing.", "",
            _md(dep.deploy_table(d).assign(strategy=lambda t: "`" + t["strategy"] + "`")),
            *(["", "`works*`: works, deployed as the cell's note says (what the technology was "
               "given or allowed, e.g. `torch.jit.script` of the module as written, the "
               "while-loop rnn decomposition): the notes are the `*` rows under Why. "
               "`(N graph breaks)`: torch.compile split the graph N times (the notes say "
               "where)."] if noted else []),
            *(["", "Why:", "", _md(details)] if not details.empty else [])]


def _crosscheck(found: Findings) -> list[str]:
    if not found.crosscheck:
        return ["No `docs/crosscheck-<device>.json`: `python3 scripts/crosscheck.py --json "
                "docs/crosscheck-cpu.json` writes one."]
    parts = ["`scripts/crosscheck.py` times a few strategies on a few regimes in one process, "
             "alternating asv's own runner and `torch.utils.benchmark` on the same case "
             "(ratio: torch.utils.benchmark median ÷ asv median).", ""]
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
        parts.append(text + ".")
    return parts


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


def _answer(found: Findings) -> list[str]:
    """The Answer block (``analysis.model.answer``) of the newest commit of each machine; machines'
    ratios compared beyond their A/As and the process-level A/A between two runs."""
    g = found.grid
    between = found.reproducibility.groupby("mode")["max"].max().to_dict() \
        if not found.reproducibility.empty else {}
    return ra.answer_markdown(answer.lines(g), answer.agreement(g),
                              answer.differences(g, between), answer.hardware_facts(g))


def render_findings(found: Findings) -> str:
    """docs/FINDINGS.md."""
    cl, b = found.claims, found.baseline
    conditions = max((int(i["total"]) for i in found.check["summary"].values()), default=0)
    partial = cl[cl["verdict"].str.startswith("holds only")]
    false = cl[cl["verdict"] == "false"]
    short = [f"Safe strategies (correct on all {conditions} conditions of the check): "
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
    lines = [
        "# Findings: the last hidden state of a bidirectional LSTM/GRU in PyTorch", "",
        f"<!-- Generated by `{COMMAND}` (python3 -m analysis findings); do not edit. -->", "",
        f"Built from committed asv results ({_source_text(found)}) and the correctness check. "
        "Every speed statement is a paired ratio: each strategy's time over "
        f"`{b}`'s, taken per round in one process, with a 99% interval; significant when the "
        "interval excludes 1.", "",
        "## The answer", "", *_answer(found),
        "## In short", "", *[f"- {x}" for x in short], "",
        "## 1. Headline: the Compare grid (CPU)", "", *_device_grids(found, "cpu"),
        *_limits(found),
        "## 2. CUDA", "", *_device_grids(found, "cuda"),
        "## 3. Resolution: how fine a difference the paired ratios resolve", "",
        *_resolution(found.resolution), "",
        "## 4. Reproducibility across commits", "", *reproducibility_lines(found), "",
        "## 5. The thread's claims, settled by the oracle", "",
        f"Each claim is mapped to the strategy that implements it; the verdict is computed from "
        f"`birnn-bench check` (every strategy against a per-sequence float64 oracle on "
        f"{conditions} conditions).", "", *_claims(found), "",
        "## 6. Memory per regime", "",
        f"Peak bytes of one inference forward (`PeakMemory.track_peak_bytes`): `{b}`'s, and "
        f"every other strategy's over `{b}`'s on the same regime.", "", *_memory(found),
        "## 7. What each strategy launches: op counts per regime", "", *_counts(found),
        "## 8. Deployability", "", *_deploy(found), "",
        "## 9. Measurement integrity: asv against torch.utils.benchmark", "",
        *_crosscheck(found), "",
        "## 10. Which kernels run: why the answer depends on the CPU", "",
        *kernels_section(found.kernels, "python3 scripts/kernels.py"), "",
        "## 11. `strategy=\"auto\"`", "", *_policy(found), "",
        "## 12. Sources", "", *_sources(found, conditions), ""]
    return strip_paths("\n".join(lines).rstrip("\n") + "\n")


def readme_block(found: Findings, findings_href: str = "docs/FINDINGS.md") -> str:
    """The README's generated block, markers included: the grids of the newest CPU machine."""
    cpu = found.grid[found.grid["device"] == "cpu"] if not found.grid.empty else found.grid
    lines = [README_START, f"<!-- Generated by `{COMMAND}`; edits between these markers are "
             "overwritten. -->", "", "## Findings: which strategy, measured", ""]
    if cpu.empty:
        lines += ["No paired ratios in the committed results yet; "
                  f"[{findings_href}]({findings_href}) holds what is measured.", ""]
    else:
        newest = cpu.loc[cpu["date"].idxmax()]
        machine, name = str(newest["machine"]), str(newest["device_name"])
        lines += [f"Only strategies correct on every condition of the check are recommended "
                  f"({_code(found.safe)}). Everything else (the thread's claims, CUDA, "
                  f"reproducibility, memory, op counts, deployability, which kernels run, "
                  f"`strategy=\"auto\"`): "
                  f"[{findings_href}]({findings_href}).", "",
                  *_grids(found, machine, "cpu", name), fmt.GRID_LEGEND, ""]
    lines += [resolution_line(found.resolution), "", README_END]
    return strip_paths("\n".join(lines))


def replace_readme_block(readme: str, block: str, name: str = "README.md") -> str:
    """``readme`` with the text between its one pair of markers replaced by ``block`` (which
    carries the markers); nothing outside them changes."""
    starts, ends = readme.count(README_START), readme.count(README_END)
    if (starts, ends) != (1, 1) or readme.index(README_END) < readme.index(README_START):
        raise InputError(f"{name}: expected one '{README_START}' followed by one "
                         f"'{README_END}', found {starts} and {ends}")
    head, rest = readme.split(README_START, 1)
    return head + block + rest.split(README_END, 1)[1]


def kernels_section(payloads: Sequence[Mapping[str, Any]], command: str) -> list[str]:
    """The section's Markdown lines."""
    if not payloads:
        return [f"No `docs/kernels-<machine>.json`: `{command} --json "
                "docs/kernels-<machine>.json` writes one."]
    first = payloads[0]
    lines = [f"`{command}` reads which rnn kernels each strategy's call runs (the ATen ops the "
             "dispatcher runs in the call, one inference forward: exact, the same in every "
             "process), with `torch.backends.mkldnn` on and off, and times the padded plain "
             f"call (`{first['padded']}`) against the packed one (`{first['packed']}`) under "
             "each, paired in one process (median of per-round ratios, 99% interval).", "",
             kernels.why(payloads), "", "Padded ÷ packed time, oneDNN on and off, machines side by "
             "side:", "", fmt.markdown_table(kernels.ratios(payloads)), "",
             *[kernels.resolution(p) for p in payloads], ""]
    for p in payloads:
        lines += [f"**Kernel family and ATen ops of each strategy's rnn call, oneDNN on → off "
                  f"(one value: the same either way): `{p['machine']}`** "
                  f"({describe(p['hardware'])}; torch {p.get('torch', '?')}, "
                  f"{p.get('threads', '?')} thread(s), `{p.get('source', '?')}`)", "",
                  fmt.markdown_table(kernels.families(p)), ""]
    return lines[:-1]
