"""Findings: claims settled from a real check, headline, auto policy, FINDINGS.md, README block.

Results come from the session's REAL asv smoke run (``smoke_results``) and, where this checkout
has them, the committed results; the check is a real ``birnn-bench check --json`` of a small
grid. The deploy input is a few rows in the documented ``birnn-bench deploy --json`` format (the
findings only read it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import findings as f
from analysis import summarize as s
from analysis.cli import main
from analysis.load import load_results
from birnn_bench import check as check_module
from birnn_bench import grid, policy
from birnn_bench.bench import BenchCase
from birnn_bench.cli import main as bb_main
from birnn_bench.workload import build
from tests.conftest import REPO

SMALL_GRID = ["--cells", "lstm,gru", "--layers", "1,2", "--layouts", "batch_first",
              "--lengths", "equal,unsorted", "--dtypes", "float32"]
DEPLOY_ROWS = [
    {"strategy": "hn_index", "cell": "lstm", "layers": 1, "device": "cpu",
     "technology": "script", "status": "works", "detail": "max abs error 0e+00"},
    {"strategy": "hn_index", "cell": "gru", "layers": 1, "device": "cpu",
     "technology": "script", "status": "fails", "detail": "RuntimeError: boom"},
    {"strategy": "manual_two_rnn", "cell": "lstm", "layers": 1, "device": "cpu",
     "technology": "script", "status": "unavailable", "detail": "onnx missing"},
]
SECTIONS = ["## In short", "## 1. The thread's claims, settled by the oracle",
            "## 2. Headline: the fastest correct strategy per device and regime",
            "## 3. Training step (forward + backward): the ranking", "## 4. Memory per strategy",
            "## 5. What each strategy launches: op counts", "## 6. Deployability",
            "## 7. Measurement integrity", "## 8. `strategy=\"auto\"`",
            "## 9. Sources and method"]


@pytest.fixture(scope="module")
def check_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``birnn-bench check --json`` of a small grid (12 conditions)."""
    path = tmp_path_factory.mktemp("check") / "check.json"
    assert bb_main(["check", "--quiet", "--json", str(path), *SMALL_GRID]) == 0
    return path


@pytest.fixture(scope="module")
def check_data(check_file: Path) -> dict:
    return f.parse_check(check_file.read_text(), str(check_file))


@pytest.fixture(scope="module")
def smoke_tp(smoke_results: Path) -> pd.DataFrame:
    return s.throughput(load_results(smoke_results).data)


