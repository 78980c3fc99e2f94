"""The Answer block (model.answer, render.views): one line per machine, mode and
cell naming a safe strategy; the machines' agreement and differences; the recommended cell the
one highlighted; the report's HTML ids unique and its folder holding only what it produced.

Rules are tested on injected grid rows; the pages on the session's real smoke run, as one machine
and as two (the same run filed under a second machine of other hardware, with one strategy's
paired ratios scaled: a CPU where it is slower), and on the committed results when present."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main
from analysis.model import answer, paired
from birnn_bench._io import MARKER
from birnn_bench.strategies import BASELINE
from tests.conftest import REPO
from tests.test_analysis import CHROMIUM, dump_dom

SAFE = {"hn_index", "chunk_view", "packed_unpack", "manual_two_rnn", "hn_plain_if_full",
        "bucketed"}
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")


# ---------------------------------------------------------------------------------------------
# injected grid rows


def _regime(cell: str, layers: int, batch: int, max_len: int = 32, lengths: str = "equal"
            ) -> dict:
    return {"regime": f"cpu-{cell}-L{layers}-B{batch}-T{max_len}-H128-{lengths}-float32",
            "device": "cpu", "cell": cell, "layers": layers, "batch": batch,
            "max_len": max_len, "hidden": 128, "lengths": lengths, "dtype": "float32"}


def _grid(points: dict, machine: str = "box", hardware: str = "Test CPU, 2 cores",
          aa: tuple = (1.0, 0.99, 1.01)) -> pd.DataFrame:
    """(mode, regime fields as a tuple) -> {strategy: (ratio, low, high, correct)} as the loader's
    rows, through paired.grid (so the rule decides), with the hardware columns."""
    rows = []
    for (mode, fields), strategies in points.items():
        base = {"machine": machine, "device_name": "Test CPU", "commit": "c" * 40,
                "date": pd.Timestamp("2026-12-01", tz="UTC"), **_regime(*fields)}
        bench = "ratios.PairedForward" if mode == "forward" else "ratios.PairedTrainStep"
        for name, (ratio, low, high, correct) in {BASELINE: (*aa, True), **strategies}.items():
            for suffix, value in (("", ratio), ("_low", low), ("_high", high)):
                rows.append({**base, "benchmark": f"{bench}.track_time_ratio{suffix}",
                             "metric": f"track_time_ratio{suffix}", "kind": "ratio",
                             "strategy": name, "value": value})
            rows.append({**base, "benchmark": "strategies.Error.track_max_abs_error",
                         "metric": "track_max_abs_error", "kind": "error", "strategy": name,
                         "value": 1e-7 if correct else 1.0})
    df = pd.DataFrame(rows)
    df["hardware"] = hardware
    df["facts"] = json.dumps({"cpu": hardware.split(",")[0], "cpu_capability": "AVX2"})
    return answer.with_hardware(paired.grid(df, SAFE), df)


def test_one_line_per_cell_split_where_the_answer_changes() -> None:
    g = _grid({("train_step", ("gru", 1, 64)): {"manual_two_rnn": (0.5, 0.48, 0.52, True)},
               ("train_step", ("gru", 2, 64)): {"manual_two_rnn": (0.6, 0.58, 0.62, True)},
               ("train_step", ("gru", 1, 1)): {"manual_two_rnn": (1.2, 1.1, 1.3, True)},
               ("train_step", ("lstm", 1, 1)): {"chunk_view": (1.1, 1.05, 1.15, True),
                                                "hn_padded": (0.7, 0.68, 0.72, True)},
               ("forward", ("lstm", 1, 1)): {"manual_two_rnn": (0.9, 0.88, 0.92, True)}})
    lines = answer.lines(g).set_index(["mode", "cell"])
    assert len(lines) == 3  # (mode, cell): train gru, train lstm, forward lstm
    gru = lines.loc[("train_step", "gru"), "text"]
    # the answer changes with the batch only: one clause per batch, the layers not named
    assert gru.startswith("**gru**, training step: B1: **`hn_index`**, 1 regime")  # in order
    assert "B64: **`manual_two_rnn`** 0.50–0.60× (99% intervals within [0.48, 0.62])" in gru
    assert "2L" not in gru and lines.loc[("train_step", "gru"), "strategies"] == \
        "hn_index;manual_two_rnn"
    lstm = lines.loc[("train_step", "lstm"), "text"]
    assert "**`hn_index`**, 1/1 regimes: the next safe strategy, `chunk_view`, takes 1.10×" \
        in lstm and "hn_padded" not in lstm  # a pitfall is never the answer nor the next
    assert "**`manual_two_rnn`** 0.90× [0.88, 0.92]" in lines.loc[("forward", "lstm"), "text"]


def test_an_unresolved_regime_keeps_the_default_and_says_so() -> None:
    g = _grid({("forward", ("lstm", 1, 64)): {"manual_two_rnn": (0.5, 0.48, 0.52, True)}},
              aa=(1.0, 0.9, 1.1))
    (text,) = answer.lines(g)["text"]
    assert "**`hn_index`**, 1/1 regimes: unresolved" in text and "manual_two_rnn" not in text


def test_machines_agree_or_not_and_their_differences_beyond_resolution() -> None:
    points = {("forward", ("lstm", 1, 64)): {"manual_two_rnn": (0.8, 0.78, 0.82, True),
                                             "chunk_view": (1.10, 1.08, 1.12, True)},
              ("forward", ("gru", 1, 64)): {"chunk_view": (1.05, 1.03, 1.07, True)}}
    intel = _grid(points, "intel", "Intel Xeon, 2 cores")
    slower = {**points, ("forward", ("lstm", 1, 64)): {
        "manual_two_rnn": (0.9, 0.88, 0.92, True), "chunk_view": (1.11, 1.09, 1.13, True)}}
    amd = _grid(slower, "amd", "AMD EPYC, 2 cores")
    both = pd.concat([intel, amd], ignore_index=True)
    assert answer.agreement(both).startswith("The 2 machines (`intel`, `amd`) agree on all 2")
    diff = answer.differences(both)
    # manual_two_rnn 0.80 vs 0.90 is beyond both A/As (±1%); chunk_view 1.10 vs 1.11 is not
    assert list(diff["strategy"]) == ["manual_two_rnn"]
    assert diff.loc[0, "intel"] == "0.80× [0.78, 0.82]" and diff.loc[0, "amd"] == \
        "0.90× [0.88, 0.92]"
    assert answer.differences(both, {"forward": 0.2}).empty  # within the process-level A/A
    disagree = {**points, ("forward", ("lstm", 1, 64)): {
        "manual_two_rnn": (1.3, 1.28, 1.32, True), "chunk_view": (1.1, 1.08, 1.12, True)}}
    both = pd.concat([intel, _grid(disagree, "amd", "AMD EPYC, 2 cores")], ignore_index=True)
    sentence = answer.agreement(both)
    assert "agree on 1 of the 2" in sentence and "`manual_two_rnn` on intel" in sentence
    facts = answer.hardware_facts(both).set_index("machine")
    assert facts.loc["amd", "CPU model"] == "AMD EPYC" and facts.loc["amd", "oneDNN"] == \
        answer.NOT_RECORDED


# ---------------------------------------------------------------------------------------------
# the pages


def two_machines(smoke_results: Path, into: Path) -> Path:
    """The smoke run as two machines: ``smoke-box`` as measured (recorded as an Intel Xeon)
    and ``smoke-amd`` (an AMD EPYC) where manual_two_rnn's forward ratios are doubled."""
    shutil.copytree(smoke_results, into)
    (into / "smoke-amd").mkdir()
    for machine, cpu in (("smoke-box", "Intel(R) Xeon(R) Processor"), ("smoke-amd", "AMD EPYC")):
        for path in sorted((into / "smoke-box").glob("*.json")):
            data = json.loads(path.read_text())
            if path.name == "machine.json":
                data["machine"] = machine
            else:
                data["params"].update(machine=machine, cpu=cpu, num_cpu="2",
                                      cpu_capability="AVX512", onednn="on")
                if machine == "smoke-amd":
                    _scale(data, "ratios.PairedForward.track_time_ratio", "manual_two_rnn", 2.0)
            (into / machine / path.name).write_text(json.dumps(data))
    return into


