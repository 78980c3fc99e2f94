"""Hostile and careless input to both command lines (issue 31): outputs through links, into
folders that hold other things or cannot take files, and workloads that cannot fit in memory.
Each is refused before any work with one ``error:`` line naming the option, no traceback, and
nothing written anywhere. Links point into tmp_path, never at a real system folder (the rule is
about links, not /etc); /proc is only asked to create a folder, which it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import cli as analysis_cli
from analysis import command
from analysis.load.results import load_results
from birnn_bench import build, cli, memory
from birnn_bench._io import MARKER
from birnn_bench.workload import WorkloadSpec
from tests import test_load_validation as tree_of
from tests.test_load_validation import make_tree, problems_of, rows_of, set_result

BAD, BENCHES, COLUMNS, ENV_FILE = tree_of.BAD, tree_of.BENCHES, tree_of.COLUMNS, tree_of.ENV_FILE
PAIR, POINT_2, REGIME = tree_of.PAIR, tree_of.POINT_2, tree_of.REGIME

TINY = ["--cells", "lstm", "--layers", "1", "--dtypes", "float32", "--lengths", "equal"]
DEPLOY_TINY = ["--cells", "lstm", "--layers", "1", "--strategies", "hn_index",
               "--technologies", "script"]
RECOMMEND_TINY = ["--batch", "2", "--hidden", "4", "--input-size", "3", "--max-len", "4",
                  "--budget", "0.2", "--strategies", "hn_index"]
GIB = 2**30


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``birnn-bench`` (or ``python -m analysis`` when argv
    starts with "analysis"), argparse's exits included."""
    main = command.main
    if argv[0] == "analysis":
        main, argv = analysis_cli.main, argv[1:]
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(argv: list[str], capsys, *expected: str) -> str:
    """The one error line of a refusal before any work; each of ``expected`` is in it."""
    code, out, err = run(argv, capsys)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert " error: " in line, line
    for text in expected:
        assert text in line, line
    assert out == "", "work was done before the input was refused"
    return line


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (what must stay as it was)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


@pytest.fixture
def system_folder(tmp_path: Path) -> Path:
    """A stand-in for /etc: a folder of files a careless output must not touch."""
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "passwd").write_text("root:x:0:0\n")
    (folder / "index.html").write_text("not ours\n")
    return folder


# ---------------------------------------------------------------------------------------------
# 1. outputs through links, and into folders that are not the tool's


@pytest.mark.parametrize("command", [["report"], ["analysis", "report"]])
def test_report_out_through_a_link_is_refused_and_writes_nothing(tmp_path, capsys,
                                                                 system_folder, command) -> None:
    results = make_tree(tmp_path)
    link = tmp_path / "out"
    link.symlink_to(system_folder)
    before = tree(system_folder)
    refused([*command, "--quiet", "--results", str(results), "--out", str(link)], capsys,
            f"--out {link}: is a symbolic link ({link} -> {system_folder})",
            f"give the resolved path {system_folder}")
    assert tree(system_folder) == before
    # --force is about folders that hold files, never about links
    refused([*command, "--quiet", "--force", "--results", str(results), "--out", str(link)],
            capsys, f"--out {link}: is a symbolic link")
    assert tree(system_folder) == before


def test_a_path_through_a_link_is_refused_the_resolved_one_accepted(tmp_path, capsys) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    target = tmp_path / "via" / "sub" / "m.json"
    refused(["check", *TINY, "--json", str(target)], capsys,
            f"--json {target}: passes through the symbolic link {tmp_path / 'via'} "
            f"({tmp_path / 'via'} -> {real})", f"give the resolved path {real / 'sub' / 'm.json'}")
    assert not any(real.iterdir())
    code, _, _ = run(["check", *TINY, "--quiet", "--json", str(real / "sub" / "m.json")],
                       capsys)
    assert code == 0 and json.loads((real / "sub" / "m.json").read_text())["rows"]


def test_a_file_output_that_is_a_link_is_refused(tmp_path, capsys) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep")
    link = tmp_path / "m.csv"
    link.symlink_to(precious)
    refused(["deploy", *DEPLOY_TINY, "--csv", str(link)], capsys,
            f"--csv {link}: is a symbolic link ({link} -> {precious})")
    assert precious.read_text() == "keep"


