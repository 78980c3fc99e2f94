"""Findings on the paired grid: claims, headline, resolution, reproducibility, policy, README.

Deterministic: the results are tidy frames with injected ratio values (the loader's columns),
the check a real ``birnn-bench check --json`` of a small grid (correctness does not depend on
timing). One test runs the command end to end on the session's real asv smoke run and asserts
only what does not depend on the machine's load.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from analysis.cli import main
from analysis.load import inputs
from analysis.load.loaded import Loaded
from analysis.load.results import Problem, load_results
from analysis.model import claims as c
from analysis.model import deployability as dep
from analysis.model import findings as f
from analysis.model import resolution as res
from analysis.model.policy_rules import policy_json
from analysis.render import findings_page as render
from benchmarks.regimes import Regime
from birnn_bench import check as check_module
from birnn_bench import hardware, policy
from birnn_bench.cli import main as bb_main
from tests.conftest import REPO

SMALL_GRID = ["--cells", "lstm,gru", "--layers", "1,2", "--layouts", "batch_first",
              "--lengths", "equal,unsorted", "--dtypes", "float32"]
SAFE = ["hn_index", "chunk_view", "packed_unpack", "manual_two_rnn", "hn_plain_if_full", "bucketed"]
OK, WRONG = 1e-7, 0.5
DEPLOY_ROWS = [
    {"strategy": "hn_index", "cell": "lstm", "layers": 1, "device": "cpu",
     "technology": "script", "status": "works", "detail": "max abs error 0e+00"},
    {"strategy": "hn_index", "cell": "gru", "layers": 1, "device": "cpu",
     "technology": "script", "status": "fails", "detail": "RuntimeError: boom"},
]


@pytest.fixture(scope="module")
def check_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``birnn-bench check --json`` of a small grid (12 conditions)."""
    path = tmp_path_factory.mktemp("check") / "check.json"
    assert bb_main(["check", "--quiet", "--json", str(path), *SMALL_GRID]) == 0
    return path


@pytest.fixture(scope="module")
def check_data(check_file: Path) -> dict:
    return inputs.parse_check(check_file.read_text(), "check.json")


def regime_id(cell: str = "lstm", layers: int = 2, batch: int = 64, max_len: int = 128,
              lengths: str = "skewed", device: str = "cpu") -> str:
    return Regime(device, cell, layers, batch, max_len, 128, lengths, "float32").id


def tidy(points: dict[str, dict[str, tuple]], mode: str = "Forward", machine: str = "box",
         commit: str = "c" * 40, date: str = "2026-12-01") -> pd.DataFrame:
    """{regime id: {strategy: (ratio, low, high, error[, peak bytes[, ops]])}} as the loader's
    rows."""
    rows = []
    for regime, strategies in points.items():
        device, cell, layers, batch, max_len, hidden, lengths, dtype = regime.split("-")
        base = {"machine": machine, "device_name": "Test CPU" if device == "cpu" else "Test GPU",
                "commit": commit, "date": pd.Timestamp(date, tz="UTC"), "torch": "2.13",
                "threads": 1, "regime": regime, "device": device, "cell": cell,
                "layers": int(layers[1:]), "batch": int(batch[1:]), "max_len": int(max_len[1:]),
                "hidden": int(hidden[1:]), "lengths": lengths, "dtype": dtype}
        for name, (ratio, low, high, error, *counts) in strategies.items():
            for suffix, value in (("", ratio), ("_low", low), ("_high", high)):
                rows.append({**base, "benchmark": f"ratios.Paired{mode}.track_time_ratio"
                             f"{suffix}", "metric": f"track_time_ratio{suffix}",
                             "kind": "ratio", "unit": "x hn_index", "strategy": name,
                             "value": value})
            rows.append({**base, "benchmark": "strategies.Error.track_max_abs_error",
                         "metric": "track_max_abs_error", "kind": "error", "unit": "abs error",
                         "strategy": name, "value": error})
            for (benchmark, unit), value in zip((("strategies.PeakMemory.track_peak_bytes",
                                                  "bytes"), ("profiles.Profiles.track_ops",
                                                             "ops")), counts, strict=False):
                rows.append({**base, "benchmark": benchmark, "metric": benchmark.split(".")[-1],
                             "kind": "memory" if unit == "bytes" else "track", "unit": unit,
                             "strategy": name, "value": value})
    return pd.DataFrame(rows)