def _scale(data: dict, benchmark: str, strategy: str, factor: float) -> None:
    for suffix in ("", "_low", "_high"):
        row = data["results"][benchmark + suffix]
        names = row[1][-1]
        values = row[0]
        width = len(names)
        for i, value in enumerate(values):
            if names[i % width] == repr(strategy) and value is not None:
                values[i] = value * factor


def _report(results: list[Path], out: Path, *extra: str) -> None:
    assert main(["report", "--results", *map(str, results), "--out", str(out), "--quiet",
                 *extra]) == 0


def _answer_items(dom: str) -> list[dict]:
    block = dom[dom.index('id="answer"'):dom.index('id="grid"')]
    return [dict(re.findall(r'data-([a-z-]+)="([^"]*)"', attrs))
            for attrs in re.findall(r"<li ([^>]*)>", block)]


#: Opens every <details>, then names what reaches past the right edge of a 1024 px window.
MEASURE = """<script>
window.addEventListener('load', () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const w = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('table, figure, p, ul, h1, h2, h3')]
    .filter(e => e.getBoundingClientRect().right > w + 0.5)
    .map(e => e.id || e.tagName + ': ' + e.textContent.trim().slice(0, 60));
  document.body.setAttribute('data-overflow', JSON.stringify(wide));
});
</script>"""


