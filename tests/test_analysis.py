"""The report (analysis.render.report, tables, history, figures, report_pages) and its CLI.

Rules are tested on injected values (no live timing widths): rows shaped like the loader's tidy
frame. What needs a real run uses the session's ``smoke_results`` (a real asv run of the smoke
grid) and, when the checkout has them, the committed old-format results (results/, Cartesian
parameters, no paired ratios: they add correctness and history, never a grid).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import seaborn as sns

from analysis.cli import main
from analysis.load import problems
from analysis.load.asv_files import default_results_dir
from analysis.load.loaded import Loaded, merge
from analysis.load.results import Problem, load_results
from analysis.model import history, paired, tables
from analysis.render import figures
from birnn_bench.strategies import BASELINE, STRATEGIES
from tests.conftest import REPO, repo_limits

REGIME = "cpu-lstm-L2-B64-T128-H128-skewed-float32"
OTHER = "cpu-gru-L1-B1-T32-H128-equal-float32"
SAFE = {"hn_index", "chunk_view", "packed_unpack", "manual_two_rnn", "hn_plain_if_full",
        "bucketed"}
SMOKE_CORRECT = SAFE
SMOKE_WRONG = {"hn_first_layer", "last_step_naive", "padded_gather", "hn_padded"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# ---------------------------------------------------------------------------------------------
# injected rows, shaped like the loader's


def _regime_columns(regime: str) -> dict:
    device, cell, layers, batch, max_len, hidden, lengths, dtype = regime.split("-")
    return {"regime": regime, "device": device, "cell": cell, "layers": int(layers[1:]),
            "batch": int(batch[1:]), "max_len": int(max_len[1:]), "hidden": int(hidden[1:]),
            "lengths": lengths, "dtype": dtype}


def rows(commit: str, day: int, points: dict, machine: str = "box",
         hardware: str = "Test CPU, 2 cores") -> list[dict]:
    """points: (regime, strategy) -> {"ratio": (r, lo, hi), "error": e, "peak": b, "time": t}."""
    base = {"machine": machine, "hardware": hardware, "device_name": "CPU",
            "commit": commit * 40 if len(commit) == 1 else commit,
            "date": pd.Timestamp(f"2026-11-{day:02d}", tz="UTC"),
            "env": "existing", "file": f"{machine}/{commit}.json", "compile": np.nan}
    out = []
    for (regime, strategy), values in points.items():
        common = {**base, **_regime_columns(regime), "strategy": strategy}
        if "ratio" in values:
            for suffix, value in zip(("", "_low", "_high"), values["ratio"], strict=True):
                out.append({**common, "benchmark": f"ratios.PairedForward.track_time_ratio"
                            f"{suffix}", "metric": f"track_time_ratio{suffix}",
                            "kind": "ratio", "unit": "x hn_index", "value": value})
        for key, bench, kind, unit in (("error", "strategies.Error.track_max_abs_error",
                                        "error", "abs error"),
                                       ("peak", "strategies.PeakMemory.track_peak_bytes",
                                        "memory", "bytes"),
                                       ("time", "strategies.Forward.time_forward", "time",
                                        "seconds"),
                                       ("instr", "instructions.Instructions.track_instructions",
                                        "track", "instructions")):
            if key in values:
                out.append({**common, "benchmark": bench, "metric": bench.rsplit(".", 1)[1],
                            "kind": kind, "unit": unit, "value": values[key]})
    return out


def frame(*parts: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([r for part in parts for r in part])


def point(ratio=(1.0, 0.98, 1.02), error=1e-7, peak=1000.0, time=1e-3) -> dict:
    return {"ratio": ratio, "error": error, "peak": peak, "time": time}


# ---------------------------------------------------------------------------------------------
# history: one rule per kind of series


def test_history_counts_ratio_changes_only_when_intervals_are_apart() -> None:
    a = {(REGIME, BASELINE): point(), (REGIME, "chunk_view"): point((0.80, 0.78, 0.82)),
         (REGIME, "packed_unpack"): point((1.00, 0.80, 1.25)),
         (REGIME, "manual_two_rnn"): point((0.90, 0.88, 0.92))}
    b = {(REGIME, BASELINE): point(time=2e-3),             # absolute time doubled: never judged
         (REGIME, "chunk_view"): point((0.95, 0.93, 0.97)),    # apart, slower: a regression
         (REGIME, "packed_unpack"): point((1.50, 1.20, 1.90)),  # +50%, intervals overlap: no
         (REGIME, "manual_two_rnn"): point((0.90, 0.88, 0.92), peak=1001.0)}  # bytes: yes
    h = history.changes(history.series(frame(rows("a", 1, a), rows("b", 2, b))),
                        limits=repo_limits())
    counted = history.flagged(h)
    found = {(r.benchmark.rsplit(".", 1)[1], r.strategy, r.change) for r in counted.itertuples()}
    assert found == {("track_time_ratio", "chunk_view", "regression"),
                     ("track_peak_bytes", "manual_two_rnn", "regression")}
    assert not h.loc[h["kind"] == history.ABSOLUTE, "judged"].any()
    summary = history.per_commit(h)
    assert summary["regressions"].tolist() == [0, 2]
    assert summary.loc[1, "previous_commit"] == "a" * 40
    assert "paired ratio (forward): 1 worse" in summary.loc[1, "what"]
    # The rule is the project's one rule applied to the quotient of the two commits.
    assert history.interval_change((1.0, 0.98, 1.02), (1.05, 1.03, 1.07)) == "slower"
    assert history.interval_change((1.0, 0.98, 1.02), (1.03, 1.01, 1.05)) == "tied"
    assert history.interval_change((1.0, 0.98, 1.02), (0.9, 0.88, 0.97)) == "faster"
    # ... beyond the process-level A/A: the same code moved up to 2% between two processes.
    assert history.interval_change((1.0, 0.98, 1.02), (1.05, 1.03, 1.07), 0.02) == "tied"
    assert history.interval_change((1.0, 0.98, 1.02), (1.10, 1.08, 1.12), 0.02) == "slower"
    tolerant = history.changes(history.series(frame(rows("a", 1, a), rows("b", 2, b))),
                               {"forward": 0.5}, limits=repo_limits())
    assert set(history.flagged(tolerant)["strategy"]) == {"manual_two_rnn"}  # bytes only


def test_a_machine_name_that_changed_hardware_splits_its_history() -> None:
    """cpu-2core held an AMD and an Intel box: the step between them is the machine, not the
    code, so the series split there and nothing is flagged across the change."""
    a = {(REGIME, "chunk_view"): point((0.80, 0.78, 0.82), peak=1000.0)}
    b = {(REGIME, "chunk_view"): point((0.95, 0.93, 0.97), peak=1200.0)}
    h = history.changes(history.series(frame(rows("a", 1, a, hardware="AMD EPYC, 2 cores"),
                                             rows("b", 2, b, hardware="Intel Xeon, 2 cores"))),
                        limits=repo_limits())
    assert history.flagged(h).empty
    assert h["previous_commit"].isna().all()


def test_history_error_verdict_changes_count_rounding_does_not() -> None:
    a = {(REGIME, "hn_padded"): point(error=1.1e-7), (REGIME, BASELINE): point(error=3e-8)}
    b = {(REGIME, "hn_padded"): point(error=0.5), (REGIME, BASELINE): point(error=4e-8)}
    h = history.flagged(history.changes(history.series(frame(rows("a", 1, a),
                                                             rows("b", 2, b))),
                                        limits=repo_limits()))
    assert h[["quantity", "strategy", "change"]].values.tolist() == [
        ["error verdict", "hn_padded", "regression"]]


def test_history_counts_instruction_changes_beyond_one_percent() -> None:
    a = {(REGIME, s): {"instr": 1e6, "time": 1e-3} for s in ("hn_index", "chunk_view",
                                                             "padded_gather")}
    b = {(REGIME, "hn_index"): {"instr": 1e6 * 1.008, "time": 3e-3},  # within 1%; time x3
         (REGIME, "chunk_view"): {"instr": 1e6 * 1.05, "time": 1e-3},  # +5%: a regression
         (REGIME, "padded_gather"): {"instr": 1e6 * 0.98, "time": 1e-3}}  # -2%: improvement
    h = history.changes(history.series(frame(rows("a", 1, a), rows("b", 2, b))),
                        limits=repo_limits())
    counted = history.flagged(h)
    assert sorted(counted[["quantity", "strategy", "change"]].values.tolist()) == [
        ["instructions", "chunk_view", "regression"],
        ["instructions", "padded_gather", "improvement"]]
    # The thresholds are asv.conf.json's, nothing else: 10% there, no change counts here; a
    # pattern asv never judges leaves the series unjudged.
    for limits, judged in ((history.Limits((("instructions\\.", 0.1),), ()), True),
                           (history.Limits((), ("instructions\\.",)), False)):
        h = history.changes(history.series(frame(rows("a", 1, a), rows("b", 2, b))),
                            limits=limits)
        assert history.flagged(h).empty
        assert h.loc[h["quantity"] == "instructions", "judged"].eq(judged).all()
        assert ("by more than 10.0%" in history.rules(limits)) == judged


def test_history_lines_use_one_fixed_set_of_regimes() -> None:
    a = {(REGIME, BASELINE): point(time=1e-3), (OTHER, BASELINE): point(time=4e-3)}
    b = {(REGIME, BASELINE): point(time=2e-3)}  # OTHER not measured: left out everywhere
    h = history.changes(history.series(frame(rows("a", 1, a), rows("b", 2, b))),
                        limits=repo_limits())
    lines = history.lines(h, history.ABSOLUTE, "time_forward (s)")
    assert lines["regimes"].tolist() == [1, 1]
    assert np.allclose(lines.sort_values("date")["value"], [1e-3, 2e-3])


# ---------------------------------------------------------------------------------------------
# tables: nothing mixes workloads


def test_strategy_summary_averages_only_where_both_are_correct() -> None:
    df = frame(rows("a", 1, {(REGIME, BASELINE): point(),
                             (REGIME, "chunk_view"): point((0.5, 0.45, 0.55)),
                             (OTHER, BASELINE): point(),
                             (OTHER, "chunk_view"): point((2.0, 1.9, 2.1), error=1.0)}))
    g = paired.grid(df, SAFE)
    s = tables.strategy_summary(g).set_index("strategy")
    assert s.loc["chunk_view", "correct"] == 1 and s.loc["chunk_view", "regimes"] == 2
    assert s.loc["chunk_view", "geomean_over"] == 1
    assert s.loc["chunk_view", "ratio_geomean"] == pytest.approx(0.5)  # not sqrt(0.5 * 2)
    assert s.loc["chunk_view", "recommended"] == 1


def test_relative_memory_is_per_regime_against_the_baseline() -> None:
    df = frame(rows("a", 1, {(REGIME, BASELINE): point(peak=1000.0),
                             (REGIME, "hn_padded"): point(peak=3000.0, error=0.4),
                             (OTHER, BASELINE): point(peak=10.0),
                             (OTHER, "hn_padded"): point(peak=10.0)}))
    mem = tables.relative(df, tables.PEAK, tables.correctness(df)).set_index(
        ["regime", "strategy"])
    assert mem.loc[(REGIME, "hn_padded"), "relative"] == 3.0
    assert not mem.loc[(REGIME, "hn_padded"), "correct"]
    assert mem.loc[(OTHER, "hn_padded"), "relative"] == 1.0
    assert mem.loc[(OTHER, "hn_padded"), "correct"]


def test_partial_run_warnings_only_for_a_machines_newest_file() -> None:
    df = frame(rows("a", 1, {(REGIME, BASELINE): point()}),
               rows("b", 2, {(REGIME, BASELINE): point()}))
    loaded = Loaded(df, [Problem("box/a.json", "partial run: no results for x", "warning"),
                         Problem("box/b.json", "partial run: no results for y", "warning"),
                         Problem("box/a.json", "is not valid JSON", "error")], [], "r")
    shown, hidden = problems.shown_problems(loaded)
    assert [p.path for p in shown] == ["box/b.json", "box/a.json"] and hidden == 1


# ---------------------------------------------------------------------------------------------
# figures: one colour per strategy, wherever it appears


def test_each_strategy_keeps_its_colour_in_any_subset() -> None:
    everyone = figures.colours()
    assert list(everyone)[: len(STRATEGIES)] == list(STRATEGIES)
    assert len({everyone[n] for n in STRATEGIES}) == len(STRATEGIES)
    subset = figures.colours(["manual_two_rnn", "somebody_new"])
    assert subset["manual_two_rnn"] == everyone["manual_two_rnn"]
    assert subset["somebody_new"] not in [everyone[n] for n in STRATEGIES]
    # However many strategies the registry holds: never the grey of "disabled" nor yellow.
    grey, yellow = (sns.color_palette("colorblind", 10)[i] for i in (7, 8))
    many = figures.colours([f"extra_{i}" for i in range(12)])
    assert len(set(many.values())) == len(many) == len(STRATEGIES) + 12
    assert grey not in many.values() and yellow not in many.values()
    assert figures.unsafe(STRATEGIES, None) == set()  # no check: nothing drawn as a pitfall
    assert figures.unsafe(STRATEGIES, SAFE) == set(STRATEGIES) - SAFE


def test_ratio_panels_share_one_symmetric_range_set_by_correct_cells() -> None:
    df = frame(rows("a", 1, {(REGIME, BASELINE): point(),
                             (REGIME, "chunk_view"): point((0.5, 0.45, 0.55)),
                             (REGIME, "hn_padded"): point((0.01, 0.009, 0.011), error=1.0)}))
    g = paired.grid(df, SAFE)
    assert figures.ratio_bound(g) == pytest.approx(1.0)  # |log2 0.5|; the wrong 0.01 ignored
    fig = figures.ratio_heatmap(g.assign(label="x"), "t", safe=SAFE)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("wrong") for t in texts)  # marked, not blank
    import matplotlib.pyplot as plt

    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# real runs: the smoke results and the committed old-format results


@pytest.fixture(scope="module")
def smoke(smoke_results: Path) -> Loaded:
    return load_results(smoke_results)


def test_correctness_follows_the_oracle_tolerance(smoke) -> None:
    verdicts = tables.correctness(smoke.data)
    assert set(verdicts.loc[verdicts["correct"], "strategy"]) == SMOKE_CORRECT
    assert set(verdicts.loc[~verdicts["correct"], "strategy"]) == SMOKE_WRONG


def test_compiled_against_eager_is_unpaired_and_judged_by_the_one_rule(smoke) -> None:
    table = tables.compiled(smoke.data)
    if table.empty:
        pytest.skip("no compiled.Compiled results in this smoke run")
    assert np.allclose(table["ratio"], table["compiled_s"] / table["eager_s"])
    assert ((table["low"] <= table["ratio"]) & (table["ratio"] <= table["high"])).all()
    # Separate processes, no A/A: the one rule decides nothing here (the interval is shown).
    assert set(table["verdict"]) <= {"unresolved", "undecided"}
    undecided = table["verdict"] == "undecided"  # asv's interval reached 0: (0, inf)
    assert (table.loc[undecided, "low"] == 0).all() and np.isinf(table.loc[undecided,
                                                                             "high"]).all()


def committed_results() -> Path | None:
    path = default_results_dir(REPO / "asv.conf.json")
    has_files = any(p.name != "machine.json" for p in path.glob("*/*.json"))
    return path if has_files and (path / "benchmarks.json").is_file() else None


def test_old_and_new_results_folders_merge(smoke_results) -> None:
    old = committed_results()
    if old is None:
        pytest.skip("no committed results in this checkout")
    merged = merge([("new", load_results(smoke_results)), ("old", load_results(old))])
    machines = set(merged.data["machine"].astype(str))
    assert "smoke-box" in machines and len(machines) >= 2
    g = paired.grid(merged.data, SAFE)
    assert "smoke-box" in set(g["machine"])  # the committed Cartesian-suite files add no grid
    verdicts = tables.correctness(merged.data)
    assert machines <= set(verdicts["machine"])  # ... but correctness from both
    assert all(p.path.startswith(("new/", "old/")) for p in merged.problems)


# ---------------------------------------------------------------------------------------------
# the report in a browser


def dump_dom(page: Path, tmp_path: Path) -> str:
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _grid_tables(dom: str) -> list[str]:
    return re.findall(r'<table class="grid">(.*?)</table>', dom, flags=re.S)


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
def test_report_opens_with_the_grid(committed_report, tmp_path) -> None:
    """On the report of the committed results (``committed_report``, with the committed check
    and deploy files)."""
    out, stderr = committed_report
    assert "partial run" not in stderr  # the committed machine's old files: history
    safe = {n for n, i in json.loads((REPO / "docs" / "check.json").read_text())["summary"]
            .items() if i["passed"] == i["total"]}
    page = (out / "index.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert 'class="scroll"' not in page
    dom = dump_dom(out / "index.html", tmp_path)
    # The answer comes first, then the grid, before any other section.
    assert dom.index('id="answer"') < dom.index('id="grid"') < dom.index('id="strategies"') \
        < dom.index('id="history"')
    grid = pd.read_csv(out / "grid.csv")
    tables_html = _grid_tables(dom)
    assert len(tables_html) == grid.groupby(["machine", "device", "mode"]).ngroups
    # Every regime of the grid has its row; wrong cells are struck and crossed, exactly there.
    for (_machine, _device, _mode), group in grid.groupby(["machine", "device", "mode"]):
        html = next(t for t in tables_html if all(f'data-regime="{r}"' in t
                                                  for r in group["regime"].unique()))
        for regime, cells in group.groupby("regime"):
            row = re.search(rf'<tr data-regime="{re.escape(regime)}">(.*?)</tr>', html, re.S)
            assert row is not None, regime
            tds = re.findall(r"<td[^>]*>.*?</td>", row.group(1), flags=re.S)
            wrong = [td for td in tds if 'class="c wrong"' in td]
            assert len(wrong) == int((~cells["correct"]).sum())
            assert all("<s>" in td and "✗" in td for td in wrong)
            recommended = re.findall(r'<td class="rec"><code>([^<]+)</code>', row.group(1))
            assert set(recommended) <= safe  # never a strategy outside the safe set
    recs = pd.read_csv(out / "recommendations.csv")
    assert set(recs["recommended"].dropna()) <= safe
    assert set(grid.loc[grid["recommended"], "strategy"]) <= safe
    # Deployability is shown when a deploy file is given; no absolute path of this machine.
    if list((REPO / "docs").glob("deploy-*.json")):
        assert 'id="deployability"' in dom and "pass <code>--deploy" not in dom
    for path in out.iterdir():
        if path.suffix in (".html", ".md", ".csv", ".svg"):
            text = path.read_text(errors="replace")
            assert str(out.parent) not in text and str(REPO) not in text, path.name
            assert "/root/" not in text and "/home/" not in text, path.name
    summary = (out / "summary.md").read_text()
    assert summary.index("## The answer") < summary.index("## The Compare grid") \
        < summary.index("## History")


def _without_matrix(results: Path, into: Path) -> Path:
    """A copy of a results tree without ``strategies.Correctness`` (as older results are)."""
    shutil.copytree(results, into)
    for path in into.glob("*/*.json"):
        data = json.loads(path.read_text())
        if isinstance(data.get("results"), dict):
            data["results"] = {k: v for k, v in data["results"].items()
                               if not k.startswith("strategies.Correctness.")}
            path.write_text(json.dumps(data))
    return into


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
def test_the_results_say_what_is_safe_without_a_check_file(smoke_results, tmp_path) -> None:
    """The suite records the matrix's verdict per strategy: a report of any results tree
    recommends with no --check; a tree without them recommends nothing and says why."""
    out = tmp_path / "report"
    assert main(["report", "--results", str(smoke_results), "--out", str(out), "--quiet"]) == 0
    recs = pd.read_csv(out / "recommendations.csv")
    assert not recs.empty and recs["recommended"].notna().all()
    assert set(recs["recommended"]) <= {"hn_index", "chunk_view", "packed_unpack",
                                        "manual_two_rnn"}
    assert "strategies.Correctness" in (out / "summary.md").read_text()

    out = tmp_path / "report-old"
    older = _without_matrix(smoke_results, tmp_path / "older")
    assert main(["report", "--results", str(older), "--out", str(out), "--quiet"]) == 0
    dom = dump_dom(out / "index.html", tmp_path)
    assert "Correctness check missing" in dom
    for html in _grid_tables(dom):
        assert "<code>" not in html and "†" not in html
        assert "— (no check file)" in html
    assert "(no check file)" in (out / "summary.md").read_text()


def test_bad_check_file_and_missing_results(tmp_path, capsys) -> None:
    bad = tmp_path / "check.json"
    bad.write_text('{"rows": []}')
    assert main(["report", "--results", str(tmp_path), "--out", str(tmp_path / "r"),
                 "--check", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"analysis report: error: --check {bad}:") and err.count("\n") == 1
    missing = tmp_path / "nope"
    assert main(["report", "--results", str(missing), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2
    assert "results folder does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