#: Three regimes: decided by a safe strategy (a † pitfall faster still, a wrong one the floor),
#: tied, and decided for hn_index.
POINTS = {
    regime_id(): {"hn_index": (1.0, 0.98, 1.02, OK), "manual_two_rnn": (0.6, 0.58, 0.62, OK),
                  "hn_padded": (0.4, 0.38, 0.42, OK), "last_step_naive": (0.2, 0.19, 0.21, WRONG),
                  "packed_unpack": (1.1, 1.08, 1.12, OK)},
    regime_id("gru", 1, 1, 32, "equal"): {
        "hn_index": (1.0, 0.99, 1.01, OK), "manual_two_rnn": (0.97, 0.9, 1.04, OK),
        "hn_first_layer": (0.5, 0.45, 0.55, OK), "packed_unpack": (1.3, 1.2, 1.4, OK)},
    regime_id("lstm", 1, 16, 512): {
        "hn_index": (1.0, 0.99, 1.01, OK), "manual_two_rnn": (1.5, 1.4, 1.6, OK),
        "packed_unpack": (1.05, 1.02, 1.08, OK), "hn_padded": (0.9, 0.8, 0.95, WRONG)},
}


def found_of(df: pd.DataFrame, check: dict, **side) -> f.Findings:
    return f.build_findings(Loaded(data=df), check, **side)


# ---------------------------------------------------------------------------------------------
# claims


def test_claim_verdicts_are_computed_from_the_check(check_data) -> None:
    summary, rows = check_data["summary"], check_data["rows"]
    table = c.claims(summary, rows).set_index("id")
    assert list(table.index) == [claim.id for claim in c.CLAIMS]
    assert c.safe(summary) == SAFE
    assert table.loc["Q", "verdict"] == "holds" and table.loc["A1d", "verdict"] == "holds"
    assert table.loc["A1a", "verdict"] == "holds only when num_layers = 1"
    assert "wrong whenever num_layers = 2" in table.loc["A1a", "where"]
    assert table.loc["A1b", "verdict"] == "holds"
    assert table.loc["A1c", "verdict"] == "false" and table.loc["A3b", "verdict"] == "false"
    assert "bwd half wrong in every condition" in table.loc["A1c", "where"]
    assert table.loc["A2b", "verdict"].startswith("holds only when no sequence is padded")
    assert table.loc["A3a", "verdict"] == "holds" and table.loc["A3c", "verdict"] == "holds"
    n = summary["hn_index"]["total"]
    assert table.loc["Q", "evidence_held"] == f"{n}/{n}"


def test_claim_verdicts_change_with_the_evidence(check_data) -> None:
    rows = [check_module.CheckRow(**r) for r in check_data["rows"]]
    first = next(i for i, r in enumerate(rows) if r.strategy == "hn_index"
                 and r.lengths == "unsorted")
    rows[first] = dataclasses.replace(rows[first], passed=False, bwd_ok=False, bwd_error=1.0)
    broken = json.loads(check_module.to_json(rows))
    table = c.claims(broken["summary"], broken["rows"]).set_index("id")
    assert table.loc["Q", "verdict"] != "holds" and table.loc["A3a", "verdict"] != "holds"
    assert "hn_index" not in c.safe(broken["summary"])
    one_layer = [r for r in check_data["rows"] if r["num_layers"] == 1]
    summary = check_module.summarize([check_module.CheckRow(**r) for r in one_layer])
    table = c.claims(summary, one_layer).set_index("id")
    assert table.loc["A1b", "verdict"] == "not tested" and table.loc["A1a", "verdict"] == "holds"


def test_describe_conditions() -> None:
    rows = [{"num_layers": n, "lengths": p, "padded": p != "equal"} for n in (1, 2, 3)
            for p in ("equal", "sorted")]
    assert c.describe_conditions(["num_layers=2", "num_layers=3"], rows) == "num_layers ≥ 2"
    assert c.describe_conditions(["num_layers=1"], rows) == "num_layers = 1"
    assert c.describe_conditions(["lengths=sorted", "padded=True"], rows) == \
        "the batch is padded (lengths sorted)"


# ---------------------------------------------------------------------------------------------
# the headline