def _readme(tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_text("# project\n\nintro\n\n## The answer in one call\n\n```python\nx = 1\n```\n\n"
                    "## The strategies and their verdicts\n\ntext\n")
    return path


def _run_findings(smoke_results: Path, check_file: Path, out: Path, readme: Path,
                  deploy: Path | None = None) -> list[str]:
    args = ["findings", "--results", str(smoke_results), "--check", str(check_file),
            "--crosscheck", str(REPO / "docs" / "crosscheck-cpu.json"),
            "--out", str(out / "docs" / "FINDINGS.md"), "--figures", str(out / "docs" / "figs"),
            "--policy", str(out / "auto_policy.json"), "--readme", str(readme), "--quiet"]
    args += ["--deploy", *([str(deploy)] if deploy else [])]
    return args


# ---------------------------------------------------------------------------------------------
# claims


def test_claim_verdicts_are_computed_from_the_check(check_data) -> None:
    summary, rows = check_data["summary"], check_data["rows"]
    table = f.claims(summary, rows).set_index("id")
    assert list(table.index) == [c.id for c in f.CLAIMS]
    full = {n: info["passed"] == info["total"] for n, info in summary.items()}
    assert full["hn_index"] and full["chunk_view"] and full["manual_two_rnn"]
    assert table.loc["Q", "verdict"] == "holds"
    assert table.loc["A1d", "verdict"] == "holds" and table.loc["A2a", "verdict"] == "holds"
    # igrinis' h_n[0] + h_n[1]: the check says it fails exactly with two layers.
    assert summary["hn_first_layer"]["never_fails"] == ["num_layers=1"]
    assert table.loc["A1a", "verdict"] == "holds only when num_layers = 1"
    assert "wrong whenever num_layers = 2" in table.loc["A1a", "where"]
    assert table.loc["A1b", "verdict"] == "holds"
    assert summary["last_step_naive"]["passed"] == 0
    assert table.loc["A1c", "verdict"] == "false" and table.loc["A3b", "verdict"] == "false"
    assert "bwd half wrong in every condition" in table.loc["A1c", "where"]
    assert table.loc["A2b", "verdict"].startswith("holds only when no sequence is padded")
    assert table.loc["A3a", "verdict"] == "holds" and table.loc["A3c", "verdict"] == "holds"
    n = summary["hn_index"]["total"]
    assert table.loc["Q", "evidence_held"] == f"{n}/{n}"
    assert f.correct_everywhere(summary) == [k for k in ("hn_index", "chunk_view",
                                                          "packed_unpack", "manual_two_rnn")]


def test_claim_verdicts_change_with_the_evidence(check_data) -> None:
    """Break one hn_index row (and one layer-1 hn_first_layer row): verdicts follow."""
    rows = [check_module.CheckRow(**r) for r in check_data["rows"]]
    first = next(i for i, r in enumerate(rows) if r.strategy == "hn_index"
                 and r.lengths == "unsorted")
    rows[first] = dataclasses.replace(rows[first], passed=False, bwd_ok=False, bwd_error=1.0)
    broken = json.loads(check_module.to_json(rows))
    table = f.claims(broken["summary"], broken["rows"]).set_index("id")
    assert table.loc["Q", "verdict"] != "holds"
    assert table.loc["A3a", "verdict"] != "holds"
    # Only one layer measured: "more layers" is not tested.
    one_layer = [r for r in check_data["rows"] if r["num_layers"] == 1]
    table = f.claims(check_module.summarize([check_module.CheckRow(**r) for r in one_layer]),
                     one_layer).set_index("id")
    assert table.loc["A1b", "verdict"] == "not tested"
    assert table.loc["A1a", "verdict"] == "holds"


def test_describe_conditions() -> None:
    rows = [{"num_layers": n, "lengths": p, "padded": p != "equal"} for n in (1, 2, 3)
            for p in ("equal", "sorted")]
    assert f.describe_conditions(["num_layers=2", "num_layers=3"], rows) == "num_layers ≥ 2"
    assert f.describe_conditions(["num_layers=1"], rows) == "num_layers = 1"
    assert f.describe_conditions(["lengths=sorted", "padded=True"], rows) == \
        "the batch is padded (lengths sorted)"


# ---------------------------------------------------------------------------------------------
# headline and policy


def _tp_sets():
    yield "smoke"
    committed = REPO / "results"
    if any(p.name != "machine.json" for p in committed.glob("*/*.json")):
        yield "committed"


@pytest.mark.parametrize("which", list(_tp_sets()))
def test_headline_lists_only_correct_strategies_with_consistent_ratios(which, smoke_tp,
                                                                      check_data) -> None:
    tp = smoke_tp if which == "smoke" else s.throughput(load_results(REPO / "results").data)
    recs = s.recommend(tp)
    head = f.headline(recs, tp, f.correct_everywhere(check_data["summary"]))
    assert len(head) == len(recs) > 0
    timed = tp[tp["metric"] == s.FORWARD].set_index([*s.CONFIG, "strategy"])
    for row in head.itertuples():
        key = tuple(getattr(row, c) for c in s.CONFIG)
        assert bool(timed.loc[(*key, row.strategy), "correct"])
        assert row.time_s == timed.loc[(*key, row.strategy), "time_s"]
        assert row.baseline_time_s == timed.loc[(*key, "hn_index"), "time_s"]
        assert math.isclose(row.vs_baseline, row.time_s / row.baseline_time_s)
        fastest = timed.xs(key, level=list(s.CONFIG))["time_s"].min()
        assert row.fastest_any_time_s == fastest and row.vs_fastest >= 1
        if row.strategy == "hn_index":
            assert row.vs_baseline == 1 and row.baseline_tied
        assert row.correct_everywhere == (row.strategy in f.correct_everywhere(
            check_data["summary"]))


def test_auto_policy_names_only_strategies_correct_everywhere(smoke_tp, check_data,
                                                              tmp_path) -> None:
    summary = check_data["summary"]
    allowed = f.correct_everywhere(summary)
    made = f.auto_policy(smoke_tp, summary)
    assert made["correct_everywhere"] == allowed
    assert made["rules"] and {r["strategy"] for r in made["rules"]} <= set(allowed)
    assert f.policy_json(made) == f.policy_json(f.auto_policy(smoke_tp, summary))
    # Make a correct-everywhere strategy clearly faster, and a pitfall faster still. The
    # intervals are synthetic (+-1% around the measured median, no samples): the smoke run's own
    # widths follow the machine's load, and the significance asserted below must not.
    fwd = smoke_tp["metric"] == s.FORWARD
    tp = smoke_tp.copy()
    base = fwd & (tp["strategy"] == "hn_index")
    tp.loc[base, "ci_low"] = tp.loc[base, "time_s"] * 0.99
    tp.loc[base, "ci_high"] = tp.loc[base, "time_s"] * 1.01
    tp.loc[base, "samples"] = None
    for name, factor in (("packed_unpack", 0.3), ("hn_padded", 0.1)):
        at = fwd & (tp["strategy"] == name)
        for col in ("time_s", "ci_low", "ci_high"):
            tp.loc[at, col] = tp.loc[fwd & (tp["strategy"] == "hn_index"), col].to_numpy() \
                * factor
        tp.loc[at, "correct"] = True
        tp.loc[at, "samples"] = None
    (rule,) = f.auto_policy(tp, summary)["rules"]
    assert rule["strategy"] == "packed_unpack" and rule["vs_baseline"] == pytest.approx(0.3)
    assert rule["significant_in"] == "1/1"
    # The file it becomes is what last_states(strategy="auto") reads.
    path = tmp_path / "auto_policy.json"
    path.write_text(f.policy_json(made))
    policy.load_policy.cache_clear()
    rules, loaded_allowed = policy.load_policy(path)
    assert loaded_allowed == frozenset(allowed) and len(rules) == len(made["rules"])
    passed = {(r["strategy"], *(r[k] for k in check_module.CONDITION_FIELDS)): r["passed"]
              for r in check_data["rows"]}
    for spec in grid.check_specs(cells=("lstm", "gru"), layers=(1, 2), layouts=("batch_first",),
                                 lengths=("equal", "unsorted"), dtypes=("float32",)):
        _, x, lengths = build(spec)
        chosen = policy.choose(x.device, spec.num_layers, spec.batch, lengths, spec.max_len,
                               path)
        key = (chosen, spec.cell, spec.num_layers, spec.proj_size, spec.layout, spec.lengths,
               spec.dtype)
        assert passed[key], key
    policy.load_policy.cache_clear()


# ---------------------------------------------------------------------------------------------
# op counts (the smoke run includes the Profiles benchmarks)


def test_op_counts_match_the_profiles_of_the_same_cases(smoke_results) -> None:
    from birnn_bench import profiles

    ops = f.op_counts(load_results(smoke_results).data)
    assert set(ops["device"]) == {"cpu"} and len(ops) == len(grid.BENCH_STRATEGIES)
    for row in ops.itertuples():
        case = BenchCase.from_params(row.device, row.cell, int(row.batch), int(row.max_len),
                                     row.lengths, int(row.hidden), int(row.layers), row.dtype,
                                     row.strategy)
        counts = profiles.count_ops(case)
        assert row.ops == sum(sum(c.values()) for c in counts.values())
        assert row.ops_extract == sum(counts["extract"].values())
    assert ops["unequal"].all()  # skewed lengths, batch 4
    notes = f.ops_notes(ops)
    assert list(notes) == list(grid.BENCH_STRATEGIES)
    hn = ops.set_index("strategy").loc["hn_index"]
    assert f"{int(hn['ops'])}" in notes["hn_index"]
    assert "No CUDA profile" in f.ops_caveat(ops)
    loaded = load_results(smoke_results)
    rows = [{"strategy": "hn_index", **{k: 1 for k in f.CHECK_FACTORS}, "max_len": 8,
             "fwd_ok": True, "bwd_ok": True, "passed": True}]
    check = {"rows": rows, "summary": {"hn_index": {"passed": 1, "total": 1}}}
    assert "op_counts" in f.build_findings(loaded, check, figures=False).figure_names
    loaded.data = loaded.data[~loaded.data["metric"].isin(list(f.OP_METRICS))]
    without = f.build_findings(loaded, check, figures=False)
    assert "op_counts" not in without.figure_names
    assert "op_counts.png" not in f.render_findings(without)


def test_a_second_machine_with_a_cuda_device_gets_its_own_sections(smoke_results, check_data,
                                                                    tmp_path) -> None:
    """The GPU rerun's shape: the real smoke file copied under another machine, its measured
    points relabelled as CUDA points (asv's device parameter list swapped)."""
    tree = tmp_path / "results"
    shutil.copytree(smoke_results, tree)
    source = next(p for p in (tree / "smoke-box").glob("*.json") if p.name != "machine.json")
    data = json.loads(source.read_text())
    at = data["result_columns"].index("params")
    for row in data["results"].values():
        if row[at] and row[at][0] == ["'cpu'", "'cuda'"]:
            row[at][0] = ["'cuda'", "'cpu'"]
    data["params"]["machine"] = "gpu-box"
    (tree / "gpu-box").mkdir()
    (tree / "gpu-box" / "machine.json").write_text(json.dumps({"machine": "gpu-box",
                                                               "version": 1}))
    (tree / "gpu-box" / source.name).write_text(json.dumps(data))
    found = f.build_findings(load_results(tree), check_data, figures=False)
    assert set(zip(found.devices["machine"], found.devices["device"], strict=True)) == {
        ("smoke-box", "cpu"), ("gpu-box", "cuda")}
    assert {r["device"] for r in found.policy["rules"]} == {"cpu", "cuda"}
    assert {r["machine"] for r in found.policy["generated_from"]["results"]} == {
        "smoke-box", "gpu-box"}
    text = f.render_findings(found)
    assert "`cuda` on machine `gpu-box`" in text and "`cpu` on machine `smoke-box`" in text
    assert "The H100 (CUDA)" not in text
    assert set(found.ops["device"]) == {"cpu", "cuda"}


# ---------------------------------------------------------------------------------------------
# the command


def test_findings_command_writes_everything_deterministically(smoke_results, check_file,
                                                              tmp_path, capsys) -> None:
    deploy = tmp_path / "deploy-cpu.json"
    deploy.write_text(json.dumps({"rows": DEPLOY_ROWS}))
    outputs = {}
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        readme = _readme(tmp_path / run)
        original = readme.read_text()
        assert main(_run_findings(smoke_results, check_file, tmp_path / run, readme,
                                  deploy)) == 0
        out = capsys.readouterr().out
        assert "findings:" in out and "policy:" in out and "readme:" in out
        docs = tmp_path / run / "docs"
        text = (docs / "FINDINGS.md").read_text()
        outputs[run] = (text, (tmp_path / run / "auto_policy.json").read_bytes(),
                        {p.name: p.read_bytes() for p in sorted((docs / "figs").glob("*.png"))})
        # README: the block sits right after "The answer in one call", nothing else changed.
        updated = readme.read_text()
        start, end = updated.index(f.README_START), updated.index(f.README_END)
        assert updated[:start] == original[:original.index("## The strategies")]
        assert updated[end + len(f.README_END):].lstrip("\n") == \
            original[original.index("## The strategies"):]
        assert "![" in updated[start:end] and "(docs/figs/speedup.png)" in updated[start:end]
        assert main(_run_findings(smoke_results, check_file, tmp_path / run, readme,
                                  deploy)) == 0
        assert "unchanged" in capsys.readouterr().out
        assert readme.read_text() == updated
    assert outputs["a"][0] == outputs["b"][0]
    assert outputs["a"][1] == outputs["b"][1]
    assert outputs["a"][2] == outputs["b"][2] and len(outputs["a"][2]) == len(f.FIGURES)
    text = outputs["a"][0]
    positions = [text.index(h) for h in SECTIONS]
    assert positions == sorted(positions)
    for name in f.FIGURES:
        assert f"](figs/{name}.png)" in text
    assert "**holds only when num_layers = 1**" in text
    assert "largest disagreement" in text and "hn_index" in text
    assert "| cpu | `hn_index` | works 1/2; fails: gru L1 |" in text
    assert "The H100 (CUDA)" in text  # no CUDA rows in the smoke run: the section says how
    written = json.loads(outputs["a"][1])
    assert set(written["generated_from"]["results"][0]) == {"machine", "devices", "commit",
                                                            "date", "torch", "threads"}
    policy.load_policy.cache_clear()
    rules, allowed = policy.load_policy(tmp_path / "a" / "auto_policy.json")
    assert all(r.strategy in allowed for r in rules)
    policy.load_policy.cache_clear()


def test_readme_block_replacement_is_idempotent_and_local() -> None:
    readme = (REPO / "README.md").read_text()
    first = f.replace_readme_block(readme, f"{f.README_START}\nA\n{f.README_END}")
    assert f.replace_readme_block(first, f"{f.README_START}\nA\n{f.README_END}") == first
    second = f.replace_readme_block(first, f"{f.README_START}\nB\nB\n{f.README_END}")
    head, tail = first.split(f.README_START)[0], first.split(f.README_END)[1]
    assert second.startswith(head) and second.endswith(tail)
    assert second.count(f.README_START) == 1 and "\nB\nB\n" in second
    with pytest.raises(f.InputError, match=re.escape("README.md: no '<!-- findings:start -->'")):
        f.replace_readme_block("# nothing\n", "x")
    with pytest.raises(f.InputError, match="expected one"):
        f.replace_readme_block(first + f.README_START, "x")


def test_bad_inputs_give_clear_errors(smoke_results, check_file, tmp_path, capsys) -> None:
    readme = _readme(tmp_path)
    out = tmp_path / "out"

    def run(**change) -> str:
        args = _run_findings(smoke_results, check_file, out, readme)
        for flag, value in change.items():
            at = args.index(f"--{flag}")
            args[at + 1] = str(value)
        assert main(args) == 2
        assert not out.exists()  # nothing written
        return capsys.readouterr().err

    missing = tmp_path / "nope.json"
    assert f"{missing}: no such file" in run(check=missing)
    assert "birnn-bench check --json" in run(check=missing)
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"rows": [')
    assert f"{corrupt}: is not valid JSON" in run(check=corrupt)
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    assert f"{other}: not a birnn-bench check --json file" in run(check=other)
    assert f"{other}: not a scripts/crosscheck.py --json file" in run(crosscheck=other)
    bad_deploy = tmp_path / "deploy.json"
    bad_deploy.write_text(json.dumps({"rows": [{**DEPLOY_ROWS[0], "status": "maybe"}]}))
    args = _run_findings(smoke_results, check_file, out, readme, bad_deploy)
    assert main(args) == 2
    assert f"{bad_deploy}: row 0 has status 'maybe'" in capsys.readouterr().err
    assert "results folder does not exist" in run(results=tmp_path / "no-results")
    plain = tmp_path / "PLAIN.md"
    plain.write_text("# no anchor\n")
    assert f"{plain}: no '<!-- findings:start -->' markers" in run(readme=plain)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# the report's new sections


def test_report_shows_op_counts_and_deployability(smoke_results, tmp_path) -> None:
    deploy = tmp_path / "deploy-cpu.json"
    deploy.write_text(json.dumps({"rows": DEPLOY_ROWS}))
    out = tmp_path / "report"
    assert main(["report", "--results", str(smoke_results), "--out", str(out), "--quiet",
                 "--deploy", str(deploy)]) == 0
    page = (out / "index.html").read_text()
    assert '<h2 id="ops">Op counts</h2>' in page and 'id="op-counts"' in page
    assert 'id="fig-op_counts"' in page
    assert '<h2 id="deployability">Deployability</h2>' in page and "RuntimeError: boom" in page
    ops = pd.read_csv(out / "op_counts.csv")
    assert len(ops) == len(grid.BENCH_STRATEGIES) and (ops["ops"] > 0).all()
    assert (out / "deployability.csv").is_file() and (out / "op_counts.png").is_file()
    assert "## Op counts" in (out / "summary.md").read_text()
    shutil.rmtree(out)
    assert main(["report", "--results", str(smoke_results), "--out", str(out), "--quiet"]) == 0
    assert "pass --deploy FILE" in (out / "index.html").read_text()
    assert np.isfinite(pd.read_csv(out / "op_counts.csv")["ops"]).all()
