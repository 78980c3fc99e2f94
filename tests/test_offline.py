"""scripts/offline_bundle.py: the suite run on a machine without network, merged back here.

The end-to-end test simulates the GPU box on this CPU: a clone of this repository stands for
"here"; the bundle is copied elsewhere (its ``tree/`` has no ``.git``) and its ``run.sh`` runs
with the existing interpreter (which has asv, hence ``--skip-wheels``) as machine
``offline-box``; a normal ``asv run`` in the clone records ``local-box``; ``merge`` brings the
offline results into the clone's results tree and ``asv publish`` builds one dashboard that
lists both machines. asv runs with HOME in a temporary directory throughout, so the real
``~/.asv-machine.json`` is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import background_fixture, load_script

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "offline_bundle.py"
BENCH = "Environment|PeakMemory"  # the two cheapest benchmark classes: 9 points on CPU


ob = load_script(SCRIPT, "offline_bundle")


def _env(home: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    base = os.environ if environ is None else environ
    env = {k: v for k, v in base.items() if k not in ("PYTHONPATH", "ASV_PYTHONPATH")}
    env.update(HOME=str(home), BIRNN_BENCH_GRID="smoke", BIRNN_BENCH_THREADS="1",
               PYTHON=sys.executable, GIT_CONFIG_NOSYSTEM="1")
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path | None = None,
         ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    if ok:
        assert proc.returncode == 0, (
            f"{cmd} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n"
            f"--- stderr\n{proc.stderr[-4000:]}"
        )
    return proc


def _clone(tmp_path: Path, name: str = "clone") -> tuple[Path, str]:
    """A clone of this repository's HEAD on branch main (asv.conf.json's branch)."""
    clone = tmp_path / name
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "-B", "main"], check=True)
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    return clone, head


def _results_files(machine_dir: Path) -> list[Path]:
    return sorted(p for p in machine_dir.glob("*.json") if p.name != "machine.json")


def offline_scenario(tmp_path: Path, environ: dict[str, str]) -> dict:
    """The whole scenario, all of it in subprocesses (``offline``: it runs from collection on,
    beside the other tests): the bundle made here, carried elsewhere and run there, a normal run
    here, two merges and one dashboard. Each step must succeed (``_run``); what the test checks is
    returned or left under ``tmp_path``."""
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, environ)
    clone, head = _clone(tmp_path)
    seen: dict = {"home": home, "clone": clone, "head": head, "box": tmp_path / "gpu-box",
                  "html": tmp_path / "html"}
    # Here: the bundle; only its directory travels (copied, the original removed).
    bundle = tmp_path / "bundle"
    seen["make"] = _run([sys.executable, str(SCRIPT), "make", "--out", str(bundle), "--repo",
                         str(clone), "--skip-wheels"], env).stdout
    seen["commit_file"] = (bundle / "COMMIT").read_text().strip()
    shutil.copytree(bundle, seen["box"] / "bundle", symlinks=True)
    shutil.rmtree(bundle)
    # There: run.sh from some other directory, with the existing interpreter.
    elsewhere = seen["box"] / "cwd"
    elsewhere.mkdir()
    seen["run"] = _run(["bash", str(seen["box"] / "bundle" / "run.sh")],
                       {**env, "MACHINE": "offline-box", "ASV_ARGS": f"--bench {BENCH}"},
                       cwd=elsewhere).stderr
    seen["home_entry_after_offline"] = (home / ".asv-machine.json").exists()
    # Here: a normal run of the same commit on this machine.
    config = str(clone / "asv.conf.json")
    _run([sys.executable, "-m", "asv", "machine", "--yes", "--machine", "local-box",
          "--config", config], env)
    _run([sys.executable, "-m", "asv", "run", "--python=same", f"--set-commit-hash={head}",
          "--machine", "local-box", "--bench", BENCH, "--config", config],
         {**env, "ASV_PYTHONPATH": str(clone)})
    seen["local_files"] = _results_files(clone / "results" / "local-box")
    # Merge, then merge again: nothing changes the second time.
    offline_results = seen["box"] / "bundle" / "results"
    seen["merge"] = _run([sys.executable, str(SCRIPT), "merge", "--from", str(offline_results),
                          "--into", str(clone / "results")], env).stdout
    seen["merged_files"] = _results_files(clone / "results" / "offline-box")
    seen["merge_again"] = _run([sys.executable, str(SCRIPT), "merge", "--from",
                                str(seen["box"] / "bundle"), "--into", str(clone / "results")],
                               env).stdout
    # One dashboard for both machines.
    _run([sys.executable, "-m", "asv", "publish", "--config", config, "--html-dir",
          str(seen["html"])], env)
    return seen


offline = background_fixture("offline", offline_scenario)


def test_offline_run_merges_into_one_dashboard(offline: dict) -> None:
    seen, head, box, home = offline, offline["head"], offline["box"], offline["home"]
    assert f"commit {head}" in seen["make"]
    assert seen["commit_file"] == head
    conf = ob.load_commented_json(box / "bundle" / "asv.offline.conf.json")
    assert conf["repo"] == "bundle.git" and conf["branches"] == ["main"]
    assert conf["benchmark_dir"] == "tree/benchmarks" and conf["results_dir"] == "results"
    assert "matrix" not in conf
    # Transported: the tree in it is no git checkout.
    tree = box / "bundle" / "tree"
    assert (tree / "birnn_bench" / "check.py").is_file()
    assert not [p for p in tree.rglob(".git*") if p.name == ".git"]
    assert subprocess.run(["git", "-C", str(tree), "rev-parse", "--show-toplevel"],
                          capture_output=True, env=_env(home), check=False).returncode != 0

    # There: run.sh with the existing interpreter.
    assert "already has asv" in seen["run"] and "5/5 running asv" in seen["run"]
    offline_results = box / "bundle" / "results"
    files = _results_files(offline_results / "offline-box")
    assert files, seen["run"][-3000:]
    for path in files:
        data = json.loads(path.read_text())
        assert data["commit_hash"] == head  # the real, full hash
        assert data["params"]["machine"] == "offline-box"
        assert data["requirements"] == {}  # not the torch pin of asv.conf.json's matrix
        assert "strategies.PeakMemory.track_peak_bytes" in data["results"]
    machine = json.loads((offline_results / "offline-box" / "machine.json").read_text())
    assert machine["machine"] == "offline-box" and machine["arch"] and machine["cpu"]
    # The machine entry went to the bundle's own asv home, not to $HOME.
    assert "offline-box" in json.loads(
        (box / "bundle" / "asv-home" / ".asv-machine.json").read_text())
    assert not seen["home_entry_after_offline"]

    # Here: the local run, then two merges: nothing changes the second time.
    results = seen["clone"] / "results"
    assert seen["local_files"]
    assert "merging machine(s) offline-box" in seen["merge"]
    assert "benchmarks.json: the source's matches this one" in seen["merge"]
    assert [p.name for p in seen["merged_files"]] == [p.name for p in files]
    assert (results / "offline-box" / "machine.json").is_file()
    assert "0 file(s) copied" in seen["merge_again"]
    assert "already there, identical" in seen["merge_again"]

    # One dashboard for both machines.
    html = seen["html"]
    index = json.loads((html / "index.json").read_text())
    assert {"local-box", "offline-box"} <= set(index["machines"])
    assert {"local-box", "offline-box"} <= set(index["params"]["machine"])
    graphs = {p.relative_to(html / "graphs").as_posix()
              for p in (html / "graphs").rglob("strategies.PeakMemory.track_peak_bytes.json")}
    for name in ("local-box", "offline-box"):
        graph = next(g for g in graphs if f"machine-{name}/" in g)
        points = json.loads((html / "graphs" / graph).read_text())
        assert points and all(isinstance(v, (int, float)) for v in points[0][1][:8]), points


def test_make_refuses_a_dirty_tree(tmp_path: Path) -> None:
    clone, _ = _clone(tmp_path)
    (clone / "birnn_bench" / "check.py").write_text("# edited\n", encoding="utf-8")
    out = tmp_path / "bundle"
    proc = _run([sys.executable, str(SCRIPT), "make", "--out", str(out), "--repo", str(clone),
                 "--skip-wheels"], _env(tmp_path), ok=False)
    assert proc.returncode == 1
    assert "uncommitted changes to tracked files" in proc.stderr
    assert "birnn_bench/check.py" in proc.stderr
    assert not out.exists()


def _machine(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "machine.json").write_text(json.dumps({"machine": name, "version": 1}))
    for filename, text in files.items():
        (folder / filename).write_text(text)
    return folder


def test_merge_refuses_to_overwrite_a_different_file(tmp_path: Path, capsys) -> None:
    source, target = tmp_path / "from", tmp_path / "into"
    _machine(source, "h100", {"aaaa1111-env.json": '{"commit_hash": "x", "v": 2}',
                              "bbbb2222-env.json": '{"commit_hash": "y"}'})
    _machine(target, "h100", {"aaaa1111-env.json": '{"commit_hash": "x", "v": 1}',
                              "cccc3333-env.json": '{"commit_hash": "z"}'})

    assert ob.main(["merge", "--from", str(source), "--into", str(target)]) == 1
    err = capsys.readouterr().err
    assert "aaaa1111-env.json differs" in err and "--force" in err
    # Nothing copied, nothing deleted.
    assert not (target / "h100" / "bbbb2222-env.json").exists()
    assert (target / "h100" / "aaaa1111-env.json").read_text().endswith('"v": 1}')
    assert (target / "h100" / "cccc3333-env.json").exists()

    assert ob.main(["merge", "--from", str(source), "--into", str(target), "--force"]) == 0
    out = capsys.readouterr().out
    assert "overwrote h100/aaaa1111-env.json" in out and "copied h100/bbbb2222-env.json" in out
    assert (target / "h100" / "aaaa1111-env.json").read_text().endswith('"v": 2}')
    assert (target / "h100" / "cccc3333-env.json").exists()  # never deleted


def test_merge_keeps_the_targets_benchmarks_json_and_explains(tmp_path: Path, capsys) -> None:
    source, target = tmp_path / "from", tmp_path / "into"
    _machine(source, "h100", {"aaaa1111-env.json": "{}"})
    target.mkdir()
    bench = {"b.X.track": {"version": "1", "params": [["'cpu'", "'cuda'"]]}, "version": 2}
    (target / "benchmarks.json").write_text(json.dumps(bench))
    bench["b.X.track"]["params"] = [["'cuda'"]]
    bench["b.Y.track"] = {"version": "1", "params": []}
    (source / "benchmarks.json").write_text(json.dumps(bench))
    before = (target / "benchmarks.json").read_text()

    assert ob.main(["merge", "--from", str(source), "--into", str(target)]) == 0
    out = capsys.readouterr().out
    assert "kept this one; the source's differs" in out
    assert "b.X.track: different parameter values" in out
    assert "only in the source (not shown by asv publish here): b.Y.track" in out
    assert (target / "benchmarks.json").read_text() == before


def test_strip_json_comments_matches_asvs_reader() -> None:
    json5 = pytest.importorskip("json5")
    text = (REPO_ROOT / "asv.conf.json").read_text()
    assert json.loads(ob.strip_json_comments(text)) == json5.loads(text)
    tricky = '{"url": "https://x//y", /* c */ "s": "a\\"//b", "l": [1, 2,], // end\n}'
    assert json.loads(ob.strip_json_comments(tricky)) == json5.loads(tricky)