def test_only_safe_strategies_are_recommended_and_pitfalls_are_marked(check_data) -> None:
    found = found_of(tidy(POINTS), check_data)
    g = found.grid
    assert set(g.loc[g["recommended"], "strategy"]) <= set(SAFE)
    recs = g[g["recommended"]].set_index("regime")["strategy"]
    assert recs[regime_id()] == "manual_two_rnn"      # hn_padded (†) is faster, not safe
    assert recs[regime_id("gru", 1, 1, 32, "equal")] == "hn_index"
    floor = g[g["floor"]].set_index("regime")["strategy"]
    assert floor[regime_id()] == "last_step_naive"    # wrong here: the floor, never the answer
    assert dict(found.decided.set_index("regime")["status"]) == {
        regime_id(): "faster", regime_id("gru", 1, 1, 32, "equal"): "tied",
        regime_id("lstm", 1, 16, 512): "baseline"}
    text = render.render_findings(found)
    row = next(line for line in text.splitlines() if line.startswith("| lstm 2L B64 T128"))
    # bold is the recommendation only; the fastest, wrong here, is the floor; hn_padded is
    # right here but not safe: a dagger, never bold
    assert "~~0.20×~~ ✗ floor" in row and "| 0.40× † |" in row and "| **0.60×** |" in row
    assert "`manual_two_rnn` [0.58, 0.62]" in row and row.endswith("| [0.98, 1.02] |")
    assert "| `hn_padded`" not in text.split("## 2.")[0]   # never the recommendation
    assert ("Decided in 2/3 regime(s): lstm 2L B64 T128 H128 skewed (`manual_two_rnn` "
            "[0.58, 0.62] of `hn_index`'s time); lstm 1L B16 T512 H128 skewed (`hn_index`: "
            "every other safe strategy significantly slower). Tied in 1/3") in text
    assert "No CUDA results yet" in text and "scripts/gpu_run.sh" in text


def test_cuda_results_get_their_section_named_by_the_device(check_data) -> None:
    cuda = tidy({regime_id(device="cuda"): {"hn_index": (1.0, 0.99, 1.01, OK),
                                            "packed_unpack": (0.7, 0.68, 0.72, OK)}},
                machine="gpu-box")
    text = render.render_findings(found_of(pd.concat([tidy(POINTS), cuda]), check_data))
    cuda_part = text.split("## 2. CUDA")[1].split("## 3.")[0]
    assert "### Test GPU — `cuda` on machine `gpu-box`" in cuda_part
    assert "`packed_unpack` [0.68, 0.72]" in cuda_part and "No CUDA results" not in text
    assert "Test GPU" not in text.split("## 2. CUDA")[0].split("## 1.")[1]


def test_findings_leave_loader_problems_to_the_report_and_name_commits(check_data) -> None:
    """A reader of the findings cannot act on notes about old partial runs: they are counted,
    and the report's Data problems section lists them with what clears each."""
    problems = [Problem("box/a.json", "partial run: no results for x", "warning"),
                Problem("box/b.json", "not JSON", "error")]
    text = render.render_findings(f.build_findings(Loaded(data=tidy(POINTS), problems=problems),
                                                   check_data))
    sources = text.split("## 12. Sources")[1]
    assert "2 data problem(s) while loading (the rest was used): see [the report's Data " \
        "problems](report/index.html#problems)." in sources
    assert "partial run" not in text and "box/b.json" not in text
    # ... and each table names its machine and commit
    limits = text.split("### How far the fastest safe strategy is from the limit")[1]
    assert "| machine, commit | mode |" in limits and "| `box` `cccccccc` |" in limits


def test_memory_and_op_counts_are_per_regime(check_data) -> None:
    points = {regime_id(): {"hn_index": (1, 0.9, 1.1, OK, 1000, 500),
                            "chunk_view": (1, 0.9, 1.1, OK, 3000, 520)},
              regime_id("gru"): {"hn_index": (1, 0.9, 1.1, OK, 4000, 80),
                                 "chunk_view": (1, 0.9, 1.1, OK, 2000, 90)}}
    m = f.per_regime(tidy(points), f.PEAK).set_index(["regime", "strategy"])["vs_baseline"]
    assert m[(regime_id(), "chunk_view")] == 3.0 and m[(regime_id("gru"), "chunk_view")] == 0.5
    text = render.render_findings(found_of(tidy(points), check_data))
    assert "| lstm 2L B64 T128 H128 skewed | 1000 B | 3.00× |" in text
    assert "| gru 2L B64 T128 H128 skewed | 3.91 KiB | 0.50× |" in text
    ops = text.split("## 7.")[1].split("## 8.")[0]
    assert "| gru 2L B64 T128 H128 skewed | 80 | 90 |" in ops and "No CUDA profile yet" in ops


# ---------------------------------------------------------------------------------------------
# resolution and reproducibility


