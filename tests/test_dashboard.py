"""scripts/publish_dashboard.py: an asv dashboard that renders with no internet, and lists the
regressions the report's rule accepts.

The end-to-end tests build a throwaway asv project (own git repo, two commits), run real
``asv run --python=same`` benchmarks, publish with the script, serve the result on 127.0.0.1
and load it in headless Chromium whose resolver fails every host but 127.0.0.1, so any CDN
load would fail (and asv would redirect to its "external dependencies failed" page).

The project's own dashboard is tested on the real smoke run (``smoke_results``) copied under
three real commits of this repository, with injected paired ratios and peak bytes: the
dashboard's regressions (asv.conf.json's knobs + the script's filter) and the report's history
must name the same changes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import environment
from tests.conftest import background_fixture, load_asv_conf, load_script, repo_limits

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "publish_dashboard.py"
# Shared, git-ignored npm tarball cache: only the first run on a machine needs the registry.
VENDOR_CACHE = Path(os.environ.get("BIRNN_VENDOR_CACHE", REPO_ROOT / ".asv" / "vendor"))
CDN_HOSTS = ("code.jquery.com", "cdnjs.cloudflare.com", "cdn.jsdelivr.net")
ASV_ERROR_TEXT = "external (JavaScript) dependencies of airspeed velocity failed to load"


pd = load_script(SCRIPT, "publish_dashboard")


# ---------------------------------------------------------------------------------------------
# HTML rewriting (no browser, no network)
# ---------------------------------------------------------------------------------------------


def test_rewrite_html_points_cdn_tags_at_local_copies() -> None:
    html = (
        "<head>\n"
        '<script src="https://code.jquery.com/jquery-3.3.1.min.js" integrity="sha256-AAA=" '
        'crossorigin="anonymous" onerror="js_load_failure()"></script>\n'
        "<link rel='stylesheet' href='https://cdn.example/b.css' integrity='sha256-BBB=' "
        "crossorigin>\n"
        '<script src="asv.js"></script>\n'
        '<link rel="alternate" href="https://example.org/feed.xml">\n'
        '<a href="https://github.com/airspeed-velocity/asv/">asv</a>\n'
        "</head>"
    )
    url_map = {
        "https://code.jquery.com/jquery-3.3.1.min.js": "vendor/jquery-3.3.1/dist/jquery.min.js",
        "https://cdn.example/b.css": "vendor/b-1.0/b.css",
    }
    new, replaced, unknown = pd.rewrite_html(html, url_map)
    assert replaced == list(url_map)
    assert unknown == []
    assert new == (
        "<head>\n"
        '<script src="vendor/jquery-3.3.1/dist/jquery.min.js" onerror="js_load_failure()">'
        "</script>\n"
        "<link rel='stylesheet' href='vendor/b-1.0/b.css'>\n"
        '<script src="asv.js"></script>\n'
        '<link rel="alternate" href="https://example.org/feed.xml">\n'
        '<a href="https://github.com/airspeed-velocity/asv/">asv</a>\n'
        "</head>"
    )
    # A remote script with no replacement is reported (publish_dashboard then fails).
    _, replaced, unknown = pd.rewrite_html('<script src="//cdn.example/x.js"></script>', {})
    assert (replaced, unknown) == ([], ["//cdn.example/x.js"])


def test_local_url_map_is_relative_to_each_html_file(tmp_path: Path) -> None:
    asset = pd.ASSETS[0]
    top = pd.local_url_map(tmp_path / "index.html", tmp_path, [asset])
    nested = pd.local_url_map(tmp_path / "sub" / "page.html", tmp_path, [asset])
    assert top == {asset.cdn_url: "vendor/jquery-3.3.1/dist/jquery.min.js"}
    assert nested == {asset.cdn_url: "../vendor/jquery-3.3.1/dist/jquery.min.js"}


def test_assets_cover_every_cdn_reference_in_asv_template() -> None:
    """If asv gains a CDN dependency, this fails before a dashboard silently needs internet."""
    import asv

    template = Path(asv.__file__).parent / "www" / "index.html"
    html = template.read_text(encoding="utf-8")
    url_map = pd.local_url_map(template, template.parent, pd.ASSETS)
    _, replaced, unknown = pd.rewrite_html(html, url_map)
    assert unknown == []
    assert sorted(replaced) == sorted(a.cdn_url for a in pd.ASSETS)


# ---------------------------------------------------------------------------------------------
# End to end: real asv run + publish + headless Chromium with remote hosts unresolvable
# ---------------------------------------------------------------------------------------------

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (scripts/install_test_deps.sh installs it)"
)

BENCHMARKS = """\
def time_sum():
    sum(range(100))