def test_findings_outputs_through_links_are_refused(tmp_path, capsys) -> None:
    (tmp_path / "docs").symlink_to(tmp_path, target_is_directory=True)
    refused(["analysis", "findings", "--quiet", "--no-readme", "--results", str(tmp_path),
             "--out", str(tmp_path / "docs" / "FINDINGS.md")], capsys,
            f"--out {tmp_path / 'docs' / 'FINDINGS.md'}: passes through the symbolic link")
    refused(["analysis", "findings", "--quiet", "--no-readme", "--results", str(tmp_path),
             "--out", str(tmp_path / "F.md"), "--policy", str(tmp_path / "docs" / "p.json")],
            capsys, "--policy ")
    assert not (tmp_path / "F.md").exists() and not (tmp_path / "p.json").exists()


def test_report_into_a_folder_of_other_files_needs_force(tmp_path, capsys, system_folder,
                                                         monkeypatch) -> None:
    results = make_tree(tmp_path)
    before = tree(system_folder)
    tried: list[str] = []
    real_mkdtemp = __import__("tempfile").mkdtemp
    monkeypatch.setattr("tempfile.mkdtemp", lambda *a, dir=None, **k: tried.append(dir) or
                        real_mkdtemp(*a, dir=dir, **k))
    refused(["report", "--quiet", "--results", str(results), "--out", str(system_folder)],
            capsys, f"--out {system_folder}: holds 2 entries (index.html, passwd) and is no "
            f"earlier report of this tool (no {MARKER} in it)", "pass --force")
    assert tree(system_folder) == before
    assert tried == []  # refused before even a temporary entry was tried there
    code, _, err = run(["report", "--quiet", "--force", "--results", str(results), "--out",
                        str(system_folder)], capsys)
    assert code == 0, err
    assert (system_folder / "passwd").read_text() == "root:x:0:0\n"  # other names untouched
    marker = json.loads((system_folder / MARKER).read_text())
    assert marker["output"] == "report" and "grid.csv" in marker["files"]
    # now an earlier report: a rerun needs no --force
    code, _, err = run(["report", "--quiet", "--results", str(results), "--out",
                        str(system_folder)], capsys)
    assert code == 0, err


def test_a_report_folder_holding_its_own_inputs_is_not_foreign(tmp_path, capsys) -> None:
    """scripts/main_job.py writes report/check.json, then the report into report/."""
    results = make_tree(tmp_path)
    out = tmp_path / "report"
    out.mkdir()
    check = out / "check.json"
    code, _, err = run(["check", *TINY, "--quiet", "--json", str(check)], capsys)
    assert code == 0, err
    code, _, err = run(["report", "--quiet", "--results", str(results), "--out", str(out),
                        "--check", str(check)], capsys)
    assert code == 0, err
    assert (out / "index.html").is_file() and (out / MARKER).is_file()


def test_a_report_from_before_the_marker_is_an_earlier_report(tmp_path, capsys) -> None:
    results = make_tree(tmp_path)
    out = tmp_path / "old-report"
    out.mkdir()
    for name in analysis_cli.EARLIER_REPORT:
        (out / name).write_text("old")
    code, _, err = run(["report", "--quiet", "--results", str(results), "--out", str(out)],
                       capsys)
    assert code == 0, err
    assert (out / "summary.md").read_text() != "old"


def test_profile_folder_rules(tmp_path, capsys, system_folder) -> None:
    link = tmp_path / "traces"
    link.symlink_to(system_folder)
    before = tree(system_folder)
    refused(["recommend", *RECOMMEND_TINY, "--profile", str(link)], capsys,
            f"--profile {link}: is a symbolic link")
    refused(["recommend", *RECOMMEND_TINY, "--profile", str(system_folder)], capsys,
            f"--profile {system_folder}: holds 2 entries", "pass --force")
    assert tree(system_folder) == before


# ---------------------------------------------------------------------------------------------
# 4. an output that cannot be created is refused before the work, naming its option


@pytest.mark.skipif(not Path("/proc/self").is_dir() or Path("/proc/x").exists(),
                    reason="needs Linux's /proc")
@pytest.mark.parametrize("command", [["check", *TINY], ["deploy", *DEPLOY_TINY],
                                     ["recommend", *RECOMMEND_TINY]])