def slowed_rows(points: dict[str, tuple], mode: str = "Forward", machine: str = "box",
                commit: str = "c" * 40) -> pd.DataFrame:
    """{regime id: (slowed ratio, low, high, rounds)} as the loader's ``ratios.Resolution*``
    rows."""
    rows = []
    for regime, values in points.items():
        for metric, value in zip(("track_slowed_ratio", "track_slowed_ratio_low",
                                  "track_slowed_ratio_high", "track_rounds"), values,
                                 strict=True):
            rows.append({"machine": machine, "device_name": "Test CPU", "commit": commit,
                         "regime": regime, "benchmark": f"ratios.Resolution{mode}.{metric}",
                         "metric": metric, "value": value, "strategy": None})
    return pd.DataFrame(rows)


def test_resolution_comes_from_the_grids_own_run(check_data) -> None:
    """The A/A is the baseline's row of the grid, the +5% copy the Resolution rows of the same
    run; a regime whose A/A is wide, or narrow but reaching past 1 +- 2%, decides nothing
    (unresolved), and the counts say so."""
    narrow, wide = (1.0, 0.99, 1.01, OK), (1.0, 0.95, 1.06, OK)
    off_centre = (1.012, 0.998, 1.026, OK)  # half-width 1.4%, upper bound 2.6% off 1
    points = {regime_id(batch=1): {"hn_index": narrow, "manual_two_rnn": (0.6, 0.58, 0.62, OK)},
              regime_id(batch=2): {"hn_index": off_centre,
                                   "manual_two_rnn": (0.6, 0.58, 0.62, OK)},
              regime_id(batch=4): {"hn_index": wide, "manual_two_rnn": (0.6, 0.58, 0.62, OK)}}
    slowed = {regime_id(batch=1): (1.05, 1.03, 1.07, 120), regime_id(batch=2):
              (1.02, 0.99, 1.05, 90), regime_id(batch=4): (1.05, 1.01, 1.09, 30)}
    df = pd.concat([tidy(points), slowed_rows(slowed)], ignore_index=True)
    found = f.build_findings(Loaded(root="r", data=df, files=[], problems=[]), check_data)
    regimes = found.resolution["regimes"].set_index("regime")
    assert list(regimes["within"]) == [True, True, False]  # half-width only
    assert list(regimes["resolved"]) == [True, False, False]  # the rule: inside 1 +- 2%
    assert list(regimes["detected"]) == [True, False, False]  # 3rd: its A/A cannot tell
    assert list(regimes["rounds"]) == [120, 90, 30]
    (total,) = found.resolution["summary"].itertuples()
    assert (total.regimes, total.within, total.significant, total.detected) == (3, 2, 0, 1)
    assert not total.passed
    assert render.resolution_line(found.resolution) == (
        "Resolution of the grid's own run (`box`, `cccccccc`): inference (forward): A/A 99% "
        "interval inside 1 ± 2% in 1/3 regimes (its farthest bound 6.0% off 1; half-width "
        "within ±2% in 2/3), none significant, a 5% slowdown detected in 1/3, "
        "median half-width 1.4%.")
    assert (total.inside, round(total.farthest, 4)) == (1, 0.06)
    status = found.decided.set_index("regime")["status"]
    assert status[regime_id(batch=1)] == "faster"
    assert status[regime_id(batch=2)] == status[regime_id(batch=4)] == "unresolved"
    rec = found.grid[(found.grid["regime"] == regime_id(batch=4)) & found.grid["recommended"]]
    assert list(rec["strategy"]) == ["hn_index"]  # unresolved: the safe default stays
    payload = res.as_json(found.resolution["regimes"], found.resolution["summary"],
                          found.reproducibility)
    json.dumps(payload, allow_nan=False)  # strict JSON
    assert payload["summary"][0]["within"] == 2 and len(payload["regimes"]) == 3


