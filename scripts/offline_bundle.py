#!/usr/bin/env python3
"""Run the asv suite on a machine with torch but no network, and merge its results back here.

``make --out DIR`` writes, from a clean working tree (results must carry the real hash of the
code that ran), a bundle: the tracked files, a shallow bare clone of HEAD (asv reads the commit
and its date), asv wheels, an asv config with its paths inside DIR, ``COMMIT`` and ``run.sh``
(its header lists its environment variables). ``merge --from DIR/results`` copies the machine
folders into this repo's results tree. See docs/offline.md. Standard library only.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ASV_VERSION = "0.6.6"
DEFAULT_PYTHON_VERSION = "3.12"
DEFAULT_PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
OFFLINE_CONFIG = "asv.offline.conf.json"
BUNDLE_GIT = "bundle.git"
TREE = "tree"
RESULTS = "results"


class BundleError(RuntimeError):
    """A failure with a message meant for the user (no traceback needed)."""


def log(message: str) -> None:
    print(f"[offline_bundle] {message}", flush=True)


#: A string, kept as it is (an unterminated one runs to the end), or what a pass removes.
_STRING = r""""(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?"""
_COMMENT_RE = re.compile(_STRING + r"|//[^\n]*|/\*.*?\*/|/\*", re.DOTALL)
_TRAILING_COMMA_RE = re.compile(_STRING + r"|,(?=\s*[}\]])", re.DOTALL)


