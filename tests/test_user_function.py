"""A user's own last-state function: loaded, probed, checked and timed like a strategy.

* every broken spec is one ``error:`` line, exit 2, no traceback, before any check or timing;
* the examples' verdicts and look-alikes, through the CLI in a real process;
* the look-alike rule (same failing (condition, direction) cells; within; beyond);
* ``recommend`` times a function right on the workload against hn_index, lists a wrong one;
* the Python API, and the README's snippet run as written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from torch.nn.utils.rnn import pack_padded_sequence

from birnn_bench import FunctionCheck, WorkloadSpec, check_function, compare_function
from birnn_bench import check as check_module
from birnn_bench import recommend as recommend_module
from birnn_bench.bench import BenchCase
from birnn_bench.cli import main
from birnn_bench.function_check import format_function_check
from birnn_bench.user_function import load_function, validate_function
from tests.conftest import REPO

#: A quick slice of the matrix for in-process tests: padded and unpadded, one and two layers.
SMALL = {"cells": ("lstm", "gru"), "layers": (1, 2), "dtypes": ("float32",),
         "lengths": ("equal", "unsorted", "with_ones")}

BAD_FUNCTIONS = '''
import torch
NOT_A_FUNCTION = 3

def raises(rnn, x, lengths):
    raise RuntimeError("boom inside the user's code")

def one_tensor(rnn, x, lengths):
    return torch.zeros(x.shape[0], rnn.hidden_size)

def three(rnn, x, lengths):
    z = torch.zeros(x.shape[0], rnn.hidden_size)
    return z, z, z

def not_tensors(rnn, x, lengths):
    return [1.0], [2.0]

def a_list(rnn, x, lengths):
    z = torch.zeros(x.shape[0], rnn.hidden_size)
    return [z, z]

def wrong_shape(rnn, x, lengths):
    z = torch.zeros(x.shape[0], 2 * rnn.hidden_size)
    return z, z

def wrong_dtype(rnn, x, lengths):
    z = torch.zeros(x.shape[0], rnn.hidden_size, dtype=torch.float64)
    return z, z

def wrong_device(rnn, x, lengths):
    z = torch.zeros(x.shape[0], rnn.hidden_size, device="meta")
    return z, z

def aliases_x(rnn, x, lengths):
    return x[:, 0, :rnn.hidden_size], x[:, 1, :rnn.hidden_size]

def changes_x(rnn, x, lengths):
    x.zero_()
    z = torch.zeros(x.shape[0], rnn.hidden_size)
    return z, z
'''


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_functions.py"
    path.write_text(BAD_FUNCTIONS)
    return path


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any check or timing started makes the test fail."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started before the spec was refused")

    monkeypatch.setattr(check_module, "run_check", refuse)
    monkeypatch.setattr(recommend_module, "recommend", refuse)


def _bad_specs(tmp_path: Path, user_file: Path) -> list[tuple[str, str]]:
    broken_import = tmp_path / "broken_import.py"
    broken_import.write_text("raise RuntimeError('cannot import me')\n")
    syntax = tmp_path / "syntax_error.py"
    syntax.write_text("def fn(rnn, x, lengths)\n    return 1\n")
    f = str(user_file)
    return [
        ("no_such_module_for_birnn_bench:fn", "no such module 'no_such_module_for_birnn_bench'"),
        (f"{tmp_path}/missing.py:fn", "no such file"),
        (f"{f}:no_such_function",
         "has no function 'no_such_function' (it defines: a_list, aliases_x"),
        (f"{f}:NOT_A_FUNCTION", "'NOT_A_FUNCTION' is of type int, not callable"),
        (f"{broken_import}:fn", "raised RuntimeError: cannot import me"),
        (f"{syntax}:fn", "raised SyntaxError"),
        (f"{f}:raises", "raised RuntimeError: boom inside the user's code on the probe workload"),
        (f"{f}:one_tensor", "returned one Tensor of shape (3, 4)"),
        (f"{f}:three", "returned a tuple of 3 (Tensor, Tensor, Tensor)"),
        (f"{f}:not_tensors", "returned a tuple of 2 (list, list)"),
        (f"{f}:a_list", "returned a list on the probe"),
        (f"{f}:wrong_shape", "fwd has shape (3, 8)"),
        (f"{f}:wrong_dtype", "fwd has dtype torch.float64"),
        (f"{f}:wrong_device", "fwd is on meta"),
        (f"{f}:aliases_x", "fwd shares x's storage"),
        (f"{f}:changes_x", "changed its input x in place"),
        (f"{f}:", "expected MODULE:FUNCTION or FILE.py:FUNCTION"),
        ("not-a-module:fn", "is neither a module name nor a .py file"),
    ]


@pytest.mark.parametrize("command", ["check", "recommend"])
def test_every_bad_spec_is_one_error_line_before_any_work(command, tmp_path, user_file, no_work,
                                                          capsys) -> None:
    for spec, message in _bad_specs(tmp_path, user_file):
        assert main([command, "--strategies", f"hn_index,{spec}"]) == 2, spec
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, (spec, captured.err)
        assert lines[0].startswith(f"birnn-bench {command}: error: --strategies: "), lines[0]
        assert repr(spec) in lines[0] and message in lines[0], (spec, lines[0])
        assert "Traceback" not in captured.err and captured.out == ""


def test_a_bad_spec_in_a_real_process_has_no_traceback(tmp_path, user_file) -> None:
    for spec in (f"{user_file}:raises", "no_such_module_for_birnn_bench:fn"):
        done = subprocess.run([sys.executable, "-m", "birnn_bench.cli", "check", "--strategies",
                               spec], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("birnn-bench check: error: --strategies: ")


def test_a_name_without_a_colon_is_still_a_registry_name(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--strategies", "hn_index,nonsense"])
    assert exit_info.value.code == 2
    assert "'nonsense' is not one of" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# the examples, through the CLI in a real process

def _cli_check(*specs: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "birnn_bench.cli", "check", "--quiet",
                           "--strategies", ",".join(specs)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def _verdict(text: str, spec: str) -> str:
    """The lines of ``spec``'s verdict block under "Your function(s)"."""
    block = text.split("Your function(s)", 1)[1]
    match = re.search(rf"^{re.escape(spec)}: .*?(?=^\S|\Z)", block, re.M | re.S)
    assert match, text
    return match.group(0)