def test_json_under_proc_is_refused_before_any_work(capsys, command) -> None:
    # As root os.access says yes to /proc; only trying to create there tells.
    refused([*command, "--json", "/proc/x/o.json"], capsys,
            "--json /proc/x/o.json: cannot be created: /proc ")


def test_a_folder_that_refuses_entries_is_refused_by_trying(tmp_path, capsys,
                                                            monkeypatch) -> None:
    """What /proc does, simulated where os.access says yes: creating an entry fails."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_mkdtemp = __import__("tempfile").mkdtemp

    def mkdtemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == locked:
            raise PermissionError(13, "Permission denied")
        return real_mkdtemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr("tempfile.mkdtemp", mkdtemp)
    refused(["check", *TINY, "--csv", str(locked / "a" / "m.csv")], capsys,
            f"--csv {locked / 'a' / 'm.csv'}: cannot be created: {locked} refuses new entries "
            "(Permission denied)")
    refused(["analysis", "report", "--quiet", "--results", str(tmp_path), "--out",
             str(locked)], capsys, f"--out {locked}: the folder refuses new files")
    assert not any(locked.iterdir())


# ---------------------------------------------------------------------------------------------
# 2. sizes that cannot fit are refused before allocating, naming the option


@pytest.fixture
def machine_with_64_gib(monkeypatch):
    """The same answer on every machine: 64 GiB free on the host."""
    monkeypatch.setattr(memory, "host_available", lambda: (64 * GIB, "a test's 64 GiB"))


@pytest.mark.parametrize(("argv", "option"), [
    (["check", *TINY, "--batch", "2147483647"], "--batch 2147483647"),
    (["check", *TINY, "--max-len", "1000000000"], "--max-len 1000000000"),
    (["check", *TINY, "--hidden", "2147483647"], "--hidden 2147483647"),
    (["recommend", "--batch", "2147483647"], "--batch 2147483647"),
    (["recommend", "--hidden", "2147483647"], "--hidden 2147483647"),
    (["recommend", "--max-len", "1000000000"], "--max-len 1000000000"),
    (["recommend", "--mode", "train_step", "--layers", "100000"], "--layers 100000"),
])
def test_a_workload_that_cannot_fit_is_refused_naming_the_option(capsys, machine_with_64_gib,
                                                                 argv, option) -> None:
    line = refused(argv, capsys, f"error: {option}: too large for this machine: the workload "
                   "needs about ", "more than the 68.7 GB available (a test's 64 GiB)",
                   f"make {option.split()[0]} smaller")
    assert " at its peak (" in line


def test_a_lengths_file_whose_longest_length_cannot_fit(tmp_path, capsys,
                                                        machine_with_64_gib) -> None:
    lengths = tmp_path / "lengths.txt"
    lengths.write_text("12 1000000000 7\n")
    refused(["recommend", "--lengths", str(lengths)], capsys,
            f"error: --lengths {lengths}: too large for this machine", "1000000000, is the "
            "padded length T (no --max-len given): give shorter lengths")
    # with --max-len given, T is that option's
    refused(["check", *TINY[:-1], f"file:{lengths}", "--max-len", "1000000000"], capsys,
            "error: --max-len 1000000000: too large")


def test_the_estimate_is_held_against_what_is_free(capsys, monkeypatch) -> None:
    """A workload that fits a big machine is refused on a small one: --batch 100000 of the
    check's conditions needs about 1 GB at its peak."""
    monkeypatch.setattr(memory, "host_available", lambda: (256 * 2**20, "a small machine"))
    refused(["check", *TINY, "--batch", "100000"], capsys, "--batch 100000: too large",
            "more than the 268.4 MB available (a small machine)")