def test_reproducibility_compares_the_latest_two_commits(check_data) -> None:
    def commit(letter: str, date: str, manual: float, packed: float, padded: float
               ) -> pd.DataFrame:
        return tidy({regime_id(): {"hn_index": (1.0, 0.99, 1.01, OK),
                                   "manual_two_rnn": (manual, manual, manual, OK),
                                   "packed_unpack": (packed, packed, packed, OK),
                                   "hn_padded": (padded, padded, padded, WRONG)}},
                    commit=letter * 40, date=date)

    df = pd.concat([commit("a", "2026-11-01", 9.0, 9.0, 9.0),      # older: ignored
                    commit("b", "2026-11-02", 0.80, 1.00, 0.5),
                    commit("d", "2026-11-03", 0.84, 1.12, 0.1)])   # newest
    (row,) = f.reproducibility(df).itertuples()
    assert (row.new, row.old, row.points) == ("d" * 40, "b" * 40, 2)  # wrong and A/A left out
    assert row.median == pytest.approx((0.05 + 0.12) / 2)
    assert row.max == pytest.approx(0.12) and not row.passed
    assert row.worst == "packed_unpack on lstm 2L B64 T128 H128 skewed"
    text = render.render_findings(found_of(df, check_data))
    assert ("`box`, inference (forward): commit `dddddddd` against `bbbbbbbb`, |ratio ÷ ratio "
            "− 1| over 2 regime × strategy points correct on both: median 8.5%, max 12.0%") in \
        text and "**failed**" in text
    close = pd.concat([commit("b", "2026-11-02", 0.80, 1.00, 0.5),
                       commit("d", "2026-11-03", 0.81, 1.02, 0.5)])
    assert f.reproducibility(close)["passed"].tolist() == [True]
    assert f.reproducibility(commit("b", "2026-11-02", 1, 1, 1)).empty


# ---------------------------------------------------------------------------------------------
# policy, README, paths


def test_auto_policy_is_per_machine_per_regime_and_names_only_safe_strategies(
        check_data, tmp_path, monkeypatch) -> None:
    same = {"hn_index": (1.0, 0.99, 1.01, OK), "packed_unpack": (0.5, 0.49, 0.51, OK),
            "hn_padded": (0.1, 0.09, 0.11, OK)}
    split = {"hn_index": (1.0, 0.99, 1.01, OK), "chunk_view": (1.0, 0.98, 1.02, OK)}
    here = json.dumps({k: v for k, v in hardware.facts("cpu").items() if k != "gpu"},
                      sort_keys=True)
    df = tidy({regime_id("lstm", 1, 64, 32, "equal"): same,
               regime_id("gru", 1, 64, 32, "equal"): same,
               regime_id("lstm", 2, 1, 32, "equal"): same,
               regime_id("gru", 2, 1, 32, "equal"): split}).assign(facts=here)
    found = found_of(df, check_data)
    made = found.policy
    assert made["correct_everywhere"] == SAFE
    (entry,) = made["machines"]
    assert entry["machine"] == "box" and json.dumps(entry["hardware"], sort_keys=True) == here
    rules = {(r["cell"], r["layers"], r["batch"]): r["strategy"] for r in entry["rules"]}
    assert rules == {("lstm", 1, 64): "packed_unpack", ("gru", 1, 64): "packed_unpack",
                     ("lstm", 2, 1): "packed_unpack", ("gru", 2, 1): "hn_index"}
    assert all(r["full_length"] for r in entry["rules"])  # equal lengths
    path = tmp_path / "auto_policy.json"
    path.write_text(policy_json(made))
    monkeypatch.setenv(policy.POLICY_ENV, str(tmp_path / "no-local.json"))
    policy.clear_caches()
    rnn = torch.nn.LSTM(4, 128, bidirectional=True, batch_first=True).eval()
    x, lengths = torch.zeros(48, 32, 4), torch.full((48,), 32)
    with torch.no_grad():
        assert policy.choose(rnn, x, lengths, 32, path) == "packed_unpack"
        assert policy.choose(rnn, x, lengths - 1, 32, path) == "hn_index"  # not full: no rule
    policy.clear_caches()


def test_readme_block_is_replaced_between_the_markers_only(check_data) -> None:
    block = render.readme_block(found_of(tidy(POINTS), check_data))
    assert block.startswith(render.README_START) and block.endswith(render.README_END)
    assert "### Test CPU — `cpu` on machine `box`" in block and "[0.58, 0.62]" in block
    assert "(docs/FINDINGS.md)" in block and "Resolution of the grid's own run" in block
    readme = f"# p\n\n{render.README_START}\nold\n{render.README_END}\n\n## Next\n\ntext\n"
    first = render.replace_readme_block(readme, block)
    assert first == f"# p\n\n{block}\n\n## Next\n\ntext\n"
    assert render.replace_readme_block(first, block) == first  # idempotent
    for bad in ("# nothing\n", first + render.README_START,
                f"{render.README_END}\n{render.README_START}\n"):
        with pytest.raises(inputs.InputError, match=re.escape("README.md: expected one '<!--")):
            render.replace_readme_block(bad, "x")