def test_fairseq_style_passes_everywhere() -> None:
    spec = "examples/fairseq_style.py:final_states"
    done = _cli_check(spec)
    assert done.returncode == 0, done.stderr
    assert _verdict(done.stdout, spec).startswith(f"{spec}: PASS, right on all 240 conditions")


def test_allennlp_style_passes_on_packed_and_fails_like_padded_gather_unpacked() -> None:
    packed, unpacked = ("examples/allennlp_style.py:on_packed",
                        "examples/allennlp_style.py:on_unpacked")
    done = _cli_check(packed, unpacked)
    assert done.returncode == 1, done.stderr  # a function FAILs
    assert _verdict(done.stdout, packed).startswith(f"{packed}: PASS, right on all 240")
    verdict = _verdict(done.stdout, unpacked)
    assert verdict.startswith(f"{unpacked}: FAIL, wrong on 192 of 240 conditions (forward wrong "
                              "in 128, backward wrong in 192)")
    assert "fails whenever lengths=sorted, lengths=unsorted, lengths=short, lengths=with_ones, " \
        "padded=True" in verdict
    assert "never fails with lengths=equal, padded=False" in verdict
    assert "fails exactly where `padded_gather` fails (same conditions, same directions): " \
        "without packing the backward direction starts in the padding" in verdict
    assert "hn_padded" not in verdict  # same conditions, but both directions wrong there


def test_flair_style_holds_both_final_states_and_two_one_step_states() -> None:
    final, other = "examples/flair_style.py:final_states", "examples/flair_style.py:other_halves"
    done = _cli_check(final, other)
    assert done.returncode == 1, done.stderr
    assert _verdict(done.stdout, final).startswith(f"{final}: PASS, right on all 240")
    verdict = _verdict(done.stdout, other)
    assert verdict.startswith(f"{other}: FAIL, wrong on 240 of 240 conditions (forward wrong in "
                              "240, backward wrong in 240)")
    assert "fails wherever `last_step_naive` fails, and elsewhere too" in verdict