def test_an_allocation_that_fails_anyway_is_one_error_line(capsys, monkeypatch) -> None:
    """Where the estimate falls short, torch's allocator error is told, not a traceback; any
    other RuntimeError stays a bug."""
    def allocate(args: object) -> int:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 1125899906842624 bytes.")

    monkeypatch.setattr(cli, "cmd_check", allocate)
    refused(["check", *TINY], capsys, "error: out of memory ([enforce fail at alloc_cpu.cpp:127]",
            "make the workload smaller")

    def broken(args: object) -> int:
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(cli, "cmd_check", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        cli.main(["check", *TINY])


def test_build_refuses_what_cannot_fit_before_allocating(monkeypatch) -> None:
    monkeypatch.setattr(memory, "host_available", lambda: (GIB, "1 GiB"))
    with pytest.raises(ValueError, match=r"batch=100000000, max_len=1000, .*: building this "
                       r"workload needs about .* \(building x in float64\), more than the "
                       r"1.1 GB available \(1 GiB\)"):
        build(WorkloadSpec(batch=10**8, max_len=1000))

    def unknown() -> tuple[None, str]:
        raise AssertionError("a small workload reads no memory figure")

    monkeypatch.setattr(memory, "host_available", unknown)
    assert build(WorkloadSpec(batch=2, max_len=3)).x.shape == (2, 3, 16)


def test_without_a_memory_figure_nothing_is_refused(monkeypatch) -> None:
    from birnn_bench.workload import footprint, too_large

    monkeypatch.setattr(memory, "host_available", lambda: (None, "no /proc/meminfo"))
    assert too_large(footprint(WorkloadSpec(batch=10**8, max_len=1000)), "cpu") is None


def test_on_a_gpu_the_device_part_is_held_against_its_free_memory(monkeypatch) -> None:
    """No GPU needed: the estimate splits host (building x, the oracle) from device (x, the
    rnn, a forward), and each is held against its own free memory."""
    from birnn_bench.workload import footprint, too_large

    spec = WorkloadSpec(device="cuda", batch=10**6, max_len=1000, hidden_size=256)
    needed = footprint(spec, oracle=True)
    assert needed.device_phase == "a forward" and needed.host_phase == "the float64 oracle"
    on_cpu = footprint(spec.with_(device="cpu"), oracle=True)
    assert on_cpu.device == 0 and on_cpu.host >= max(needed.host, needed.device)
    monkeypatch.setattr(memory, "host_available", lambda: (2**50, "a big host"))
    monkeypatch.setattr(memory, "device_available", lambda device: (GIB, f"free on {device}"))
    assert too_large(needed, "cuda") == (
        f"needs about {memory.format_bytes(needed.device)} at its peak (a forward), more than "
        "the 1.1 GB available (free on cuda)")
    monkeypatch.setattr(memory, "device_available", lambda device: (2**50, "a big GPU"))
    assert too_large(needed, "cuda") is None


def test_memory_figures_read_here(monkeypatch, tmp_path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemFree: 10 kB\nMemAvailable:  2048 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    monkeypatch.setattr(memory, "CGROUP_FILES", ((limit, usage),))
    assert memory.host_available() == (2048 * 1024, "MemAvailable in /proc/meminfo")
    limit.write_text("max\n")  # no limit
    usage.write_text("1000\n")
    assert memory.host_available()[0] == 2048 * 1024
    limit.write_text("5000\n")
    assert memory.host_available() == (4000, f"the limit of this cgroup ({limit})")
    assert memory.format_bytes(4000) == "4.0 kB" and memory.format_bytes(999) == "999 bytes"


# ---------------------------------------------------------------------------------------------
# 3. implausible values in results files are named and left out, the rest of the report kept

RATIO = "ratios.PairedForward.track_time_ratio"
PAIRED = ["regime", "strategy"]
#: Series the small tree of test_load_validation lacks, as the suite defines them.
MORE_BENCHES = {
    f"{RATIO}_low": ("track", "x hn_index", PAIRED, [[repr(REGIME)], PAIR], [0.95, 1.2]),
    f"{RATIO}_high": ("track", "x hn_index", PAIRED, [[repr(REGIME)], PAIR], [1.05, 1.3]),
    "strategies.Error.track_error_verdict": ("track", "wrong (1) or right (0)", PAIRED,
                                             [[repr(REGIME)], PAIR], [0, 1]),
    "strategies.Error.track_error_over_tolerance": ("track", "error / tolerance", PAIRED,
                                                    [[repr(REGIME)], PAIR], [0.0, 5e3]),
    "instructions.Instructions.track_instructions": ("track", "instructions", PAIRED,
                                                     [[repr(REGIME)], PAIR], [2e6, 3e6]),
    "compiled.CompiledFigures.track_compile_seconds": ("track", "seconds", PAIRED,
                                                       [[repr(REGIME)], PAIR], [3.0, 4.5]),
}


@pytest.fixture
def suite(monkeypatch):
    """The small tree with the paired ratios' intervals and the other series of the suite."""
    for name, bench in MORE_BENCHES.items():
        monkeypatch.setitem(BENCHES, name, bench)


@pytest.mark.parametrize(("bench", "value", "why"), [
    ("strategies.Forward.time_forward", 1e300,
     "outside 1e-09..10000, the plausible range, for a time in seconds"),
    ("strategies.Forward.time_forward", 1e-12, "outside 1e-09..10000, the plausible range"),
    ("regimes.Forward.time_forward", 1e300, "outside 1e-09..10000, the plausible range"),
    ("compiled.CompiledFigures.track_compile_seconds", 1e300, "for a time in seconds"),
    ("strategies.PeakMemory.track_peak_bytes", 1e300,
     "outside 1..1e+13, the plausible range, for a byte count"),
    ("instructions.Instructions.track_instructions", 1e300,
     "outside 1..1e+13, the plausible range, for instructions per call"),
    ("strategies.Error.track_max_abs_error", 1e300,
     "outside 0..1e+06, the plausible range, for an error (abs error)"),
    ("strategies.Error.track_error_over_tolerance", 1e300,
     "outside 0..1e+15, the plausible range, for an error (error / tolerance)"),
    ("profiles.Profiles.track_ops", 1e300, "outside 0..1e+09, the plausible range, for a count"),
    (RATIO, 1e300, "outside 0.001..1000, the plausible range, for a ratio (x hn_index)"),
    (f"{RATIO}_high", 1e300, "outside 0.001..1000, the plausible range"),
    ("strategies.Error.track_error_verdict", -1, "not >= 0, for a verdict (wrong 1, right 0)"),
    ("strategies.Error.track_error_verdict", 1e300,
     "outside 0..1, the plausible range, for a verdict (wrong 1, right 0)"),
    ("strategies.Error.track_error_verdict", 2, "outside 0..1, the plausible range"),
    ("strategies.Error.track_error_verdict", 0.5, "not a whole number, for a verdict"),
])
def test_an_implausible_value_is_named_and_left_out(tmp_path, suite, bench, value, why) -> None:
    loaded = load_results(make_tree(tmp_path, set_result(bench, 1, value)))
    (problem,) = problems_of(loaded)
    assert problem.path == BAD and problem.severity == "error"
    assert problem.message.startswith(f"{bench}: 1 value(s) not usable, 1 point(s) left out")
    assert why in problem.message and POINT_2 in problem.message, problem.message
    mine = rows_of(loaded, bench)
    assert np.isnan(mine.loc["chunk_view", "value"]) and mine.loc["chunk_view", "rejected"]
    assert not mine.loc["hn_index", "rejected"] and mine["value"].notna().sum() == 1
    rest = loaded.data[(loaded.data["benchmark"] != bench) | (loaded.data["commit"] != "b" * 40)]
    assert rest["value"].notna().all() and not rest["rejected"].any()


def test_an_implausible_sample_is_named_and_the_point_kept(tmp_path) -> None:
    forward = "strategies.Forward.time_forward"

    def samples(data: dict) -> None:
        data["results"][forward][COLUMNS.index("samples")][1] = [2e-3, 1e300]

    loaded = load_results(make_tree(tmp_path, samples))
    (problem,) = problems_of(loaded)
    assert problem.severity == "warning" and "samples [0.002, 1e+300]" in problem.message
    assert "holds 1e+300, outside 1e-09..10000, the plausible range of a time in seconds" \
        in problem.message
    assert rows_of(loaded, forward)["value"].tolist() == [1e-3, 2e-3]


@pytest.mark.parametrize(("edits", "shown"), [
    ([set_result(RATIO, 1, 1.5)], "result 1.5 at ({}): outside its own 99% interval [1.2, 1.3]"),
    ([set_result(f"{RATIO}_low", 1, 2.0), set_result(f"{RATIO}_high", 1, 0.1)],  # upside down
     "result 1.25 at ({}): outside its own 99% interval [2, 0.1]"),
])
def test_an_estimate_outside_its_own_interval_is_named_and_left_out(tmp_path, suite, edits,
                                                                    shown) -> None:
    loaded = load_results(make_tree(tmp_path, *edits))
    (problem,) = problems_of(loaded)
    assert problem.severity == "error" and problem.path == BAD
    assert problem.message.startswith(f"{RATIO}: 1 value(s) not usable, 1 point(s) left out")
    assert shown.format(f"regime='{REGIME}', strategy='chunk_view'") + \
        " (track_time_ratio_low, _high; left out with it)" in problem.message
    for name in (RATIO, f"{RATIO}_low", f"{RATIO}_high"):
        mine = rows_of(loaded, name)
        assert np.isnan(mine.loc["chunk_view", "value"]) and mine.loc["chunk_view", "rejected"]
        assert mine.loc["hn_index", "value"] == BENCHES[name][4][0]
    assert problems_of(loaded, f"box/{'a' * 8}-{ENV_FILE}") == []


def poison_ratios(data: dict) -> None:
    """Every forward ratio at 1e300, its interval left near 1 (the issue's file)."""
    at = COLUMNS.index("result")
    data["results"][RATIO][at] = [1e300] * len(data["results"][RATIO][at])


@pytest.mark.parametrize("older", [True, False])
def test_a_report_whose_inference_grid_was_all_rejected_says_so(tmp_path, capsys, suite,
                                                                older) -> None:
    """With the only (or the newest) file's forward ratios at 1e300, the report once said
    "0 problem(s)" and dropped the inference grid without a word."""
    results = make_tree(tmp_path, poison_ratios)
    if not older:  # the intact file goes: the poisoned one is all there is
        (results / "box" / f"{'a' * 8}-{ENV_FILE}").unlink()
    out = tmp_path / "report"
    code, _, err = run(["report", "--results", str(results), "--out", str(out)], capsys)
    assert code == 0, err
    assert "0 problem(s)" not in err
    assert f"error: {BAD}: {RATIO}: 2 value(s) not usable, 2 point(s) left out" in err
    summary = (out / "summary.md").read_text()
    note = (f"inference grid (paired ratios, forward) of box, commit bbbbbbbb: all 2 points "
            f"rejected, see Data problems ({'older results shown' if older else 'nothing shown'})")
    assert note in summary and note in (out / "index.html").read_text()
    assert f"{RATIO}: 2 value(s) not usable" in (out / "problems.csv").read_text()
    grid = pd.read_csv(out / "grid.csv")
    assert len(grid) == (2 if older else 0)  # the older commit's grid, else none
    if older:
        assert set(grid["commit"]) == {"a" * 40}
    # the rest of the report is intact: correctness and memory from the poisoned file's commit
    correctness = pd.read_csv(out / "correctness.csv")
    assert len(correctness) == 2 and set(correctness["commit"]) == {"b" * 40}
    assert len(pd.read_csv(out / "memory.csv")) == 2


# ---------------------------------------------------------------------------------------------
# the second hostile pass (366 inputs): what it still found


def test_tune_refuses_a_device_it_would_rename_over(capsys) -> None:
    # tune writes <out>.tmp and renames it over <out>: /dev/null would become a regular file
    refused(["tune", "--cell", "lstm", "--lengths", "equal", "--batch", "2", "--max-len", "4",
             "--hidden", "3", "--budget", "0.2", "--out", "/dev/null"], capsys,
            "--out /dev/null", "exists and is not a regular file")
    assert Path("/dev/null").is_char_device()


def test_more_threads_than_cpus_is_refused_not_a_crash(capsys, monkeypatch) -> None:
    refused(["check", "--cells", "lstm", "--layers", "1", "--batch", "2", "--max-len", "4",
             "--hidden", "3", "--quiet", "--threads", "100000"], capsys,
            "threads: expected an integer from 1 to", "got 100000")
    monkeypatch.setenv("BIRNN_BENCH_THREADS", "99999")
    refused(["check", "--cells", "lstm", "--layers", "1", "--batch", "2", "--max-len", "4",
             "--hidden", "3", "--quiet"], capsys, "BIRNN_BENCH_THREADS: expected", "got 99999")


def test_a_function_of_the_wrong_width_fails_the_condition_not_the_check() -> None:
    from birnn_bench import check

    def hidden_wide(rnn, x, lengths):  # wrong where proj_size sets the width
        batch = x.shape[0] if rnn.batch_first else x.shape[1]
        return (x.new_zeros(batch, rnn.hidden_size),) * 2

    spec = next(s for s in check.check_specs(cells=("lstm",), layers=(1,)) if s.proj_size)
    (row,) = check.check_spec(spec, {"mine": hidden_wide})
    assert not row.passed and row.error.startswith("returned shapes [(")


def test_report_refuses_an_unreadable_resolution_and_one_folder_twice(tmp_path, capsys) -> None:
    results = str(Path(__file__).resolve().parents[1] / "results")
    garbage = tmp_path / "resolution.json"
    garbage.write_bytes(b"\x00\xff\xfe")
    refused(["analysis", "report", "--results", results, "--out", str(tmp_path / "a"),
             "--resolution", str(garbage)], capsys, f"--resolution {garbage}: is not UTF-8")
    refused(["analysis", "report", "--results", results, results + "/", "--out",
             str(tmp_path / "b")], capsys, "given twice")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_named_pipe_nobody_writes_to_is_an_empty_lengths_file(tmp_path) -> None:
    import os

    from birnn_bench.workload import read_lengths_file

    pipe = tmp_path / "lengths"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match="holds no lengths"):  # not a wait forever
        read_lengths_file(pipe)


def test_policy_file_must_be_a_path_and_a_folder_there_is_said(tmp_path) -> None:
    import torch

    from birnn_bench import last_states, policy

    rnn = torch.nn.GRU(2, 3, bidirectional=True)
    x, lengths = torch.zeros(4, 2, 2), torch.tensor([3, 4])
    with pytest.raises(TypeError, match="policy_file: expected a path"):
        last_states(rnn, x, lengths, strategy="auto", policy_file=3)  # type: ignore[arg-type]
    policy.clear_caches()
    try:
        with pytest.warns(UserWarning, match="no auto policy there"):
            last_states(rnn, x, lengths, strategy="auto", policy_file=tmp_path)
    finally:
        policy.clear_caches()


@pytest.mark.parametrize("given", ["float32,,", ",", "float32,"])
def test_an_empty_list_entry_is_refused_not_dropped(capsys, given) -> None:
    refused(["check", "--cells", "lstm", "--layers", "1", "--quiet", "--dtypes", given], capsys,
            "--dtypes: expected a comma-separated list without empty entries")


@pytest.mark.parametrize(("damage", "expected"), [
    ("missing", "missing (`asv machine` writes it"),
    ("folder", "is not a file"),
    ("other name", "names machine 'elsewhere', but sits in the folder 'box'"),
    ("other cpu", "records other hardware than every results file beside it (CPU model: "
                  "Imaginary CPU 9000 recorded, Test CPU here"),
])
def test_a_damaged_machine_json_is_a_warning_naming_it(tmp_path, damage, expected) -> None:
    root = make_tree(tmp_path)
    machine = root / "box" / "machine.json"
    if damage in ("missing", "folder"):
        machine.unlink()
        if damage == "folder":
            machine.mkdir()
    else:
        facts = {"machine": "box", "cpu": "Test CPU", "version": 1}
        facts.update({"machine": "elsewhere"} if damage == "other name"
                     else {"cpu": "Imaginary CPU 9000"})
        machine.write_text(json.dumps(facts))
    loaded = load_results(root)
    said = [p for p in loaded.problems if p.path == str(machine)]
    assert len(said) == 1 and said[0].severity == "warning", loaded.problems
    assert expected in said[0].message, said[0].message
    assert len(loaded.data) == len(load_results(make_tree(tmp_path / "intact")).data)


def test_an_intact_machine_json_says_nothing(tmp_path) -> None:
    root = make_tree(tmp_path)
    assert not [p for p in load_results(root).problems if p.path.endswith("machine.json")]


@pytest.mark.parametrize("budget", ["1e300", "86401"])
def test_a_budget_beyond_a_day_is_refused(capsys, budget) -> None:
    refused(["recommend", *RECOMMEND_TINY[:-4], "--budget", budget], capsys,
            "--budget: expected a number of seconds > 0 and at most 86400")