def _deploy_rows(works: dict[tuple[str, str], set[str]]) -> pd.DataFrame:
    """Every strategy x technology on two cells: script works (with a note); otherwise
    (strategy, technology) -> the cells it works on (``lstm``, ``gru``), fails elsewhere."""
    rows = [{"strategy": s, "cell": cell, "layers": 1, "device": "cpu", "technology": t,
             "status": "works" if t == "script" or cell in works.get((s, t), set()) else "fails",
             "detail": "", "note": "a note" if t == "script" else "", "graph_breaks": None,
             "source": "docs/deploy-cpu.json"}
            for s in ("hn_index", "padded_gather", "manual_two_rnn")
            for t in ("script", "export", "export_while_loop", "onnx") for cell in ("lstm", "gru")]
    return pd.DataFrame(rows)


def test_the_deployability_conclusion_is_computed_from_the_deploy_data(check_data) -> None:
    both = {"lstm", "gru"}
    deploy = _deploy_rows({("padded_gather", "export_while_loop"): both,
                           ("padded_gather", "onnx"): both,
                           ("manual_two_rnn", "export"): {"lstm"},  # plain on one cell,
                           ("manual_two_rnn", "export_while_loop"): {"gru"},  # decomposed on one
                           ("manual_two_rnn", "onnx"): both, ("hn_index", "onnx"): {"lstm"}})
    survivors = dep.deploy_survivors(deploy, SAFE).set_index("target")
    assert survivors.loc["torch.export", "strategies"] == ["padded_gather", "manual_two_rnn"]
    assert survivors.loc["ONNX", "safe"] == ["manual_two_rnn"]  # hn_index: one cell only
    sentence = dep.deploy_conclusion(survivors.reset_index())
    assert sentence == ("In short: on every cell measured, `padded_gather`, `manual_two_rnn` "
                        "survive both torch.export (plain or with its while-loop rnn "
                        "decomposition) and ONNX, and of these only `manual_two_rnn` is correct "
                        "on every condition of the check.")
    text = render.render_findings(found_of(tidy(POINTS), check_data, deploy=deploy))
    section = text.split("## 8. Deployability", 1)[1].split("\n## ", 1)[0]
    assert sentence in section and "`works*`: works, deployed as the cell's note says" in section
    assert "| cpu | `hn_index` | works* |" in section

    onnx_only = dep.deploy_survivors(deploy[deploy["technology"].isin(["script", "onnx"])], SAFE)
    assert dep.deploy_conclusion(onnx_only).endswith(
        "only `manual_two_rnn` is correct on every condition of the check (torch.export: not in "
        "the data).")
    none_safe = dep.deploy_survivors(deploy[deploy["strategy"] != "manual_two_rnn"], SAFE)
    assert "none of these is correct on every condition" in dep.deploy_conclusion(none_safe)
    assert dep.deploy_conclusion(dep.deploy_survivors(None, SAFE)) == \
        "Neither torch.export nor ONNX is in the deployability data."


def kernels_payload(machine: str, lstm_on: float, lstm_off: float, gru: float,
                    gru_family: str = "native per-step") -> dict:
    """A ``scripts/kernels.py --json`` payload of two regimes (LSTM and GRU, 1 layer, B16 T512
    skewed) and two strategies: LSTM's padded call runs oneDNN with it on (14 ops), per-step
    ops off; the packed call and GRU run per-step ops either way (unless ``gru_family``)."""
    rows, timings = [], []
    for cell in ("lstm", "gru"):
        head = {"regime": regime_id(cell, 1, 16, 512), "device": "cpu", "cell": cell,
                "layers": 1, "batch": 16, "max_len": 512, "hidden": 128, "lengths": "skewed",
                "dtype": "float32"}
        for flag in (True, False):
            padded = ("oneDNN", 14) if cell == "lstm" and flag else \
                (gru_family if cell == "gru" else "native per-step", 13337)
            rows += [{**head, "strategy": "hn_index", "onednn": flag,
                      "family": "native per-step", "run_ops": 14462, "kernel_ops": {}},
                     {**head, "strategy": "hn_padded", "onednn": flag, "family": padded[0],
                      "run_ops": padded[1], "kernel_ops": {}}]
            ratio = (lstm_on if flag else lstm_off) if cell == "lstm" else gru
            timings.append({**head, "onednn": flag, "ratio": ratio, "ratio_low": ratio * 0.99,
                            "ratio_high": ratio * 1.01, "aa": 1.0, "aa_low": 0.99,
                            "aa_high": 1.01 if flag else 1.09, "verdict": "slower"})
    return {"machine": machine, "hardware": {"cpu": machine.upper(), "num_cpu": "2",
                                             "cpu_capability": "AVX512", "onednn": "on"},
            "torch": "2.13.0+cpu", "threads": 1, "budget_s": 2.0, "padded": "hn_padded",
            "packed": "hn_index", "rows": rows, "timings": timings,
            "source": f"docs/kernels-{machine}.json"}


