"""GitHub Actions (.github/workflows/) and the scripts its steps call (scripts/ci/).

* actionlint and zizmor (offline) report nothing on the workflows (a missing tool fails);
* every ``run:`` line calls a tracked script or a documented tool, and expands no expression;
* ``scripts/ci/pr_compare.py`` on two local commits of a throwaway copy of this tree, counting
  instructions under valgrind for real: one strategy made to do extra work is flagged, and only
  it; a change to docs only flags nothing;
* ``scripts/ci/merge_results.py`` merges the committed results with a real smoke run of a second
  machine (and refuses one name for two hardwares); ``scripts/ci/build_site.py`` builds a report
  and a dashboard listing both, with their recommendations side by side;
* ``analysis.model.commits``: asv.conf.json's thresholds, commits paired by name.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.model import commits, history
from tests.conftest import REPO, background_fixture, load_asv_conf

WORKFLOWS = REPO / ".github" / "workflows"
CI = REPO / "scripts" / "ci"
#: Tools a step may call besides the repository's scripts: Python's own pip and pytest, the
#: GitHub CLI (preinstalled on hosted runners) and POSIX file utilities.
DOCUMENTED_TOOLS = {"gh", "cat", "mv", "rm", "mkdir", "cp"}
PYTHON_MODULES = {"pip", "pytest"}
INTERPRETERS = {"python", "python3", "sh", "bash"}


def _tool(name: str) -> str:
    """The tool in this interpreter's environment (where the ``test`` extra installs it), else
    on PATH; a missing tool FAILS the test (the check would be silently skipped otherwise)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: python3 -m pip install -e '.[test]' installs it")
    return found


def _run(command: list[str], cwd: Path = REPO, env: dict | None = None,
         timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _workflows() -> dict[str, dict]:
    import yaml

    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert files, "no workflow in .github/workflows"
    return {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in files}


# ---------------------------------------------------------------------------------------------
# The workflows: linted, and thin


def test_actionlint_and_zizmor_report_nothing() -> None:
    lint = _run([_tool("actionlint"), "-no-color"])
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    audit = _run([_tool("zizmor"), "--offline", "--strict-collection", "--no-ignores",
                  "--format", "plain", str(WORKFLOWS)])
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No findings to report" in audit.stdout + audit.stderr, audit.stdout + audit.stderr


def _commands(line: str) -> list[list[str]]:
    """The simple commands of one ``run:`` script (split at ;, &&, ||, |, newlines), each
    without its leading VAR=value assignments."""
    out = []
    for part in re.split(r"\|\||&&|[;|\n]", line):
        words = shlex.split(part, comments=True)
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words = words[1:]
        if words:
            out.append(words)
    return out


def _steps() -> list[tuple[str, str, dict]]:
    return [(name, job_id, step) for name, flow in _workflows().items()
            for job_id, job in flow["jobs"].items() for step in job.get("steps", [])]


def test_every_run_line_calls_a_tracked_script_or_a_documented_tool() -> None:
    tracked = set(_run(["git", "ls-files"]).stdout.split())
    runs = [(f"{name}:{job}", step["run"]) for name, job, step in _steps() if "run" in step]
    assert len(runs) >= 8
    for where, script in runs:
        # Untrusted text (titles, branch names) reaches a step only through env.
        assert "${{" not in script, f"{where}: an expression inside run: {script!r}"
        for words in _commands(script):
            tool = words[0]
            if tool in INTERPRETERS:
                if words[1:3] and words[1] == "-m":
                    assert words[2] in PYTHON_MODULES, f"{where}: python -m {words[2]}"
                    continue
                assert words[1] in tracked, f"{where}: {words[1]} is not a tracked file"
                assert words[1].startswith("scripts/"), f"{where}: {words[1]}"
            else:
                assert tool in DOCUMENTED_TOOLS, f"{where}: {tool!r} is neither a script nor " \
                    "a documented tool"


def test_checkouts_keep_no_credentials_and_jobs_have_limits() -> None:
    flows = _workflows()
    for name, flow in flows.items():
        assert flow.get("permissions") == {}, f"{name}: top-level permissions must be {{}}"
        for job_id, job in flow["jobs"].items():
            assert "timeout-minutes" in job, f"{name}:{job_id} has no timeout"
            assert "permissions" in job, f"{name}:{job_id} has no permissions of its own"
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if uses:
                    assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), uses
                if uses.startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
        assert "concurrency" in flow, name
    pr = flows["bench-pr.yml"]
    # The job that runs the pull request's code holds no write token; the one that writes does
    # not run it.
    assert pr["jobs"]["compare"]["permissions"] == {"contents": "read"}
    assert not any("checkout" in s.get("uses", "") for s in pr["jobs"]["comment"]["steps"])
    fleet = flows["bench-main.yml"]
    triggers = fleet.get("on", fleet.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "workflow_dispatch"}  # never a pull request
    gpu = fleet["jobs"]["gpu"]
    assert "self-hosted" in gpu["runs-on"] and "vars.BENCH_GPU_RUNNER == 'true'" in gpu["if"]
    assert gpu["steps"] == fleet["jobs"]["fleet"]["steps"]  # one set of steps, two runners
    assert not any("self-hosted" in str(entry["runner"])
                   for entry in fleet["jobs"]["fleet"]["strategy"]["matrix"]["include"])