def overflowing(page: Path, tmp_path: Path) -> list[str]:
    """What in ``page`` runs past a 1024 px wide window (a copy with ``MEASURE`` in it)."""
    copy = page.with_name("measure.html")
    copy.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    try:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--window-size=1024,800",
             f"--user-data-dir={tmp_path / 'chromium-measure'}", "--dump-dom", copy.as_uri()],
            capture_output=True, text=True, timeout=120)
    finally:
        copy.unlink()
    found = re.search(r'data-overflow="([^"]*)"', done.stdout)
    assert found is not None, done.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def _check_page(out: Path, tmp_path: Path, safe: set[str]) -> str:
    """The Answer block has one line per (machine, device, mode, cell) of the grid, each naming
    safe strategies only; in every grid row the highlighted cell is the recommended one; ids
    are unique."""
    dom = dump_dom(out / "index.html", tmp_path)
    grid = pd.read_csv(out / "grid.csv")
    items = _answer_items(dom)
    keys = {(i["machine"], i["device"], i["mode"], i["cell"]) for i in items}
    assert len(keys) == len(items)
    assert keys == set(grid[["machine", "device", "mode", "cell"]].astype(str)
                       .itertuples(index=False, name=None))
    for item in items:
        assert item["recommended"] and set(item["recommended"].split(";")) <= safe, item
    recs = pd.read_csv(out / "recommendations.csv").set_index(["machine", "mode", "regime"])
    tables = re.findall(r'<h3 id="grid-[^"]*">(.*?)</h3>.*?<table class="grid">(.*?)</table>',
                        dom, flags=re.S)
    assert tables
    for heading, table in tables:
        machine = heading.split(" · ")[0]
        mode = "forward" if "inference" in heading else "train_step"
        for regime, row in re.findall(r'<tr data-regime="([^"]+)">(.*?)</tr>', table, re.S):
            picked = re.findall(r'<td class="[^"]*\bpick\b[^"]*" data-strategy="([^"]+)"', row)
            assert picked == [recs.loc[(machine, mode, regime), "recommended"]], (regime, row)
            assert "<b>" not in row  # nothing else in bold
    ids = re.findall(r'\bid="([^"]+)"', dom)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert overflowing(out / "index.html", tmp_path) == []  # every table fits 1024 px
    # every figure's caption links its files, and the files are there
    for name in re.findall(r'<figure id="fig-([^"]+)"', dom):
        assert f'<a href="{name}.png">' in dom and (out / f"{name}.svg").is_file()
    return dom


@needs_chromium
def test_two_machines_answer_agreement_and_differences(smoke_results, tmp_path) -> None:
    results = two_machines(smoke_results, tmp_path / "results")
    other = tmp_path / "other"  # the second machine as a results folder of its own
    other.mkdir()
    shutil.move(results / "smoke-amd", other / "smoke-amd")
    shutil.copy(results / "benchmarks.json", other)
    out = tmp_path / "report"
    _report([results, other], out)
    for path in out.iterdir():  # folders named as given, no path of this machine
        if path.suffix in (".html", ".md", ".csv", ".svg"):
            assert str(tmp_path) not in path.read_text(errors="replace"), path.name
    dom = _check_page(out, tmp_path, SAFE)
    assert {i["machine"] for i in _answer_items(dom)} == {"smoke-box", "smoke-amd"}
    assert "AMD EPYC, 2 cores, AVX512, oneDNN on" in dom
    differ = pd.read_csv(out / "machines_differ.csv")
    assert "manual_two_rnn" in set(differ["strategy"])  # doubled on one machine
    assert 'id="table-machines-differ"' in dom and 'id="table-machine-facts"' in dom
    summary = (out / "summary.md").read_text()
    assert summary.index("## The answer") < summary.index("## The Compare grid")
    assert "Where the machines' ratios differ" in summary


@needs_chromium
def test_committed_results_answer(committed_report, tmp_path) -> None:
    summary = json.loads((REPO / "docs" / "check.json").read_text())["summary"]
    safe = {n for n, i in summary.items() if i["passed"] == i["total"]}
    _check_page(committed_report[0], tmp_path, safe)


def test_the_report_folder_holds_what_it_produced_only(smoke_results, tmp_path) -> None:
    out = tmp_path / "report"
    _report([smoke_results], out)
    manifest = json.loads((out / MARKER).read_text())
    produced = set(manifest["files"])
    assert produced == {p.name for p in out.iterdir()} - {MARKER}
    # a file an earlier report produced and this one does not is removed; others stay
    (out / "speedup.png").write_bytes(b"old")
    (out / "notes.txt").write_text("mine")
    manifest["files"] = sorted([*manifest["files"], "speedup.png"])
    (out / MARKER).write_text(json.dumps(manifest))
    _report([smoke_results], out)
    assert not (out / "speedup.png").exists() and (out / "notes.txt").exists()


def test_docs_report_holds_only_what_the_report_produces(committed_report) -> None:
    """No tracked file in docs/report/ that the report does not write (names checked against
    what a report of the committed results produces)."""
    tracked = subprocess.run(["git", "ls-files", "docs/report"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    if not tracked:
        pytest.skip("no committed report in this checkout")
    produced = set(json.loads((committed_report[0] / MARKER).read_text())["files"]) | {MARKER}
    assert {Path(t).name for t in tracked} <= produced