def track_scaled(n):
    return n * 2


track_scaled.params = [1, 2, 3]
track_scaled.param_names = ["n"]
track_scaled.unit = "widgets"
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def tiny_project(root: Path, environ: dict[str, str]) -> Path:
    """A tiny asv project with real results for two commits under ``root``; returns its config
    path."""
    proj = root / "proj"
    (proj / "benchmarks").mkdir(parents=True)
    (proj / "benchmarks" / "__init__.py").write_text("")
    (proj / "benchmarks" / "bench.py").write_text(BENCHMARKS)
    config = {
        "version": 1,
        "project": "tinyproj",
        "project_url": "#",
        "repo": ".",
        "branches": ["main"],
        "environment_type": "virtualenv",
        "benchmark_dir": "benchmarks",
        "env_dir": ".asv/env",
        "results_dir": ".asv/results",
        "html_dir": ".asv/html",
    }
    (proj / "asv.conf.json").write_text(json.dumps(config, indent=2))
    (proj / ".gitignore").write_text(".asv/\n")
    # asv keeps machine info in ~/.asv-machine.json: keep it out of the real home.
    env = {**environ, "HOME": str(root / "home")}
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@t",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@t",
    )
    (root / "home").mkdir()
    git = ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    _run([*git, "init", "-q"], proj, env)
    _run([*git, "add", "-A"], proj, env)
    _run([*git, "commit", "-q", "-m", "first"], proj, env)
    (proj / "README").write_text("second commit\n")
    _run([*git, "add", "-A"], proj, env)
    _run([*git, "commit", "-q", "-m", "second"], proj, env)
    shas = _run(["git", "rev-list", "--reverse", "HEAD"], proj, env).split()
    assert len(shas) == 2

    asv = [sys.executable, "-m", "asv"]
    _run([*asv, "machine", "--yes", "--machine", "testbox"], proj, env)
    for sha in shas:
        _run(
            [
                *asv,
                "run",
                "--python=same",
                f"--set-commit-hash={sha}",
                "--quick",
                "--machine",
                "testbox",
                "--show-stderr",
            ],
            proj,
            env,
        )
    results = list((proj / ".asv" / "results" / "testbox").glob("*-existing-*.json"))
    assert len(results) == 2, results
    return proj / "asv.conf.json"


def publish_tiny_project(root: Path, environ: dict[str, str]) -> tuple[Path, Path]:
    """(config, html dir): ``tiny_project`` published by scripts/publish_dashboard.py (the real
    CLI). Subprocesses only: it runs in the background from collection on."""
    config = tiny_project(root, environ)
    html_dir = root / "site"
    out = _run(
        [
            sys.executable,
            str(SCRIPT),
            "--config",
            str(config),
            "--html-dir",
            str(html_dir),
            "--vendor-cache",
            str(VENDOR_CACHE),
        ],
        REPO_ROOT,
        environ,
    )
    assert "[publish_dashboard] running" in out and "rewrote 10 CDN references" in out
    return config, html_dir


published_project = background_fixture("published_project", publish_tiny_project)


@pytest.fixture(scope="module")
def asv_project(published_project: tuple[Path, Path]) -> Path:
    return published_project[0]


@pytest.fixture(scope="module")
def published(published_project: tuple[Path, Path]) -> Path:
    return published_project[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serve(directory: Path) -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/index.html", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def _chromium(url: str, profile: Path, *extra: str) -> str:
    """Load ``url`` headless with every host but 127.0.0.1 unresolvable; return stdout."""
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--window-size=1280,900",
        *extra,
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout


def _requests(net_log: Path) -> list[tuple[str, str]]:
    """``(initiator, url)`` of every URL request a Chromium NetLog recorded.

    Requests made by the page carry its origin as initiator; the browser's own background
    traffic (update checks and the like, failing here anyway) has "not an origin".
    """
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        (e["params"].get("initiator", ""), e["params"]["url"])
        for e in log["events"]
        if e["type"] == start_job and "url" in e.get("params", {})
    ]