# ---------------------------------------------------------------------------------------------
# analysis.model.commits: asv.conf.json's thresholds, commits paired by name


def _points(values: dict[str, dict[tuple[str, str], float]]) -> pd.DataFrame:
    rows = []
    for day, (commit, series) in enumerate(values.items(), start=1):
        for (benchmark, strategy), value in series.items():
            rows.append({"machine": "box", "hardware": "Test CPU", "env": "e", "device_name": "CPU",
                         "kind": history.DETERMINISTIC, "quantity": benchmark,
                         "benchmark": benchmark, "regime": "cpu-lstm-L2-B4-T8-H16-skewed-float32",
                         "strategy": strategy, "variant": "", "commit": commit,
                         "date": pd.Timestamp(f"2026-11-{day:02d}", tz="UTC"), "value": value,
                         "low": float("nan"), "high": float("nan")})
    return pd.DataFrame(rows)


def test_thresholds_come_from_asv_conf_and_commits_pair_by_name() -> None:
    limits = commits.Limits.from_conf(load_asv_conf(REPO / "asv.conf.json"))
    name = commits.asv_name("instructions.Instructions.track_instructions", "r", "hn_index")
    assert name == "instructions.Instructions.track_instructions('r', 'hn_index')"
    # The report's history and the PR check judge by these same limits (history.Limits).
    assert limits.threshold(name) == 0.01 and "by more than 1.0%" in history.rules(limits)
    assert limits.threshold("strategies.PeakMemory.track_peak_bytes('r', 's')") == 0
    assert limits.threshold("strategies.Forward.time_forward('r', 's')") is None
    assert limits.threshold("other.Thing.track_x('r', 's')") == history.ASV_DEFAULT_THRESHOLD
    instr, peak = "instructions.Instructions.track_instructions", \
        "strategies.PeakMemory.track_peak_bytes"
    # The head commit is OLDER than the base (a branch behind main): still head against base.
    points = _points({"head": {(instr, "a"): 1009.0, (instr, "b"): 1011.0, (peak, "a"): 10.0},
                      "base": {(instr, "a"): 1000.0, (instr, "b"): 1000.0, (peak, "a"): 11.0}})
    rows = commits.compare(points, "base", "head", limits).set_index(["benchmark", "strategy"])
    assert rows.loc[(instr, "a"), "change"] == ""  # +0.9%: within 1%
    assert rows.loc[(instr, "b"), "change"] == "regression"  # +1.1%
    assert rows.loc[(peak, "a"), "change"] == "improvement"  # any change counts
    assert rows.loc[(instr, "b"), "previous_commit"] == "base"
    assert rows.loc[(instr, "b"), "relative"] == pytest.approx(0.011)
    with pytest.raises(ValueError, match="regressions_thresholds"):
        commits.Limits.from_conf({"regressions_thresholds": {"x": "lots"}})


# ---------------------------------------------------------------------------------------------
# scripts/ci/pr_compare.py on two local commits, for real

GIT = ["git", "-c", "user.name=ci-test", "-c", "user.email=ci-test@example.invalid",
       "-c", "commit.gpgsign=false"]
