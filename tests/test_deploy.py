"""Deployability verdicts, pinned for torch 2.13 (CPU): an upgrade that changes one fails here.

Every technology has at least one pinned ``works`` and one pinned ``fails`` where torch 2.13 has
both; plain ``torch.compile`` never fails (it falls back to eager at each graph break: its graph
break count is pinned instead), plain ``torch.export`` / ``compile_fullgraph`` never work on
these rnns (their opt-in variants carry the ``works`` pins), and TorchScript scripts every
strategy's registry steps (written on tensors and plain values). Shapes are tiny; the cells that
run inductor come from ``birnn-bench deploy`` run in the background (``inductor_cells``), and only
one of them runs inductor on an rnn. Also here: the asv compile benchmarks
(``benchmarks/compiled.py``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from analysis.load.inputs import parse_deploy
from benchmarks import compiled, regimes
from birnn_bench import deploy
from birnn_bench.cli import main
from birnn_bench.deploy import DeployResult, check_deploy, deploy_spec
from birnn_bench.oracle import TOLERANCES
from birnn_bench.strategies import STRATEGIES
from birnn_bench.workload import build
from tests.conftest import background_fixture

needs_onnx = pytest.mark.skipif(not deploy.onnx_available(),
                                reason="optional extras onnx/onnxscript/onnxruntime missing")


@pytest.fixture(scope="module")
def lstm1():
    return deploy_spec("lstm", 1)


@pytest.fixture(scope="module")
def gru2():
    return deploy_spec("gru", 2)


def _pin(result, status, *fragments):
    assert result.status == status, result
    for fragment in fragments:
        assert fragment in result.detail + " | " + result.note, result
    if status == "works":
        assert result.max_abs_error is not None and result.max_abs_error <= deploy.TOLERANCE
        assert result.build_seconds is not None and result.build_seconds >= 0
    else:
        assert result.max_abs_error is None and result.build_seconds is None


# ---------------------------------------------------------------------------------------------
# the wrappers and the probes


def test_the_wrapper_runs_the_registry_steps_themselves(gru2) -> None:
    rnn, x, lengths = build(gru2)
    with torch.no_grad():
        for name, strategy in STRATEGIES.items():
            module = deploy.StrategyModule(rnn, name)
            assert (module.prepare, module.extract) == (strategy.prepare, strategy.extract), name
            assert type(module.run_step) is strategy.run_module and module.run_step.rnn is rnn
            want = strategy(rnn, x, lengths)
            got = module(x, lengths)
            assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True)), name


def test_no_strategy_is_named_outside_the_registry() -> None:
    # One implementation per strategy: deploy and the compile benchmarks name none themselves.
    package = Path(deploy.__file__).parent
    for path in (*package.glob("deploy*.py"), package / "_torch_compat.py",
                 Path(compiled.__file__)):
        source = path.read_text()
        named = [name for name in STRATEGIES if f'"{name}"' in source]
        assert not named, (path.name, named)


def test_probes_include_inputs_it_was_not_traced_with(lstm1) -> None:
    probes = [build(spec)[1:] for _, spec in deploy.probe_specs(lstm1)]
    traced_x, traced_lengths = probes[0]
    assert probes[1][0].shape == traced_x.shape
    assert not torch.equal(probes[1][1], traced_lengths)
    shapes = {tuple(x.shape[:2]) for x, _ in probes}
    assert len(shapes) == 3 and (1, lstm1.max_len - 1) in shapes


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="technology: expected one of"):
        check_deploy("hn_index", "tflite")
    with pytest.raises(ValueError, match="strategy: expected one of"):
        check_deploy("nope", "script")
    with pytest.raises(ValueError, match="strategy: expected one of"):
        deploy.deploy_matrix(strategies=("nope",))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_deploy("hn_index", "script", deploy_spec(device="cuda"))


# ---------------------------------------------------------------------------------------------
# verdicts pinned per technology (torch 2.13, CPU)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_script_compiles_the_registry_steps(gru2, name: str) -> None:
    # The steps take tensors and plain values and run is a module (TorchScript cannot take a
    # module as an argument): torch.jit.script compiles every strategy as written, and the
    # scripted module matches eager on shapes it never saw.
    _pin(check_deploy(name, "script", gru2), "works", "torch.jit.script of the module as written")


def test_compile_fullgraph_refuses_the_rnn_module_and_packing(lstm1) -> None:
    for name in ("padded_gather", "manual_two_rnn"):  # the module call, the functional kernels
        _pin(check_deploy(name, "compile_fullgraph", lstm1), "fails",
             "torch.compile: Unsupported: Attempted to wrap RNN, GRU, or LSTM")
    _pin(check_deploy("hn_index", "compile_fullgraph", lstm1), "fails",  # pack_padded_sequence
         "torch.compile: Unsupported: Attempted to call function marked as skipped")


def inductor_cells(workdir: Path, environ: dict[str, str]) -> dict[tuple[str, str], DeployResult]:
    """{(strategy, technology): cell} of the cells that run inductor (a cold cache costs tens of
    seconds of g++), from ``birnn-bench deploy --json`` in processes of their own, started at
    collection: the matrix runner, the CLI and its JSON on the way."""
    cells = {}
    for strategies, technology in ((("hn_padded", "hn_index", "hn_plain_if_full"), "compile"),
                                   (("hn_index", "last_step_naive"),
                                    "compile_fullgraph_allow_rnn")):
        out = workdir / f"{technology}.json"
        done = subprocess.run(
            [sys.executable, "-m", "birnn_bench.cli", "deploy", "--strategies",
             ",".join(strategies), "--cells", "lstm", "--layers", "1", "--technologies",
             technology, "--json", str(out)], cwd=workdir, env=environ, capture_output=True,
            text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        for row in json.loads(out.read_text())["rows"]:
            cells[row["strategy"], row["technology"]] = DeployResult(**row)
    return cells


inductor = background_fixture("inductor", inductor_cells)


def test_compile_works_around_graph_breaks(inductor) -> None:
    # hn_padded: no op of its own for inductor to build a C++ kernel of (padded_gather's
    # gather costs ~6 s of g++ on a cold cache)
    result = inductor["hn_padded", "compile"]
    _pin(result, "works", "Attempted to wrap RNN, GRU, or LSTM x1")
    assert result.graph_breaks == 1
    result = inductor["hn_index", "compile"]  # packing adds two breaks
    _pin(result, "works", "Attempted to call function marked as skipped x2")
    assert result.graph_breaks == 3
    result = inductor["hn_plain_if_full", "compile"]  # a graph break at the branch on lengths
    _pin(result, "works")
    assert result.graph_breaks and result.graph_breaks > 0


def test_compile_fullgraph_with_allow_rnn(inductor) -> None:
    _pin(inductor["hn_index", "compile_fullgraph_allow_rnn"], "fails",
         "torch.compile: Unsupported: Attempted to call function marked as skipped")
    _pin(inductor["last_step_naive", "compile_fullgraph_allow_rnn"], "works",
         "allow_rnn=True")


def test_export_fixes_t_or_fails_on_packing(lstm1) -> None:
    _pin(check_deploy("padded_gather", "export", lstm1), "fails",
         "torch.export.export: UserError: Constraints violated (steps)!",
         "steps specialized to the traced 6")
    _pin(check_deploy("hn_index", "export", lstm1), "fails",
         "torch.export.export: TypeError: zeros(): argument 'size' failed to unpack")


def test_a_branch_on_the_lengths_fails_export_and_says_so_quietly(lstm1, capsys) -> None:
    # hn_plain_if_full branches on lengths.min() == T and bucketed plans on the lengths' values:
    # export cannot guard on a tensor's value. torch prints the partial graph to stderr; the cell
    # keeps the reason, the terminal stays clean.
    capsys.readouterr()
    for name in ("hn_plain_if_full", "bucketed"):
        _pin(check_deploy(name, "export", lstm1), "fails",
             "torch.export.export: GuardOnDataDependentSymNode")
    assert capsys.readouterr().err == ""


def test_export_while_loop(lstm1) -> None:
    _pin(check_deploy("padded_gather", "export_while_loop", lstm1), "works")
    _pin(check_deploy("hn_index", "export_while_loop", lstm1), "fails", "zeros(): argument")


def test_cells_do_not_depend_on_earlier_exports(lstm1) -> None:
    # torch.export._patches leaves its rnn kernel in the op's dispatch cache: without clearing
    # it, a plain export after the while-loop one "works".
    assert check_deploy("hn_padded", "export_while_loop", lstm1).status == "works"
    assert check_deploy("hn_padded", "export", lstm1).status == "fails"
    assert check_deploy("hn_padded", "export_while_loop", lstm1).status == "works"


@needs_onnx
def test_onnx(lstm1) -> None:
    _pin(check_deploy("padded_gather", "onnx", lstm1), "works", "dynamo=True")
    _pin(check_deploy("hn_index", "onnx", lstm1), "fails",
         "torch.onnx.export: TypeError: zeros(): argument 'size' failed to unpack")


def test_onnx_without_its_extras_is_unavailable(monkeypatch, lstm1) -> None:
    monkeypatch.setattr(deploy, "missing_onnx_packages", lambda: ["onnxruntime"])
    result = check_deploy("padded_gather", "onnx", lstm1)
    assert result.status == "unavailable"
    assert "onnxruntime" in result.detail and "pip install onnx onnxscript onnxruntime" in (
        result.detail)


# ---------------------------------------------------------------------------------------------
# how a deployed callable is judged


def _fake_deployment(monkeypatch, behave):
    def fake(module, x, lengths, technology):
        return deploy.Deployed(
            lambda x, lengths: behave(module, x, lengths), 0.5, None, "fake")
    monkeypatch.setattr(deploy, "deploy", fake)


def test_output_off_on_untraced_lengths_is_wrong(monkeypatch, lstm1) -> None:
    traced = build(lstm1).lengths

    def off(module, x, lengths):
        fwd, bwd = module(x, lengths)
        return (fwd, bwd) if torch.equal(lengths, traced) else (fwd, bwd + 3e-2)

    _fake_deployment(monkeypatch, off)
    result = check_deploy("hn_index", "script", lstm1)
    assert result.status == "wrong" and math.isclose(result.max_abs_error, 3e-2, rel_tol=1e-3)
    assert result.detail == "max abs error 3.0e-02 on new lengths (B=4, T=6)"
    assert deploy.format_cell(result) == "wrong 3e-02"


def test_crash_on_an_untraced_shape_fails(monkeypatch, lstm1) -> None:
    def static(module, x, lengths):
        if x.shape[0] != lstm1.batch:
            raise RuntimeError("expected batch 4\nmore")
        return module(x, lengths)

    _fake_deployment(monkeypatch, static)
    result = check_deploy("hn_index", "script", lstm1)
    assert result.status == "fails"
    assert result.detail == "run on new shape (B=3, T=9): RuntimeError: expected batch 4"


def test_first_error_line_finds_the_root_cause() -> None:
    try:
        try:
            raise TypeError("inner reason\ndetails at 0x7f00deadbeef")
        except TypeError as inner:
            raise RuntimeError("\x1b[96mwrapper\x1b[0m") from inner
    except RuntimeError as err:
        assert deploy.first_error_line(err) == "TypeError: inner reason"


# ---------------------------------------------------------------------------------------------
# the matrix, its formats, the CLI


def test_matrix_is_deterministic_and_round_trips() -> None:
    kwargs = {"strategies": ("hn_index", "padded_gather"), "cells": ("lstm",), "layers": (1,),
              "technologies": ("script", "export", "export_while_loop")}
    seen = []
    first = deploy.deploy_matrix(**kwargs, progress=lambda *args: seen.append(args))
    second = deploy.deploy_matrix(**kwargs)
    assert [r.verdict() for r in first] == [r.verdict() for r in second]
    assert len(first) == 6 and seen[-1][:2] == (6, 6)
    assert [r.status for r in first] == ["works", "fails", "fails", "works", "fails", "works"]
    assert deploy.strategies_that_work(first, "script") == ["hn_index", "padded_gather"]
    assert deploy.strategies_that_work(first, "export_while_loop") == ["padded_gather"]
    assert deploy.strategies_that_work(first, "export") == []
    read = parse_deploy(deploy.to_json(first))  # what the report reads
    assert list(read["status"]) == [r.status for r in first]
    payload = json.loads(deploy.to_json(first))
    assert payload["versions"]["torch"] == torch.__version__ and len(payload["probes"]) == 4
    assert deploy.to_csv(first).splitlines()[0].startswith("strategy,cell,layers,device,")
    table = deploy.format_matrix(first)
    assert "padded_gather lstm 1" in table and "fails [1]" in table
    assert "[1] torch.export.export: TypeError: zeros()" in table
    assert "[2] torch.export.export: UserError: Constraints violated (steps)!" in table


def test_cli_deploy(tmp_path, capsys) -> None:
    out = tmp_path / "deploy.json"
    code = main(["deploy", "--strategies", "hn_padded,manual_two_rnn", "--cells", "gru",
                 "--layers", "2", "--technologies", "script,compile_fullgraph",
                 "--json", str(out), "--csv", str(tmp_path / "deploy.csv")])
    captured = capsys.readouterr()
    assert code == 0
    assert "strategy cell layers" in captured.out and "hn_padded gru 2" in captured.out
    assert "Attempted to wrap RNN, GRU, or LSTM" in captured.out
    assert "4/4" in captured.err  # progress on stderr
    rows = json.loads(out.read_text())["rows"]
    assert [(r["strategy"], r["technology"], r["status"]) for r in rows] == [
        ("hn_padded", "script", "works"), ("hn_padded", "compile_fullgraph", "fails"),
        ("manual_two_rnn", "script", "works"), ("manual_two_rnn", "compile_fullgraph", "fails")]


@pytest.mark.parametrize("argv, message", [
    (["--technologies", "script,tflite"], "'tflite' is not one of"),
    (["--layers", "0"], "expected an integer from 1 to"),
    (["--strategies", "best"], "'best' is not one of"),
    (["--cells", "transformer"], "'transformer' is not one of"),
])
def test_cli_deploy_bad_arguments(capsys, argv, message) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["deploy", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_deploy_without_cuda(capsys) -> None:
    assert main(["deploy", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# the asv compile benchmarks (benchmarks/compiled.py)


def test_compile_benchmark_parameters() -> None:
    assert compiled.Compiled.param_names == ["regime", "strategy", "compile"]
    ids, strategies, modes = compiled.Compiled.params
    if regimes.grid_name() == "quick":
        quick = [r for r in regimes.regimes("quick") if (r.batch, r.max_len) == (64, 32)
                 and (r.cell, r.layers) in compiled.QUICK_CELLS]
        assert ids == [r.id for r in quick] and len(ids) >= 2
        assert {r.device for r in quick} == set(regimes.devices())
        # Not the pitfalls; only the baseline's run step (manual_two_rnn's cold compile alone
        # costs 20-30 s, bucketed compiles it per bucket shape).
        baseline_run = STRATEGIES["hn_index"].run
        assert strategies == [name for name, s in STRATEGIES.items()
                              if not s.pitfall and s.run is baseline_run]
        assert "manual_two_rnn" not in strategies and "chunk_view" in strategies
    assert compiled.compile_strategies("full") == [name for name, s in STRATEGIES.items()
                                                   if not s.pitfall]
    assert modes == ["eager", "compile"]
    assert compiled.compile_regimes("smoke") == regimes.regimes("smoke")
    assert compiled.compile_strategies("smoke") == ["hn_index"]
    assert compiled.CompiledFigures.params == compiled.Compiled.params
    assert compiled.CompiledFigures.track_compile_seconds.unit == "seconds"
    assert compiled.CompiledFigures.track_compiled_error.unit == "abs error"


def test_compiled_case() -> None:
    smoke = compiled.compile_regimes("smoke")[0]  # lstm, 2 layers, skewed lengths
    eager = compiled.CompiledCase(smoke, "hn_index", "eager")
    fast = compiled.CompiledCase(smoke, "hn_index", "compile")
    assert torch.get_num_threads() == 1
    for case in (eager, fast):
        assert case.first_call_seconds > 0
        got = case.forward()
        want = STRATEGIES["hn_index"](eager.module.rnn, eager.x, eager.lengths)
        assert all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got, want, strict=True))
        assert case.max_abs_error() <= TOLERANCES[torch.float32]
    # The timed point's own check sees a wrong strategy (padding read on skewed lengths); eager:
    # the check is the same code either way, and a cold compile of it costs ~13 s of g++.
    wrong = compiled.CompiledCase(smoke, "padded_gather", "eager")
    assert wrong.max_abs_error() > TOLERANCES[torch.float32]
    with pytest.raises(ValueError, match="compile: expected one of"):
        compiled.CompiledCase(smoke, "hn_index", "jit")
    with pytest.raises(NotImplementedError, match="has no strategy 'best'"):
        compiled.CompiledCase(smoke, "best", "eager")
    if not torch.cuda.is_available():
        with pytest.raises(NotImplementedError, match="no CUDA device"):
            compiled.CompiledCase(regimes.regimes("smoke", on=("cuda",))[0], "hn_index",
                                  "compile")