def _remote_refs(html: str) -> list[str]:
    """src/href values of <script>/<link> tags that point off-site."""
    refs = re.findall(
        r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?([^\"'\s>]+)",
        html,
        flags=re.IGNORECASE,
    )
    return [r for r in refs if re.match(r"(?i)(https?:)?//", r)]


def test_published_html_references_no_remote_assets(published: Path) -> None:
    html_files = sorted(published.rglob("*.html"))
    assert {p.name for p in html_files} >= {"index.html", "error.html"}
    for html_file in html_files:
        text = html_file.read_text(encoding="utf-8")
        assert _remote_refs(text) == [], html_file
        assert not any(host in text for host in CDN_HOSTS), html_file
        assert "integrity=" not in text and "crossorigin" not in text, html_file
    index = (published / "index.html").read_text(encoding="utf-8")
    for asset in pd.ASSETS:
        assert asset.local_path in index
        assert (published / asset.local_path).stat().st_size > 1000, asset.local_path
    fonts = published / "vendor" / "bootstrap-3.1.1" / "dist" / "fonts"
    assert (fonts / "glyphicons-halflings-regular.woff").is_file()


@needs_chromium
def test_graph_page_renders_offline(published: Path, tmp_path: Path) -> None:
    net_log = tmp_path / "netlog.json"
    with _serve(published) as base:
        grid = _chromium(f"{base}/index.html", tmp_path / "p1", "--dump-dom")
        graph = _chromium(
            f"{base}/index.html#bench.track_scaled",
            tmp_path / "p2",
            "--dump-dom",
            f"--log-net-log={net_log}",
        )
        if shot := os.environ.get("BIRNN_DASHBOARD_SCREENSHOT"):  # e.g. a CI artifact
            _chromium(
                f"{base}/index.html#bench.track_scaled",
                tmp_path / "p3",
                f"--screenshot={Path(shot).resolve()}",
            )
            assert Path(shot).stat().st_size > 10_000
    for dom in (grid, graph):
        assert ASV_ERROR_TEXT not in dom and "continental origin of swallow" not in dom
        assert "tinyproj" in dom  # project name, filled in by asv.js from index.json
    # Summary grid: one plot thumbnail per benchmark, inserted by summarygrid.js.
    assert len(re.findall(r'class="[^"]*\bbenchmark-container\b', grid)) == 2
    assert 'class="benchmark-text"' in grid
    assert ">time_sum<" in grid and ">track_scaled<" in grid
    assert grid.count('class="flot-base"') == 2
    # Graph page: flot drew the plot (canvas, y tick labels from the results 2/4/6) and a
    # legend line per parameter value.
    assert 'id="title">bench.track_scaled<' in graph
    assert 'class="flot-base"' in graph and 'class="flot-text"' in graph
    ticks = re.findall(r'class="flot-tick-label tickLabel"[^>]*>([^<]*)<', graph)
    # x: the two commits by short hash (asv leaves them blank); y: labels that differ
    hashes = json.loads((published / "index.json").read_text())["revision_to_hash"].values()
    assert sorted(t for t in ticks if not t[0].isdigit() or len(t) == 8) == \
        sorted(h[:8] for h in hashes), ticks
    values = [t for t in ticks if t not in {h[:8] for h in hashes}]
    assert "2.0" in values and "6.0" in values and len(values) == len(set(values)), ticks
    # the legend beside the plot (its own column), one line per parameter value
    assert re.search(r'<div id="graph-legend">.*?legendLabel', graph, re.S)
    assert re.findall(r'class="legendLabel">([^<]*)<', graph) == ["n-1", "n-2", "n-3"]
    # Everything the page requested came from the local server; no CDN was even tried.
    requests = _requests(net_log)
    page_urls = [url for initiator, url in requests if initiator == base]
    assert f"{base}/vendor/jquery-3.3.1/dist/jquery.min.js" in page_urls
    assert f"{base}/vendor/bootstrap-3.1.1/dist/css/bootstrap.min.css" in page_urls
    assert any("/graphs/" in url and "bench.track_scaled.json" in url for url in page_urls)
    assert [url for url in page_urls if not url.startswith(f"{base}/")] == []
    assert [url for _, url in requests if any(host in url for host in CDN_HOSTS)] == []


@needs_chromium
def test_stock_publish_fails_offline(asv_project: Path, tmp_path: Path) -> None:
    """Control: plain ``asv publish`` output hits asv's error page under the same isolation,
    so the offline test above is not passing trivially."""
    html_dir = tmp_path / "stock"
    _run(
        [
            sys.executable,
            "-m",
            "asv",
            "publish",
            "--config",
            str(asv_project),
            "--html-dir",
            str(html_dir),
        ],
        asv_project.parent,
    )
    with _serve(html_dir) as base:
        dom = _chromium(f"{base}/index.html", tmp_path / "p", "--dump-dom")
    assert ASV_ERROR_TEXT in dom


def test_graph_patches_apply_to_asvs_script_and_fail_loudly(tmp_path: Path) -> None:
    import asv

    shutil.copy(Path(asv.__file__).parent / "www" / "graphdisplay.js", tmp_path)
    assert len(pd.patch_graph_display(tmp_path)) == len(pd.GRAPH_PATCHES)
    patched = (tmp_path / "graphdisplay.js").read_text()
    assert "toPrecision(3)" not in patched and 'position: "nw"' not in patched
    with pytest.raises(pd.DashboardError, match=r"cannot patch .*another asv version"):
        pd.patch_graph_display(tmp_path)  # patched already: the texts are gone


def test_a_paired_ratio_opens_on_a_candidate_not_the_baseline() -> None:
    values = ["'hn_index'", "'hn_padded'", "'chunk_view'", "'manual_two_rnn'"]
    safe = ["hn_index", "chunk_view", "manual_two_rnn"]
    assert pd.candidate_strategy(values, safe, ["hn_index", "manual_two_rnn"]) == \
        "manual_two_rnn"  # what the policy recommends besides the baseline
    assert pd.candidate_strategy(values, safe) == "chunk_view"  # else the first safe one
    assert pd.candidate_strategy(values[:2]) == "hn_padded"  # else the first but the baseline
    assert pd.candidate_strategy(["'hn_index'"]) is None


def test_missing_package_fails_with_clear_message(tmp_path: Path) -> None:
    bogus = pd.NpmPackage("birnn-bench-no-such-package-xyz", "0.0.0")
    asset = pd.Asset("https://cdn.example/none.js", bogus, "none.js")
    # A stand-in npm that fails like a registry 404 (no network needed).
    fake_npm = tmp_path / "npm"
    fake_npm.write_text("#!/bin/sh\necho 'npm error 404 Not Found' >&2\nexit 1\n")
    fake_npm.chmod(0o755)
    with pytest.raises(pd.DashboardError) as info:
        pd.vendor_assets(tmp_path / "html", tmp_path / "cache", [asset], npm=str(fake_npm))
    message = str(info.value)
    assert "https://cdn.example/none.js" in message
    assert "birnn-bench-no-such-package-xyz@0.0.0" in message and "404 Not Found" in message


# ---------------------------------------------------------------------------------------------
# The project's dashboard: real smoke results under three commits, injected values
# ---------------------------------------------------------------------------------------------

RATIO = "ratios.PairedForward.track_time_ratio"
PEAK = "strategies.PeakMemory.track_peak_bytes"
CUDA_ONLY = ("profiles.Kernels.track_kernels", "profiles.HostSyncs.track_host_syncs")


def _commits(n: int) -> list[tuple[str, int]]:
    """The last ``n`` commits of this repository's history, oldest first: (hash, date ms)."""
    out = _run(["git", "log", f"-{n}", "--format=%H %ct", "HEAD"], REPO_ROOT).split("\n")
    pairs = [line.split() for line in out if line.strip()]
    # Strictly increasing dates: two commits made within one second share a timestamp, and the
    # history orders ties by hash, not by git's order.
    found: list[tuple[str, int]] = []
    for sha, ts in reversed(pairs):
        found.append((sha, max(int(ts) * 1000, found[-1][1] + 1000 if found else 0)))
    return found


def _set(data: dict, name: str, strategy: str | None, value) -> None:
    """Sets benchmark ``name``'s result for one strategy (None: every point) to ``value``
    (a number, or a function of the old value)."""
    columns = data["result_columns"]
    row = data["results"][name]
    strategies = [ast_literal(v) for v in row[columns.index("params")][-1]]
    values = row[columns.index("result")]
    for i, old in enumerate(values):
        if strategy is None or strategies[i % len(strategies)] == strategy:
            values[i] = value(old) if callable(value) else value


def ast_literal(text: str):
    import ast

    return ast.literal_eval(text)


def _ratio(data: dict, ratio: float, low: float, high: float, strategy: str | None = None):
    for suffix, value in (("", ratio), ("_low", low), ("_high", high)):
        _set(data, RATIO + suffix, strategy, value)


@pytest.fixture(scope="module")
def project_tree(smoke_results: Path, tmp_path_factory: pytest.TempPathFactory):
    """(asv config, results tree, [commit A, B, C]): the smoke run as three commits.

    A -> B: every paired ratio 1.00 [0.95, 1.05] -> 1.04 [0.99, 1.09] (intervals overlap),
    absolute times doubled (never judged), deterministic values identical: nothing counts.
    B -> C: chunk_view's forward ratio 1.30 [1.20, 1.40] (intervals apart) and packed_unpack's
    peak bytes +10%: two regressions, and only those."""
    root = tmp_path_factory.mktemp("project-dashboard")
    tree = root / "results"
    shutil.copytree(smoke_results, tree)
    source = next(p for p in (tree / "smoke-box").glob("*.json") if p.name != "machine.json")
    original = json.loads(source.read_text())
    source.unlink()
    commits = _commits(3)
    for step, (sha, date) in enumerate(commits):
        data = json.loads(json.dumps(original))
        data["commit_hash"], data["date"] = sha, date
        _ratio(data, *((1.0, 0.95, 1.05) if step == 0 else (1.04, 0.99, 1.09)))
        if step >= 1:
            for name in data["results"]:
                if ".time_" in name:
                    _set(data, name, None, lambda v: v * 2 if v is not None else v)
        if step == 2:
            _ratio(data, 1.30, 1.20, 1.40, "chunk_view")
            _set(data, PEAK, "packed_unpack", lambda v: v * 1.1)
        env = source.name.split("-", 1)[1]
        (tree / "smoke-box" / f"{sha[:8]}-{env}").write_text(json.dumps(data))
    conf = load_asv_conf(REPO_ROOT / "asv.conf.json")  # the project's regression knobs
    # asv keeps only commits of the configured branches: the one checked out (a feature
    # branch's commits are not on main yet)
    branch = _run(["git", "rev-parse", "--abbrev-ref", "HEAD"], REPO_ROOT).strip()
    conf.update(repo=str(REPO_ROOT), results_dir=str(tree), html_dir=str(root / "html"),
                env_dir=str(root / "env"), benchmark_dir=str(REPO_ROOT / "benchmarks"),
                branches=[branch if branch != "HEAD" else "main"])
    config = root / "asv.conf.json"
    config.write_text(json.dumps(conf))
    return config, tree, [sha for sha, _ in commits]


def _asv_regressions(html_dir: Path) -> set[tuple[str, str, str, str]]:
    """(benchmark, regime, strategy, commit of the step) of every regression asv lists."""
    index = json.loads((html_dir / "index.json").read_text())
    data = json.loads((html_dir / "regressions.json").read_text())
    found = set()
    for name, _path, _params, position, _last, _best, jumps in data["regressions"]:
        bench = name.split("(")[0]
        values = pd.param_values(index, bench, position)
        for jump in jumps:
            commit = index["revision_to_hash"][str(jump[1])]
            found.add((bench, ast_literal(values[0]), ast_literal(values[1]), commit))
    return found


def test_dashboard_regressions_are_the_reports(project_tree) -> None:
    from analysis.load.results import load_results
    from analysis.model import history

    config, tree, (_a, b, c) = project_tree
    html = config.parent / "html"
    pd.run_asv_publish(config, html)
    proposed, kept = pd.filter_regressions(html)
    asv_found = _asv_regressions(html)
    # The dashboard's error tile is the verdict: the same series as the report's error verdict.
    asv_found = {("strategies.Error.track_max_abs_error" if n.endswith("track_error_verdict")
                  else n, r, s, sha) for n, r, s, sha in asv_found}
    changes = history.changes(history.series(load_results(tree).data), limits=repo_limits())
    report_found = {(r.benchmark, r.regime, r.strategy, r.commit)
                    for r in history.flagged(changes).itertuples() if r.change == "regression"}
    regime = next(iter({r for _, r, _, _ in report_found}))
    expected = {(RATIO, regime, "chunk_view", c), (PEAK, regime, "packed_unpack", c)}
    assert report_found == expected
    assert asv_found == expected
    assert proposed >= kept == 2
    # Between A and B nothing counts: identical deterministic values, overlapping intervals,
    # and absolute times twice as slow (shown, never judged).
    at_b = changes[changes["commit"] == b]
    assert (at_b["change"] == "").all()
    assert (at_b.loc[at_b["quantity"] == "time_forward (s)", "value"]
            > at_b.loc[at_b["quantity"] == "time_forward (s)", "previous_value"]).all()
    assert pd.drop_empty_benchmarks(html) == []  # every tile of this CPU tree has data
    feed = (html / "regressions.xml").read_text()
    assert feed.count("<entry>") == 2


@needs_chromium
def test_project_dashboard_renders_readable_error_view_and_no_empty_tile(project_tree,
                                                                         tmp_path) -> None:
    config, _tree, _ = project_tree
    site = tmp_path / "site"
    _run([sys.executable, str(SCRIPT), "--config", str(config), "--html-dir", str(site),
          "--vendor-cache", str(VENDOR_CACHE)], REPO_ROOT)
    index = json.loads((site / "index.json").read_text())
    names = set(index["benchmarks"])
    assert not names & set(CUDA_ONLY)  # CPU-only tree: the CUDA counters are not defined
    for name in names:  # every tile has something to draw
        summary = json.loads((site / "graphs" / "summary" / f"{name}.json").read_text())
        assert any(v is not None for _, v in summary), name
        assert index["benchmarks"][name].get("param_names") in ([], ["regime"], ["strategy"],
                                                                 ["regime", "strategy"],
                                                                 ["regime", "strategy",
                                                                  "compile"],
                                                                 environment.NAMES), name
    verdict = "strategies.Error.track_error_verdict"
    assert index["benchmarks"][verdict]["unit"] == "wrong (1) or right (0)"
    with _serve(site) as base:
        # Tall enough for every tile: asv draws a tile's plot once it is on screen.
        grid = _chromium(f"{base}/index.html", tmp_path / "p1", "--dump-dom",
                         "--window-size=1280,8000")
        graph = _chromium(f"{base}/index.html#{verdict}", tmp_path / "p2", "--dump-dom")
        ratio = _chromium(f"{base}/index.html#{RATIO}", tmp_path / "p3", "--dump-dom")
    assert ASV_ERROR_TEXT not in grid and ASV_ERROR_TEXT not in graph
    tiles = re.findall(r'class="[^"]*\bbenchmark-container\b', grid)
    assert len(tiles) == len(names) and grid.count('class="flot-base"') == len(names)
    # The error view: a verdict, 0 (right) or 1 (wrong), the y axis from 0 to 1 (flot draws
    # the unit, "wrong (1) or right (0)", into its canvas), the parameters named.
    ticks = [float(t) for t in re.findall(r'class="flot-tick-label tickLabel"[^>]*>([0-9.]+)<',
                                          graph) if "." in t]  # not a commit's short hash
    assert min(ticks) == 0.0 and 1.0 <= max(ticks) <= 1.3, ticks
    assert ">regime<" in graph and ">strategy<" in graph
    # The paired ratio opens on a candidate strategy, not on the baseline's flat 1.0
    opened = re.findall(r'class="legendLabel">([^<]*)<', ratio)
    assert opened and all("hn_index" not in label for label in opened), opened
    shipped = json.loads((REPO_ROOT / "birnn_bench" / "auto_policy.json").read_text())
    chosen = [r["strategy"] for m in shipped["machines"] for r in m["rules"]
              if r["strategy"] != "hn_index"]
    assert max(set(chosen), key=chosen.count) in " ".join(opened), opened
