"""Bad input in, a clear error out: every strategy call, the lengths file, and the CLI.

CLI cases run ``birnn_bench.cli.main`` in-process on a tiny grid; each asserts exit code 2, the
one error line ``birnn-bench <cmd>: error: <what>: <why>``, and that no work was done (nothing
on stdout) and nothing written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from birnn_bench import cli, workload
from birnn_bench._rnn import extract_dims
from birnn_bench.strategies import STRATEGIES
from birnn_bench.workload import read_lengths_file

TINY = ["--cells", "lstm", "--layers", "1", "--dtypes", "float32", "--lengths", "equal"]
DEPLOY_TINY = ["--cells", "lstm", "--layers", "1", "--strategies", "hn_index",
               "--technologies", "script"]


# ---------------------------------------------------------------------------------------------
# every strategy entry checks the cheap invariants


@pytest.fixture
def case() -> tuple[nn.LSTM, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    rnn = nn.LSTM(4, 3, num_layers=2, bidirectional=True, batch_first=True).eval()
    x = torch.randn(3, 5, 4)
    return rnn, x, torch.tensor([5, 2, 4])


def _bad_calls(rnn: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> list[tuple]:
    uni = nn.LSTM(4, 3, batch_first=True).eval()
    dropped = nn.LSTM(4, 3, num_layers=2, dropout=0.5, bidirectional=True,
                      batch_first=True).train()
    return [
        ((rnn, torch.randn(3, 5, 6), lengths), ValueError,
         r"x: last dimension is 6 but the rnn expects input_size=4"),
        ((rnn, x, torch.tensor([5, 2])), ValueError,
         r"lengths: has 2 entries but x holds a batch of 3"),
        ((rnn, x, torch.tensor([5, 2, 4, 1])), ValueError,
         r"lengths: has 4 entries but x holds a batch of 3"),
        ((uni, x, lengths), ValueError, r"rnn: expected a bidirectional rnn"),
        ((rnn, x, torch.tensor([5, 6, 4])), ValueError,
         r"lengths: lengths\[1\] = 6 is longer than x's 5 time steps"),
        ((rnn, x, torch.tensor([5, 0, 4])), ValueError, r"lengths: lengths\[1\] = 0"),
        ((rnn, x[0], lengths), ValueError, r"x: expected a 3-D padded batch"),
        ((rnn, x.unsqueeze(0), lengths), ValueError, r"x: expected a 3-D padded batch"),
        ((rnn, x[:0], lengths[:0]), ValueError, r"x: the batch is empty"),
        ((rnn, x, lengths.float()), TypeError, r"lengths: expected an integer dtype"),
        ((rnn, x, lengths.view(3, 1)), ValueError, r"lengths: expected a 1-D tensor"),
        ((rnn, x, [5, 2**70, 4]), ValueError, r"lengths: .* holds a value beyond int64"),
        ((rnn, x.numpy(), lengths), TypeError, r"x: expected a tensor"),
        ((nn.Linear(4, 3), x, lengths), TypeError, r"rnn: expected an nn.LSTM"),
        # what last_states refused and a registry entry once passed on to torch (raw errors)
        ((rnn, x.long(), lengths), TypeError, r"x: expected a floating dtype, got torch.int64"),
        ((rnn, x.double(), lengths), TypeError,
         r"x: dtype torch.float64 differs from the rnn's parameters \(torch.float32\)"),
        ((rnn, x.to("meta"), lengths), ValueError,
         r"x: on meta but the rnn's parameters are on cpu"),
        ((rnn, x, lengths.to("meta")), ValueError, r"lengths: on the meta device"),
        ((dropped, x, lengths), ValueError, r"rnn: dropout=0.5 between layers is active"),
    ]


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_refuses_bad_input_by_name(case, name: str) -> None:
    x_before = case[1].clone()
    for args, error, pattern in _bad_calls(*case):
        with pytest.raises(error, match=pattern):
            STRATEGIES[name](*args)
    assert torch.equal(case[1], x_before)


def test_wrong_input_size_no_longer_returns_garbage(case) -> None:
    # The functional torch.lstm path read past the weights: varying values, no error.
    rnn, _, lengths = case
    with pytest.raises(ValueError, match=r"input_size=4"):
        STRATEGIES["manual_two_rnn"](rnn, torch.randn(3, 5, 7), lengths)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_checked_call_equals_the_unchecked_steps(case, name: str) -> None:
    rnn, x, lengths = case
    strategy = STRATEGIES[name]
    with torch.no_grad():
        ran = strategy.run(rnn, strategy.prepare(x, lengths, rnn.batch_first))
        want = strategy.extract(ran, lengths, *extract_dims(rnn))
        for given in (lengths, lengths.tolist(), lengths.to(torch.int32)):
            got = strategy(rnn, x, given)
            assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


def test_time_first_layout_is_checked_in_its_own_axes() -> None:
    rnn = nn.GRU(2, 3, bidirectional=True).eval()  # x is (T, B, F)
    x = torch.randn(4, 2, 2)
    with pytest.raises(ValueError, match=r"lengths: has 4 entries but x holds a batch of 2"):
        STRATEGIES["hn_index"](rnn, x, torch.tensor([4, 4, 4, 4]))
    with pytest.raises(ValueError, match=r"longer than x's 4 time steps"):
        STRATEGIES["padded_gather"](rnn, x, torch.tensor([5, 1]))


# ---------------------------------------------------------------------------------------------
# the lengths file


@pytest.mark.parametrize(("data", "pattern"), [
    (b"\x7fELF\x02\x01\x01\x00\x00", r"not a text file \(a NUL byte at offset 7\)"),
    (b"3 4 \xff\xfe 5", r"not a text file \(byte 0xff at offset 4 is not UTF-8\)"),
    (b"3 99999999999999999999999 2", r"too large for a sequence length"),
    (b"3 -7 2", r"length -7 is < 1"),
    (b"3 1_000", r"'1_000' is not an integer"),
])
def test_lengths_file_refuses_what_is_not_lengths(tmp_path, data: bytes, pattern: str) -> None:
    path = tmp_path / "lengths.txt"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=pattern):
        read_lengths_file(path)


def test_lengths_file_read_is_bounded(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(workload, "MAX_LENGTHS_FILE_BYTES", 16)
    path = tmp_path / "lengths.txt"
    path.write_text("1 " * 9)
    with pytest.raises(ValueError, match=r"larger than 16 bytes"):
        read_lengths_file(path)
    path.write_text("1 " * 8)
    assert read_lengths_file(path) == [1] * 8


# ---------------------------------------------------------------------------------------------
# the CLI: check and deploy


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, the last stderr line), whether argparse or the command refused."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    return code, out, lines[-1] if lines else ""


def _refused(argv: list[str], capsys, error: str) -> None:
    code, out, line = _cli(argv, capsys)
    assert code == 2
    assert line.startswith(f"birnn-bench {argv[0]}: error: "), line
    assert error in line, line
    assert out == "", "work was done before the argument was refused"


@pytest.mark.parametrize("device", ["tpu", "bogus", "CPU", "cpu:3", "meta"])
@pytest.mark.parametrize("command", [["check", *TINY], ["deploy", *DEPLOY_TINY]])
def test_unknown_device(capsys, command: list[str], device: str) -> None:
    _refused([*command, "--device", device], capsys,
             f"--device: {device!r} is not a device this tool runs on; expected cpu, cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda(capsys) -> None:
    _refused(["check", *TINY, "--device", "cuda:0"], capsys,
             "--device: 'cuda:0' requested but CUDA is not available here")


@pytest.mark.parametrize("option", ["--json", "--csv"])
@pytest.mark.parametrize("command", [["check", *TINY], ["deploy", *DEPLOY_TINY]])
def test_output_path_is_a_directory(tmp_path, capsys, command: list[str], option: str) -> None:
    target = tmp_path / "results"
    target.mkdir()
    _refused([*command, option, str(target)], capsys,
             f"{option} {target}: is a folder, not a file")
    assert list(tmp_path.iterdir()) == [target] and not any(target.iterdir())


@pytest.mark.parametrize("option", ["--json", "--csv"])
def test_output_path_under_a_file(tmp_path, capsys, option: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("keep")
    target = blocker / "sub" / "out.file"
    _refused(["check", *TINY, option, str(target)], capsys,
             f"{option} {target}: cannot be created: {blocker} is a file, not a folder")
    assert blocker.read_text() == "keep" and list(tmp_path.iterdir()) == [blocker]


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_output_path_through_a_symlink_loop(tmp_path, capsys) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    _refused(["check", *TINY, "--json", str(tmp_path / "a" / "m.json")], capsys,
             f"--json {tmp_path / 'a' / 'm.json'}: passes through the symbolic link "
             f"{tmp_path / 'a'} ({tmp_path / 'a'} -> {tmp_path / 'b'}), which loops")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_output_path_in_a_read_only_directory(tmp_path, capsys, monkeypatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0:  # root may write anyway: the check asks os.access, so it is asked here
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: (
            Path(path) != locked and real_access(path, mode, **kwargs)))
    try:
        _refused(["check", *TINY, "--json", str(locked / "m.json")], capsys,
                 f"--json {locked / 'm.json'}: cannot be created: {locked} is not writable")
        assert not any(locked.iterdir())
    finally:
        locked.chmod(0o700)


def test_json_and_csv_on_the_same_file(tmp_path, capsys) -> None:
    target = tmp_path / "m.out"
    _refused(["check", *TINY, "--json", str(target), "--csv", str(target)], capsys,
             f"--csv {target}: is also the file of --json")
    assert not target.exists()


@pytest.mark.parametrize("seed", [str(2**70), str(2**64), "-1", "0x10"])
def test_seed_out_of_range(capsys, seed: str) -> None:
    _refused(["check", *TINY, "--seed", seed], capsys, "--seed: ")
    _refused(["check", *TINY, "--seed", seed], capsys, "0..2**64-1")


def test_seed_at_the_edges_of_its_range(tmp_path, capsys) -> None:
    for seed in ("0", str(2**64 - 1)):
        code, out, _ = _cli(["check", *TINY, "--quiet", "--seed", seed], capsys)
        assert code == 0 and "hn_index" in out


def test_binary_lengths_file(tmp_path, capsys) -> None:
    path = tmp_path / "lengths.bin"
    path.write_bytes(bytes(range(256)))
    _refused(["check", *TINY[:-1], f"file:{path}"], capsys,
             f"--lengths: lengths file {str(path)!r}: not a text file")


def test_non_utf8_lengths_file(tmp_path, capsys) -> None:
    path = tmp_path / "lengths.txt"
    path.write_bytes("3 4 5 \u00e9".encode("latin-1"))
    _refused(["check", *TINY[:-1], f"file:{path}"], capsys, "is not UTF-8")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_lengths_file(capsys) -> None:
    _refused(["check", *TINY[:-1], "file:/dev/zero"], capsys,
             "--lengths: lengths file '/dev/zero': larger than 10 MB")


def test_lengths_longer_than_max_len_point_at_the_option(tmp_path, capsys) -> None:
    path = tmp_path / "lengths.txt"
    path.write_text("3 12 5\n")
    _refused(["check", *TINY[:-1], f"file:{path}", "--max-len", "9"], capsys,
             "holds length 12 (entry 1), longer than --max-len=9")


def test_good_lengths_file_still_runs(tmp_path, capsys) -> None:
    path = tmp_path / "lengths.txt"
    path.write_text("3, 9\n5\n")
    out_json = tmp_path / "out" / "m.json"
    code, out, _ = _cli(["check", *TINY[:-1], f"file:{path}", "--max-len", "9", "--quiet",
                         "--json", str(out_json)], capsys)
    assert code == 0 and out_json.is_file() and f"wrote {out_json}" in out


@pytest.mark.parametrize("option", ["--batch", "--max-len", "--hidden"])
def test_non_integer_sizes(capsys, option: str) -> None:
    _refused(["check", *TINY, option, "many"], capsys,
             f"{option}: expected an integer >= 1, got 'many'")


def test_a_type_error_is_a_bug_not_an_input_error(monkeypatch) -> None:
    def broken(args: object) -> int:
        raise TypeError("unsupported operand type(s)")

    monkeypatch.setattr(cli, "cmd_check", broken)
    with pytest.raises(TypeError, match="unsupported operand"):
        cli.main(["check", *TINY])