def test_the_kernels_section_shows_machines_side_by_side_and_says_why(check_data) -> None:
    payloads = [kernels_payload("amd-box", 1.1, 2.3, 2.2),
                kernels_payload("intel-box", 2.5, 2.6, 2.25)]
    for payload in payloads:  # what the command reads back is what the section gets
        assert inputs.parse_kernels(json.dumps(payload), payload["source"]) == payload
    text = render.render_findings(found_of(tidy(POINTS), check_data, kernels=payloads))
    section = text.split("## 10. Which kernels run: why the answer depends on the CPU", 1)[1]
    section = section.split("\n## ", 1)[0]
    assert ("| regime | `amd-box` oneDNN on | `amd-box` oneDNN off | `intel-box` oneDNN on | "
            "`intel-box` oneDNN off |") in section
    assert "| lstm 1L B16 T512 H128 skewed | 1.10× [1.09, 1.11] | 2.30× [2.28, 2.32] | 2.50×" \
        in section
    # the families, oneDNN on -> off, and one value where the flag changes nothing
    assert "| lstm 1L B16 T512 H128 skewed | per-step 14,462 | oneDNN 14 → per-step 13,337 |" \
        in section
    assert "| gru 1L B16 T512 H128 skewed | per-step 14,462 | per-step 13,337 |" in section
    why = section.split("Why, from the op counts: ", 1)[1].split("\n", 1)[0]
    assert "LSTM's padded call (`hn_padded`) is oneDNN's whole-sequence kernel " \
        "(`aten::mkldnn_rnn_layer`; 14 ATen ops)" in why
    assert "`amd-box` (AVX512): LSTM 1.10× on, 2.30× off (off ÷ on per regime 2.09; the two " \
        "99% intervals apart in 1/1 regimes); GRU 2.20× on, 2.20× off (off ÷ on per regime " \
        "1.00; the two 99% intervals apart in 0/1 regimes)" in why
    assert "So an LSTM's padded-versus-packed standing (and with it that of every strategy " \
        "whose LSTM call runs oneDNN: `hn_padded`)" in why
    assert "LSTM's padded ÷ packed time (oneDNN on) differs by up to 2.27× between machines" \
        in why and "GRU's padded ÷ packed time (oneDNN on) differs by up to 1.02×" in why
    assert "`amd-box`: the A/A (the packed call against itself in the same rounds) resolves " \
        "(inside 1 ± 2%, not significant) in 2/4 comparisons (median half-width 3.0%, 2.0 s " \
        "each)" in section
    # the conclusion follows the data: a GRU that ran oneDNN too gets none
    odd = kernels_payload("odd-box", 1.1, 2.3, 2.2, gru_family="oneDNN")
    assert "So an LSTM" not in render.render_findings(found_of(tidy(POINTS), check_data,
                                                               kernels=[odd]))
    assert "No `docs/kernels-<machine>.json`: `python3 scripts/kernels.py --json" in \
        render.render_findings(found_of(tidy(POINTS), check_data))


def test_no_absolute_path_survives() -> None:
    text = "see /home/u/x/y.py:3 and /tmp/a/b, not https://x.org/a/b, docs/F.md or 1/2"
    assert render.strip_paths(text) == \
        "see …/y.py:3 and …/b, not https://x.org/a/b, docs/F.md or 1/2"


def test_old_format_results_load_without_a_grid(check_data, tmp_path) -> None:
    old = [p for p in (REPO / "results").glob("*/*.json")
           if p.name != "machine.json" and "ratios.PairedForward.track_time_ratio"
           not in json.loads(p.read_text())["results"]]
    if not old:
        pytest.skip("no committed Cartesian-suite results in this checkout")
    shutil.copy(REPO / "results" / "benchmarks.json", tmp_path / "benchmarks.json")
    for path in old:
        (tmp_path / path.parent.name).mkdir(exist_ok=True)
        shutil.copy(path, tmp_path / path.parent.name / path.name)
        shutil.copy(path.parent / "machine.json", tmp_path / path.parent.name / "machine.json")
    found = f.build_findings(load_results(tmp_path), check_data)
    assert found.grid.empty and not found.policy["machines"] and not found.memory.empty
    text = render.render_findings(found)
    assert "No paired ratios in these results" in text and "## 6. Memory per regime" in text