# ---------------------------------------------------------------------------------------------
# the look-alike rule and the API

def h_n_unpacked(rnn, x, lengths):
    """hn_padded written by a user: the same cells wrong, so it behaves like it."""
    h_n = rnn(x)[1]
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n
    return h_n[-2], h_n[-1]


def backward_from_padded_run(rnn, x, lengths):
    """Forward right (packed h_n), backward read at t=0 of a padded run: wrong on the backward
    half of padded batches only, a strict subset of padded_gather's wrong cells."""
    packed = pack_padded_sequence(x, lengths, batch_first=rnn.batch_first, enforce_sorted=False)
    h_n = rnn(packed)[1]
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n
    fwd = h_n.view(rnn.num_layers, 2, h_n.shape[1], h_n.shape[2])[-1, 0]
    output = rnn(x)[0]
    start = output[:, 0] if rnn.batch_first else output[0]
    return fwd, start[:, start.shape[1] // 2:]


def raises_on_three_layers(rnn, x, lengths):
    if rnn.num_layers == 3:
        raise NotImplementedError("three layers")
    return h_n_unpacked(rnn, x, lengths)


def test_check_function_names_the_look_alike_by_failing_cells() -> None:
    specs = list(check_module.check_specs(**SMALL))
    same = check_function(h_n_unpacked, specs=specs)
    assert isinstance(same, FunctionCheck) and same.verdict == "FAIL"
    assert same.name == f"{__name__}:h_n_unpacked"
    assert same.same_as == ("hn_padded",) and same.why.startswith("without packing h_n")
    assert "padded=True" in same.always_fails and "lengths=equal" in same.never_fails
    assert {c["lengths"] for c in same.failing_conditions} == {"unsorted", "with_ones"}
    assert len(same.failing) == len(same.failing_conditions) == 2 * len(specs) // 3

    within = check_function(backward_from_padded_run, specs=specs, name="mine")
    assert within.name == "mine" and within.same_as == () and within.why == ""
    assert within.within == "padded_gather" and within.beyond is None
    assert all(row.fwd_ok for row in within.rows)
    text = format_function_check(within)
    assert text.startswith("mine: FAIL") and "fails only where `padded_gather` fails" in text


def test_a_function_that_raises_on_some_conditions_is_a_verdict_not_an_error(capsys) -> None:
    result = check_function(raises_on_three_layers, specs=list(check_module.check_specs(
        cells=("gru",), layers=(1, 3), lengths=("equal",), dtypes=("float64",))))
    assert result.verdict == "FAIL" and result.always_fails == ("num_layers=3",)
    assert "raised on 2 condition(s), first: NotImplementedError: three layers" \
        in format_function_check(result)


def test_the_api_refuses_a_broken_function_and_a_registry_name() -> None:
    with pytest.raises(ValueError, match=r"'broken': returned one Tensor"):
        check_function(lambda rnn, x, lengths: x, name="broken")
    with pytest.raises(ValueError, match="registry strategy's name"):
        check_function(h_n_unpacked, name="hn_index")
    with pytest.raises(ValueError, match="strategies: expected names"):
        compare_function(h_n_unpacked, WorkloadSpec(), strategies=("nonsense",))
    with pytest.raises(ValueError, match="not callable"):
        validate_function(3, "three")  # type: ignore[arg-type]


def test_a_module_spec_is_imported_from_the_current_directory(tmp_path, monkeypatch) -> None:
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mymodule.py").write_text(
        "class Holder:\n    @staticmethod\n    def fn(rnn, x, lengths):\n        return 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "mypkg", raising=False)
    monkeypatch.delitem(sys.modules, "mypkg.mymodule", raising=False)
    fn = load_function("mypkg.mymodule:Holder.fn")
    assert fn(None, None, None) == 1
    assert str(tmp_path) not in sys.path  # only while importing


def test_a_whole_call_function_has_no_extract_step() -> None:
    case = BenchCase(WorkloadSpec(batch=2, max_len=4), h_n_unpacked)
    fwd, _ = case.forward()
    assert fwd.shape == (2, 32)
    with pytest.raises(ValueError, match="extract: n/a for a whole-call function"):
        case.extract()


# ---------------------------------------------------------------------------------------------
# recommend

def test_recommend_times_a_right_function_and_lists_a_wrong_one(tmp_path, capsys) -> None:
    lengths = tmp_path / "lengths.txt"
    lengths.write_text("3 9 14 2 7\n")
    out = tmp_path / "rec.json"
    packed, unpacked = ("examples/allennlp_style.py:on_packed",
                        "examples/allennlp_style.py:on_unpacked")
    assert main(["recommend", "--strategies", f"hn_index,{packed},{unpacked}", "--lengths",
                 str(lengths), "--batch", "4", "--hidden", "8", "--input-size", "4",
                 "--budget", "0.3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    rows = {row["strategy"]: row for row in data["ranking"]}
    assert list(rows)[-1] == unpacked  # after every timed strategy
    assert data["baseline"] == "hn_index" and data["resolution"] is not None
    assert rows[packed]["correct"] and rows[packed]["safe"] and rows[packed]["rounds"] >= 8
    assert set(rows[packed]["ratio"]) == {"estimate", "low", "high"}
    assert rows[packed]["verdict"] in {"faster", "slower", "tied", "unresolved"}
    assert not rows[unpacked]["correct"] and rows[unpacked]["ratio"] is None
    assert data["choice"] in {"hn_index", packed}  # a wrong function is never recommended
    assert f"{unpacked}   excluded: wrong on this workload" in text
    assert "Resolution (A/A, hn_index against itself" in text


def test_recommend_adds_the_baseline_to_a_lone_function(tmp_path, capsys) -> None:
    out = tmp_path / "rec.json"
    assert main(["recommend", "--strategies", "examples/fairseq_style.py:final_states",
                 "--batch", "3", "--hidden", "8", "--input-size", "4", "--max-len", "6",
                 "--budget", "0.3", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["baseline"] == "hn_index"
    assert {row["strategy"] for row in data["ranking"]} == {
        "hn_index", "examples/fairseq_style.py:final_states"}


def test_recommend_train_step_and_profile_with_functions(tmp_path, capsys) -> None:
    """A function whose training step raises (outputs detached; h_n of an unpacked run, right
    on equal lengths) is excluded with the reason, not a crash; --profile writes no trace for a
    function (a trace is by phase)."""
    detached = tmp_path / "detached.py"
    detached.write_text("def fn(rnn, x, lengths):\n"
                        "    h_n = rnn(x)[1][0]\n"
                        "    return h_n[-2].detach(), h_n[-1].detach()\n")
    fairseq = "examples/fairseq_style.py:final_states"
    out = tmp_path / "rec.json"
    assert main(["recommend", "--mode", "train_step", "--strategies",
                 f"hn_index,{fairseq},{detached}:fn", "--batch", "3", "--hidden", "8",
                 "--input-size", "4", "--max-len", "6", "--lengths", "equal", "--budget", "0.3",
                 "--profile", str(tmp_path / "traces"), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    rows = {row["strategy"]: row for row in data["ranking"]}
    assert rows[fairseq]["ratio"] is not None and rows[fairseq]["rounds"] >= 8
    assert rows[f"{detached}:fn"]["excluded"].startswith(
        "excluded: its training step raised RuntimeError: element 0 of tensors does not "
        "require grad")
    assert list(data["traces"]) == ["hn_index"]


# ---------------------------------------------------------------------------------------------
# the README's snippet, as written

def test_the_readme_snippet_runs(capsys) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Check your own code", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, re.S)
    namespace: dict[str, object] = {"__name__": "readme_snippet"}
    exec(compile(snippet, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "FAIL ('hn_padded',)" in printed
    recommendation = namespace["rec"]
    assert recommendation.baseline == "hn_index"  # type: ignore[attr-defined]
    assert "Resolution (A/A" in printed