def strip_json_comments(text: str) -> str:
    """Remove ``//`` and ``/* */`` comments and trailing commas outside strings (asv reads its
    config with json5)."""

    def uncomment(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "/*":
            raise BundleError("unterminated /* comment in JSON")
        return token if token[0] in "\"'" else " " if token[1] == "*" else ""

    text = _COMMENT_RE.sub(uncomment, text)
    return _TRAILING_COMMA_RE.sub(lambda m: "" if m.group(0) == "," else m.group(0), text)


def load_commented_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(strip_json_comments(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise BundleError(f"{path}: expected a JSON object")
    return data


def git_run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=False)


def git(repo: Path, *args: str) -> str:
    proc = git_run(repo, *args)
    if proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip()
        raise BundleError(f"git {' '.join(args)} failed in {repo}: {detail}")
    return proc.stdout


def repo_state(repo: Path) -> tuple[Path, str, str]:
    """(top level, full HEAD hash, branch) of a clean repository; raises otherwise."""
    top = Path(git(repo, "rev-parse", "--show-toplevel").strip())
    commit = git(top, "rev-parse", "--verify", "HEAD^{commit}").strip()
    dirty = git(top, "status", "--porcelain=v1", "--untracked-files=no").splitlines()
    if dirty:
        shown = "\n  ".join(dirty[:15]) + ("\n  ..." if len(dirty) > 15 else "")
        raise BundleError(
            f"the working tree of {top} has uncommitted changes to tracked files:\n  {shown}\n"
            "Results must carry the real hash of exactly the code that ran: commit (or stash) "
            "them first.")
    proc = git_run(top, "symbolic-ref", "--quiet", "--short", "HEAD")
    branch = proc.stdout.strip()
    if proc.returncode != 0 or not branch:
        raise BundleError(f"HEAD of {top} is detached ({commit[:8]}): check out a branch that "
                          "contains it (asv files results under branches)")
    return top, commit, branch


def copy_tracked_files(repo: Path, dest: Path) -> int:
    """Copy the files ``git ls-files`` lists (links stay links); return how many."""
    names = [name for name in git(repo, "ls-files", "-z").split("\0") if name]
    for name in names:
        source, target = repo / name, dest / name
        if not source.is_symlink() and not source.is_file():
            continue  # a submodule (a directory) or a file git still lists but that is gone
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return len(names)


def offline_config(source: dict[str, Any], branch: str) -> dict[str, Any]:
    """The repo's asv config with every path pointing inside the bundle directory."""
    conf = dict(source)
    benchmark_dir = Path(str(source.get("benchmark_dir", "benchmarks")))
    if benchmark_dir.is_absolute():
        raise BundleError(f"benchmark_dir {benchmark_dir} in asv.conf.json must be relative")
    conf.update(repo=BUNDLE_GIT, branches=[branch], env_dir="env", results_dir=RESULTS,
                html_dir="html", benchmark_dir=f"{TREE}/{benchmark_dir.as_posix()}")
    # asv detects the bare git repo (dvcs). It would copy the matrix into every result's
    # requirements even with --python=same, where nothing is installed (the Environment
    # benchmark records the real versions); the rest is for virtualenvs only.
    for key in ("dvcs", "matrix", "pythons", "build_command", "install_command"):
        conf.pop(key, None)
    return conf


def download_wheels(dest: Path, python_version: str, platforms: Sequence[str]) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
           "--python-version", python_version, "--only-binary=:all:",
           *(arg for platform in platforms for arg in ("--platform", platform)),
           f"asv=={ASV_VERSION}", "asv_runner", "-d", str(dest)]
    log(f"downloading asv {ASV_VERSION} + asv_runner for Python {python_version}: "
        f"{shlex.join(cmd)}")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = "\n  ".join((proc.stderr.strip() or proc.stdout.strip()).splitlines()[-8:])
        raise BundleError(
            f"pip download failed (exit code {proc.returncode}); this step needs the network "
            f"(or use --skip-wheels if the target already has asv):\n  {detail}")
    wheels = sorted(p.name for p in dest.glob("*.whl"))
    if not any(name.startswith("asv-") for name in wheels):
        raise BundleError(f"pip download wrote no asv wheel into {dest}")
    return wheels


#: The run.sh written into a bundle; @NAME@ placeholders are filled in by ``make``.
RUN_SH_TEMPLATE = Path(__file__).with_name("offline_run.sh.in")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def make_bundle(out: Path, repo: Path = REPO_ROOT, python_version: str = DEFAULT_PYTHON_VERSION,
                platforms: Sequence[str] = DEFAULT_PLATFORMS, skip_wheels: bool = False) -> Path:
    """Write the bundle into ``out`` (which must not exist or be empty); return ``out``."""
    if not re.fullmatch(r"\d+\.\d+", python_version):
        raise BundleError(f"--python-version: expected e.g. 3.12, got {python_version!r}")
    top, commit, branch = repo_state(repo)
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"{out} exists and is not an empty directory")
    if out == top or (top in out.parents
                      and git_run(top, "check-ignore", "-q", str(out)).returncode != 0):
        raise BundleError(f"{out} is inside the repository {top} and not git-ignored: "
                          "choose a directory outside it (or an ignored one such as out/)")
    config = load_commented_json(top / "asv.conf.json")
    branches = config.get("branches") or []
    log(f"repository {top}, commit {commit}, branch {branch}")
    if branches and branch not in branches:
        log(f"WARNING: branch {branch!r} is not among asv.conf.json's branches {branches}: "
            "asv publish here will not show these results until the commit is on one of them")
    out.mkdir(parents=True, exist_ok=True)
    count = copy_tracked_files(top, out / TREE)
    log(f"copied {count} tracked files into {out / TREE} (no .git)")
    bundle_git = out / BUNDLE_GIT
    git(top, "clone", "--quiet", "--bare", "--depth", "1", "--branch", branch,
        top.as_uri(), str(bundle_git))
    cloned = git(bundle_git, "rev-parse", "HEAD").strip()
    if cloned != commit:
        raise BundleError(f"{bundle_git} holds {cloned}, not {commit}: HEAD moved during make?")
    log(f"shallow bare clone of {branch} at {commit[:8]} in {bundle_git} "
        f"({_size(bundle_git) // 1024} KB)")
    header = ("// Generated by scripts/offline_bundle.py make. asv changes into this file's\n"
              "// directory, so the relative paths below point inside the bundle.\n")
    conf = json.dumps(offline_config(config, branch), indent=4)
    (out / OFFLINE_CONFIG).write_text(f"{header}{conf}\n", encoding="utf-8")
    (out / "COMMIT").write_text(commit + "\n", encoding="utf-8")
    text = RUN_SH_TEMPLATE.read_text(encoding="utf-8")
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for key, value in (("@CREATED@", created), ("@COMMIT@", commit), ("@BRANCH@", branch),
                       ("@WHEELS_PYTHON@", python_version), ("@ASV_VERSION@", ASV_VERSION)):
        text = text.replace(key, value)
    run_sh = out / "run.sh"
    run_sh.write_text(text, encoding="utf-8")
    run_sh.chmod(0o755)
    log(f"wrote {OFFLINE_CONFIG}, COMMIT and run.sh")
    wheels_dir = out / "wheels"
    wheels_dir.mkdir()
    if skip_wheels:
        log("--skip-wheels: no wheels/ content; the offline machine must already have "
            f"asv {ASV_VERSION} and asv_runner")
    else:
        wheels = download_wheels(wheels_dir, python_version, platforms)
        log(f"{len(wheels)} wheels in {wheels_dir} ({_size(wheels_dir) // 2**20} MB)")
    log(f"bundle ready: {out} ({_size(out) // 1024} KB). Copy it to the offline machine, run\n"
        f"    MACHINE=<name> BIRNN_BENCH_GRID=quick bash {out.name}/run.sh\n"
        f"  there, copy {out.name}/results back and run\n"
        f"    python scripts/offline_bundle.py merge --from <copy>/results --into results")
    return out