# ---------------------------------------------------------------------------------------------
# the command


def _args(results: Path, check: Path, out: Path, readme: Path, *extra: str) -> list[str]:
    return ["findings", "--results", str(results), "--check", str(check), "--crosscheck",
            "--out", str(out / "FINDINGS.md"), "--policy", str(out / "auto_policy.json"),
            "--readme", str(readme), "--quiet", *extra]


def test_bad_inputs_give_clear_errors(check_file, tmp_path, capsys) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# p\n\n{render.README_START}\n{render.README_END}\n")
    out = tmp_path / "out"

    def error(*extra: str, check: Path = check_file) -> str:
        assert main(_args(tmp_path, check, out, readme, *extra)) == 2
        assert not out.exists()
        return capsys.readouterr().err

    assert f"{tmp_path / 'no.json'}: no such file" in error(check=tmp_path / "no.json")
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    assert f"{other}: not a birnn-bench check --json file" in error(check=other)
    assert "--resolution" in error("--resolution", str(tmp_path))  # a folder, not a file
    assert f"{other}: not a scripts/crosscheck.py --json file" in \
        error("--crosscheck", str(other))
    bad = tmp_path / "deploy.json"
    bad.write_text(json.dumps({"rows": [{**DEPLOY_ROWS[0], "status": "maybe"}]}))
    assert f"{bad}: row 0 has status 'maybe'" in error("--deploy", str(bad))
    assert f"{other}: not a scripts/kernels.py --json file (no 'rows' list)" in \
        error("--kernels", str(other))
    old = tmp_path / "kernels-old.json"
    payload = kernels_payload("box", 1.0, 2.0, 2.0)
    payload["timings"][0].pop("ratio_low")
    old.write_text(json.dumps(payload))
    assert f"{old}: timing 0 lacks ratio_low (written by an older version?)" in \
        error("--kernels", str(old))


def test_findings_command_on_the_real_smoke_run(smoke_results, check_file, tmp_path,
                                                capsys) -> None:
    deploy = tmp_path / "deploy-cpu.json"
    deploy.write_text(json.dumps({"rows": DEPLOY_ROWS}))
    texts = []
    for run in ("a", "b"):
        out = tmp_path / run
        out.mkdir()
        readme = out / "README.md"
        original = f"# p\n\n{render.README_START}\nold\n{render.README_END}\n\n## Next\n\ny\n"
        readme.write_text(original)
        assert main(_args(smoke_results, check_file, out, readme, "--resolution",
                          str(out / "resolution.json"), "--deploy", str(deploy))) == 0
        assert "readme:" in capsys.readouterr().out
        texts.append([(out / name).read_text() for name in ("FINDINGS.md", "auto_policy.json",
                                                            "README.md", "resolution.json")])
        assert texts[-1][2].startswith("# p\n\n") and texts[-1][2].endswith("\n\n## Next\n\ny\n")
    assert texts[0] == texts[1]                      # same inputs, same bytes
    text, written, readme_text, resolution = texts[0]
    for output in texts[0]:
        assert str(tmp_path) not in output and str(REPO) not in output
        assert not re.search(r"(?<![\w.:/])/(?:root|home|tmp|usr)/", output)
    headings = re.findall(r"^## (\d+)\.", text, flags=re.MULTILINE)
    assert headings == [str(i) for i in range(1, 13)]
    assert "Resolution of the grid's own run (`smoke-box`" in text and "Decided in" in text
    regimes = json.loads(resolution)["regimes"]
    assert {r["mode"] for r in regimes} == {"forward", "train_step"}
    assert all(r["slowed"] is not None and r["rounds"] >= 16 for r in regimes)
    assert "| cpu | `hn_index` | works 1/2; fails: gru L1 |" in text
    grid_rows = [line for line in text.split("## 2.")[0].splitlines()
                 if line.startswith("| lstm 2L B4 T8 H16 skewed")]
    assert len(grid_rows) == 2                       # inference and training step
    for line in grid_rows:
        recommended = re.search(r"\| `(\w+)`", line).group(1)
        assert recommended in SAFE
    rules = [r for m in json.loads(written)["machines"] for r in m["rules"]]
    assert rules and {r["strategy"] for r in rules} <= set(SAFE)
    assert "## Findings: which strategy, measured" in readme_text