EXTRA_WORK = "padded_gather"


def _copy_tree(dest: Path) -> None:
    """This working tree as it is (tracked and untracked files git does not ignore)."""
    listed = _run(["git", "ls-files", "-z", "-co", "--exclude-standard"]).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _commit(repo: Path, message: str) -> str:
    assert _run([*GIT, "add", "-A"], repo).returncode == 0
    done = _run([*GIT, "commit", "-q", "-m", message], repo)
    assert done.returncode == 0, done.stderr
    return _run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def _add_extra_work(repo: Path, strategy: str) -> None:
    """One extra copy of the rnn's output at the start of ``strategy``'s extract step."""
    from birnn_bench.strategies import STRATEGIES  # this tree's, which the copy holds

    extract = STRATEGIES[strategy].extract.__name__
    path = repo / "birnn_bench" / "strategies.py"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    (node,) = [n for n in ast.walk(ast.parse("".join(lines)))
               if isinstance(n, ast.FunctionDef) and n.name == extract]
    first, arg = node.body[0], node.args.args[0].arg
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}{arg} = ({arg}[0].clone(), *{arg}[1:])\n")
    path.write_text("".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def pr_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A git repository holding this tree as its base commit, and two heads on it: one where
    ``EXTRA_WORK``'s extract step copies the rnn output once more, one that changes docs only."""
    repo = tmp_path_factory.mktemp("pr-compare") / "repo"
    repo.mkdir()
    _copy_tree(repo)
    assert _run([*GIT, "init", "-q", "-b", "main"], repo).returncode == 0
    shas = {"base": _commit(repo, "base: this tree")}
    _add_extra_work(repo, EXTRA_WORK)
    shas["extra"] = _commit(repo, f"{EXTRA_WORK}: one more copy in extract")
    assert _run([*GIT, "checkout", "-q", shas["base"]], repo).returncode == 0
    with (repo / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nA sentence about nothing measured.\n")
    (repo / "docs" / "ci-note.md").write_text("# A note\n", encoding="utf-8")
    shas["docs"] = _commit(repo, "docs only")
    return repo, shas


def _pr_compare(repo: Path, base: str, head: str, summary: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(repo.parent), "MACHINE": "pr-box"}
    env.pop("FRESH", None)
    return _run([sys.executable, str(repo / "scripts" / "ci" / "pr_compare.py"), base, head,
                 "--grid", "smoke", "--workdir", str(repo.parent / "work"), "--summary",
                 str(summary)], repo, env)


def _flagged(summary: str) -> list[list[str]]:
    """The rows of the summary's table of changed series: [quantity, strategy, regime, ...]."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in summary.splitlines()
            if line.startswith("| instructions")]
    return [[c.strip("`") for c in row] for row in rows]


@pytest.mark.slow
def test_pr_compare_flags_exactly_the_strategy_that_does_more_work(pr_repo) -> None:
    repo, shas = pr_repo
    summary = repo.parent / "extra.md"
    done = _pr_compare(repo, shas["base"], shas["extra"], summary)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-5000:]
    text = summary.read_text(encoding="utf-8")
    flagged = _flagged(text)
    assert flagged, text
    assert {row[1] for row in flagged} == {EXTRA_WORK}, text
    assert "instructions (extract)" in {row[0] for row in flagged}
    assert all("(worse)" in row[-1] for row in flagged)
    assert f"## Benchmarks: `{shas['extra'][:8]}` against `{shas['base'][:8]}`" in text
    # The head's recommendation: the smoke regime's Compare grid and its recommended strategy.
    assert "### Recommendation per regime at" in text
    assert re.search(r"^\| lstm 2L B4 T8 H16 skewed \|.*\| `\w+` ", text, re.MULTILINE), text
    assert "**Fails**" in text and "performance-change-accepted" in text


@pytest.mark.slow
def test_pr_compare_flags_nothing_on_a_docs_only_change(pr_repo) -> None:
    repo, shas = pr_repo
    summary = repo.parent / "docs.md"
    done = _pr_compare(repo, shas["base"], shas["docs"], summary)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    text = summary.read_text(encoding="utf-8")
    assert _flagged(text) == [] and "**No series changed beyond its threshold**" in text, text
    assert "(largest change 0.00%)" in text  # same package, same place: the same instructions
    assert "Passes" in text


def test_pr_compare_refuses_a_bad_commit_before_any_work(tmp_path: Path) -> None:
    done = _run([sys.executable, str(CI / "pr_compare.py"), "no-such-commit", "HEAD",
                 "--workdir", str(tmp_path / "work"), "--summary", str(tmp_path / "s.md")])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"pr_compare: error: BASE 'no-such-commit': not a commit of {REPO}")
    assert not (tmp_path / "work").exists()
    assert "could not run" in (tmp_path / "s.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# merge_results.py + build_site.py: two machines, one site


def _machines(tree: Path) -> list[str]:
    return sorted(p.name for p in tree.iterdir() if (p / "machine.json").is_file())


def test_merge_refuses_one_machine_name_for_two_hardwares(tmp_path: Path) -> None:
    trees = []
    for i, cpu in enumerate(("Intel(R) Xeon(R) Processor", "AMD EPYC 7763 64-Core Processor")):
        tree = tmp_path / f"t{i}"
        (tree / "box").mkdir(parents=True)
        (tree / "benchmarks.json").write_text('{"version": 2}')
        (tree / "box" / "machine.json").write_text(json.dumps(
            {"machine": "box", "cpu": cpu, "arch": "x86_64", "num_cpu": "2", "ram": "1000",
             "os": f"Linux {i}", "version": 1}))
        trees.append(tree)
    done = _run([sys.executable, str(CI / "merge_results.py"), str(tmp_path / "out"),
                 *map(str, trees)])
    assert done.returncode == 2
    assert "machine 'box' is two different machines" in done.stderr
    assert "cpu: 'Intel(R) Xeon(R) Processor' != 'AMD EPYC 7763 64-Core Processor'" in \
        done.stderr
    assert not (tmp_path / "out").exists()
    # Another os (a kernel update) and a few MB of RAM less on the same hardware: one machine.
    other = json.loads((trees[0] / "box" / "machine.json").read_text())
    (trees[1] / "box" / "machine.json").write_text(json.dumps({**other, "os": "Linux 7",
                                                               "ram": "990"}))
    done = _run([sys.executable, str(CI / "merge_results.py"), str(tmp_path / "out"),
                 *map(str, trees)])
    assert done.returncode == 0, done.stderr


def test_merge_keeps_every_benchmark_of_one_commit_measured_in_two_trees(tmp_path: Path) -> None:
    """One commit and environment in two trees (e.g. a dispatch run again on the same commit):
    one file with every benchmark of both, the later tree's where both have one; benchmarks.json
    with both trees' parameter values; a missing --history is the first run, not an error."""
    columns = ["result", "params", "version"]
    trees = []
    for i, (benchmarks, regime) in enumerate(((("a.x", "a.y"), "'r1'"), (("a.y", "a.z"), "'r2'"))):
        tree = tmp_path / f"t{i}"
        (tree / "box").mkdir(parents=True)
        (tree / "box" / "machine.json").write_text(json.dumps({"machine": "box"}))
        (tree / "benchmarks.json").write_text(json.dumps(
            {"version": 2, **{b: {"params": [[regime]], "param_names": ["regime"],
                                  "version": "v", "type": "track"} for b in benchmarks}}))
        (tree / "box" / "c0ffee00-env.json").write_text(json.dumps(
            {"commit_hash": "c0ffee00" * 5, "result_columns": columns, "durations": {},
             "results": {b: [[float(i)], [[regime]], "v"] for b in benchmarks}, "version": 2}))
        trees.append(tree)
    out = tmp_path / "out"
    done = _run([sys.executable, str(CI / "merge_results.py"), str(out), "--history",
                 str(tmp_path / "no-history-yet"), *map(str, trees)])
    assert done.returncode == 0, done.stderr
    assert "no history at" in done.stderr
    merged = json.loads((out / "box" / "c0ffee00-env.json").read_text())
    assert {k: v[0] for k, v in merged["results"].items()} == {"a.x": [0.0], "a.y": [1.0],
                                                               "a.z": [1.0]}
    benchmarks = json.loads((out / "benchmarks.json").read_text())
    assert benchmarks["a.y"]["params"] == [["'r1'", "'r2'"]]
    assert benchmarks["a.x"]["params"] == [["'r1'"]]


def test_machine_name_says_the_runner_kind_and_its_hardware() -> None:
    from tests.conftest import load_script

    names = load_script(CI / "machine_name.py", "machine_name")
    assert names.name("linux-x86-64", "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "4",
                      None) == "gha-linux-x86-64-intel-xeon-platinum-8370c-4cpu"
    assert names.name("gpu", "AMD EPYC 7763 64-Core Processor", "16", "NVIDIA H100 80GB HBM3") \
        == "gha-gpu-amd-epyc-7763-64-core-16cpu-nvidia-h100-80gb-hbm3"
    assert names.name("macos-arm64", "Apple M1 (Virtual)", "3", None) == \
        "gha-macos-arm64-apple-m1-virtual-3cpu"
    done = _run([sys.executable, str(CI / "machine_name.py"), "Linux x86"])
    assert done.returncode == 2 and done.stderr.startswith("machine_name: error:")


def built_site(root: Path, environ: dict[str, str],
               smoke_results: Path) -> tuple[Path, Path, list[str]]:
    """(merged tree, site, machine names): the committed results (one machine) merged with the
    smoke run of a second machine, and the site built from them. Subprocesses only: it runs in
    the background, from the moment the smoke run is done."""
    merged, out = root / "merged", root / "site"
    done = _run([sys.executable, str(CI / "merge_results.py"), str(merged),
                 str(REPO / "results"), str(smoke_results)], env=environ)
    assert done.returncode == 0, done.stderr
    # The smoke run's commit is this checkout's HEAD: the dashboard follows HEAD's history.
    done = _run([sys.executable, str(CI / "build_site.py"), str(merged), str(out),
                 "--check", str(REPO / "docs" / "check.json"), "--branch", "HEAD",
                 "--vendor-cache", environ.get("BIRNN_VENDOR_CACHE",
                                               str(REPO / ".asv" / "vendor"))], env=environ)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return merged, out, [*_machines(REPO / "results"), *_machines(smoke_results)]


built_site.after = ("smoke_results",)
site = background_fixture("site", built_site)


def test_merged_tree_holds_both_machines_and_every_parameter(site, smoke_results) -> None:
    merged, _, names = site
    assert sorted(p.name for p in merged.iterdir() if p.is_dir()) == sorted(names)
    for tree in (REPO / "results", smoke_results):
        for name in _machines(tree):
            files = {p.name for p in (tree / name).glob("*.json")}
            assert files == {p.name for p in (merged / name).glob("*.json")}
    benchmarks = json.loads((merged / "benchmarks.json").read_text())
    regimes = benchmarks["ratios.PairedForward.track_time_ratio"]["params"][0]
    committed = json.loads((REPO / "results" / "benchmarks.json").read_text())
    smoke = json.loads((smoke_results / "benchmarks.json").read_text())
    for source in (committed, smoke):
        assert set(source["ratios.PairedForward.track_time_ratio"]["params"][0]) <= set(regimes)


def test_site_lists_both_machines_with_recommendations_side_by_side(site) -> None:
    _, out, names = site
    recs = pd.read_csv(out / "report" / "recommendations.csv")
    assert set(recs["machine"]) == set(names)
    report = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert all(name in report for name in names)
    index = json.loads((out / "dashboard" / "index.json").read_text(encoding="utf-8"))
    assert set(names) <= set(index["params"]["machine"])
    for name in names:  # each machine has its own graphs on the dashboard
        assert list((out / "dashboard" / "graphs").rglob(f"machine-{name}")), name
    page = (out / "index.html").read_text(encoding="utf-8")
    table = page.split("<table id='side-by-side'>", 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>(.*?)</th>", table.split("</tr>", 1)[0])
    assert header[:2] == ["mode", "regime"]
    assert [h.split(" · ")[0] for h in header[2:]] == sorted(names)
    # Every regime either machine measured is a row; a machine that did not measure it says so.
    assert len(re.findall("<tr>", table)) - 1 == len(recs.groupby(["mode", "regime"]))
    assert "—" in table and "safe default" in table
    markdown = (out / "recommendations.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in markdown for name in names)