def describe_benchmarks_difference(source: Path, target: Path) -> list[str]:
    """Lines explaining how two benchmarks.json files differ (empty when they agree)."""
    src, dst = ({k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items()
                 if k != "version"}
                for path in (source, target))
    lines = [f"{label}: {', '.join(sorted(names))}" for label, names in (
        ("only in the source (not shown by asv publish here)", set(src) - set(dst)),
        ("only here", set(dst) - set(src))) if names]
    for name in sorted(set(src) & set(dst)):
        a, b = src[name], dst[name]
        if a.get("version") != b.get("version"):
            lines.append(f"{name}: different code (version); asv publish here hides the "
                         "source's results for it")
        elif a.get("params") != b.get("params"):
            lines.append(f"{name}: different parameter values (another BIRNN_BENCH_GRID, or "
                         "machine-dependent values); asv publish here shows only the points "
                         "listed here")
        elif a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            lines.append(f"{name}: differs in {', '.join(keys)}")
    return lines


def merge_results(source: Path, target: Path, force: bool = False) -> None:
    """Copy the machine folders of ``source`` into ``target``, nothing at all when a file of
    the same name differs (unless ``force``); never deletes."""
    source, target = source.resolve(), target.resolve()
    if not source.is_dir():
        raise BundleError(f"--from {source}: not a directory")
    if (source / RESULTS).is_dir() and (source / "COMMIT").is_file():
        log(f"{source} is a bundle directory; merging its {RESULTS}/")
        source = source / RESULTS
    if source == target:
        raise BundleError("--from and --into are the same directory")
    copy, same, conflicts, skipped, machines = [], [], [], [], []
    for entry in sorted(source.iterdir()):
        if not (entry / "machine.json").is_file():  # also when entry is a file
            if entry.is_dir() or entry.name != "benchmarks.json":
                skipped.append(entry)
            continue
        machines.append(entry.name)
        for item in sorted(entry.iterdir()):
            dest = target / entry.name / item.name
            if not item.is_file() or item.suffix != ".json":
                skipped.append(item)
            elif not dest.exists():
                copy.append((item, dest))
            elif filecmp.cmp(item, dest, shallow=False):
                same.append(dest)
            else:
                (copy if force else conflicts).append((item, dest))
    if not machines:
        raise BundleError(f"no machine folders (<machine>/machine.json) in {source}")
    log(f"merging machine(s) {', '.join(machines)} from {source} into {target}")
    if conflicts:
        lines = "\n  ".join(f"{dest} differs from {src}" for src, dest in conflicts)
        raise BundleError(
            f"{len(conflicts)} file(s) exist with different content; nothing was copied:\n"
            f"  {lines}\nTwo machines sharing a name, or a rerun of the same commit? Rename the "
            "source's machine folder (and the \"machine\" inside its machine.json), or pass "
            "--force to overwrite these files.")
    for src, dest in copy:
        dest.parent.mkdir(parents=True, exist_ok=True)
        replaced, partial = dest.exists(), dest.with_name(f".{dest.name}.partial")
        shutil.copy2(src, partial)
        os.replace(partial, dest)  # a reader never sees half a file
        log(f"{'overwrote' if replaced else 'copied'} {dest.relative_to(target)}")
    for dest in same:
        log(f"already there, identical: {dest.relative_to(target)}")
    for path in skipped:
        log(f"skipped (not a machine results file): {path}")
    _check_commits(source, target.parent, machines)
    _merge_benchmarks_json(source, target)
    log(f"merged: {len(copy)} file(s) copied, {len(same)} already present, "
        f"nothing deleted. Publish with: python scripts/publish_dashboard.py")


def _check_commits(source: Path, repo: Path, machines: list[str]) -> None:
    """Warn about results whose commit ``repo`` does not hold (asv publish fails)."""
    if git_run(repo, "rev-parse", "--git-dir").returncode != 0:
        return
    hashes: set[str] = set()
    for path in [p for machine in machines for p in (source / machine).glob("*.json")
                 if p.name != "machine.json"]:
        try:
            # asv writes bare NaN (not strict JSON); Python's json module reads it.
            value = json.loads(path.read_text(encoding="utf-8")).get("commit_hash")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str):
            hashes.add(value)
    for commit in sorted(hashes):
        if git_run(repo, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
            log(f"WARNING: commit {commit} is not in {repo}: fetch it before asv publish")


def _merge_benchmarks_json(source: Path, target: Path) -> None:
    src, dest = source / "benchmarks.json", target / "benchmarks.json"
    if not src.is_file():
        return
    if not dest.exists():
        shutil.copy2(src, dest)
        log(f"copied benchmarks.json (there was none in {target})")
    elif differences := describe_benchmarks_difference(src, dest):
        log("benchmarks.json: kept this one; the source's differs. asv publish lists "
            "benchmarks, their code versions and parameter values from THIS file:\n  "
            + "\n  ".join(differences))
    else:
        log("benchmarks.json: the source's matches this one")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make", help="write a bundle for a machine without network")
    make.add_argument("--out", type=Path, required=True, help="bundle directory (new or empty)")
    make.add_argument("--repo", type=Path, default=REPO_ROOT,
                      help="repository to bundle (default: the one holding this script)")
    make.add_argument("--python-version", default=DEFAULT_PYTHON_VERSION,
                      help="Python of the offline machine, for the wheels (default: %(default)s)")
    make.add_argument("--platform", action="append", dest="platforms", default=None,
                      help="pip --platform tag for the wheels, repeatable (default: manylinux "
                           "x86_64 tags; asv 0.6.6 publishes no aarch64 wheel)")
    make.add_argument("--skip-wheels", action="store_true",
                      help="do not download wheels (the offline machine already has asv)")
    merge = sub.add_parser("merge", help="copy an offline machine's results into this tree")
    merge.add_argument("--from", dest="source", type=Path, required=True,
                       help="results directory brought back (DIR/results)")
    merge.add_argument("--into", type=Path, default=None,
                       help="results tree to merge into (default: results_dir of asv.conf.json "
                            "next to this script)")
    merge.add_argument("--force", action="store_true",
                       help="overwrite files of the same name whose content differs")
    args = parser.parse_args(argv)
    try:
        if args.command == "make":
            make_bundle(args.out, args.repo, args.python_version,
                        tuple(args.platforms or DEFAULT_PLATFORMS), args.skip_wheels)
        else:
            try:
                into = load_commented_json(REPO_ROOT / "asv.conf.json").get("results_dir", RESULTS)
            except BundleError:
                into = RESULTS
            merge_results(args.source, args.into or REPO_ROOT / str(into), args.force)
    except BundleError as exc:
        print(f"offline_bundle: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
