#!/usr/bin/env python3
"""Publish the asv dashboard so that it renders with no internet access.

asv 0.6.6's published ``index.html`` loads jQuery, flot, flot-orderbars, stupidtable, blueimp-md5
and bootstrap from public CDNs; offline, the page redirects to asv's "external dependencies failed
to load" page. This script runs ``asv publish``, keeps asv's regressions on the paired ratios to
the steps whose two commits' 99% intervals do not overlap
(``analysis.model.history.interval_change``, the report's rule), drops the summary tiles with no
measured point, copies the libraries from the npm registry (``npm pack``, cached) into
``<html dir>/vendor/`` and points the HTML at them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[1]
VENDOR_SUBDIR = "vendor"
CACHE_COMPLETE_MARKER = ".complete"


class DashboardError(RuntimeError):
    """A failure with a message meant for the user (no traceback needed)."""


@dataclass(frozen=True)
class NpmPackage:
    """An npm package version whose files replace CDN copies; ``extra_dirs`` (relative to the
    package root) are copied whole, e.g. the fonts a stylesheet needs."""

    name: str
    version: str
    extra_dirs: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def dirname(self) -> str:
        """Directory name used in the cache and under ``<html dir>/vendor``."""
        return f"{self.name.replace('/', '__').lstrip('@')}-{self.version}"


@dataclass(frozen=True)
class Asset:
    """One CDN URL in asv's templates and the file in an npm package that replaces it."""

    cdn_url: str
    package: NpmPackage
    path: str  # relative to the package root (npm tarballs keep it under "package/")

    @property
    def local_path(self) -> str:
        """Path of the local copy, relative to the html dir (POSIX separators)."""
        return f"{VENDOR_SUBDIR}/{self.package.dirname}/{self.path}"


JQUERY = NpmPackage("jquery", "3.3.1")
FLOT = NpmPackage("flot", "0.8.3")
FLOT_ORDERBARS = NpmPackage("flot-orderbars", "1.0.0")
# cdnjs serves "stupidtable" 1.0.1; on npm the same plugin (joequery/Stupid-Table-Plugin) is
# "stupid-table-plugin" and only 1.1.3 is published. Same API ($.fn.stupidtable/stupidsort).
STUPIDTABLE = NpmPackage("stupid-table-plugin", "1.1.3")
BLUEIMP_MD5 = NpmPackage("blueimp-md5", "2.19.0")
# bootstrap.min.css loads ../fonts/glyphicons-*; ship the fonts next to it.
BOOTSTRAP = NpmPackage("bootstrap", "3.1.1", extra_dirs=("dist/fonts",))

_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_JSDELIVR = "https://cdn.jsdelivr.net/npm"

# Every external reference in asv 0.6.6's www/index.html. flot 0.8.3 on npm ships no
# minified files, so the unminified sources stand in for cdnjs's *.min.js.
ASSETS: tuple[Asset, ...] = (
    Asset("https://code.jquery.com/jquery-3.3.1.min.js", JQUERY, "dist/jquery.min.js"),
    Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot.min.js", FLOT, "jquery.flot.js"),
    Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot.time.min.js", FLOT, "jquery.flot.time.js"),
    Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot.selection.min.js", FLOT, "jquery.flot.selection.js"),
    Asset(f"{_CDNJS}/flot/0.8.3/jquery.flot.categories.min.js", FLOT, "jquery.flot.categories.js"),
    Asset(f"{_JSDELIVR}/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js", FLOT_ORDERBARS,
          "js/jquery.flot.orderBars.js"),
    Asset(f"{_CDNJS}/stupidtable/1.0.1/stupidtable.min.js", STUPIDTABLE, "stupidtable.min.js"),
    Asset(f"{_CDNJS}/blueimp-md5/2.19.0/js/md5.min.js", BLUEIMP_MD5, "js/md5.min.js"),
    Asset(f"{_JSDELIVR}/bootstrap@3.1.1/dist/js/bootstrap.min.js", BOOTSTRAP,
          "dist/js/bootstrap.min.js"),
    Asset(f"{_JSDELIVR}/bootstrap@3.1.1/dist/css/bootstrap.min.css", BOOTSTRAP,
          "dist/css/bootstrap.min.css"),
)


def log(message: str) -> None:
    print(f"[publish_dashboard] {message}", flush=True)


_TAG_RE = re.compile(r"<(?P<tag>script|link)\b(?P<attrs>[^>]*)>", re.IGNORECASE)
_ATTR_RE = re.compile(r"""(?P<lead>\s+)(?P<name>[^\s=/>"']+)"""
                      r"""(?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s"'>]+))?""")
_DROPPED_ATTRS = frozenset({"integrity", "crossorigin"})
# <link rel=...> values that make the browser fetch the href while rendering.
_LOADING_RELS = frozenset({"stylesheet", "icon", "preload", "modulepreload"})


def _unquote(value: str | None) -> str:
    """An attribute value without its quotes (``_ATTR_RE`` quotes both ends or neither)."""
    return value[1:-1] if value and value[0] in "\"'" else value or ""


def rewrite_html(html: str, url_map: dict[str, str]) -> tuple[str, list[str], list[str]]:
    """Point ``<script src>`` / ``<link href>`` URLs found in ``url_map`` at their local copies,
    dropping ``integrity`` and ``crossorigin`` (the npm builds do not match the CDN hashes); the
    rest of the document stays byte-for-byte. Returns ``(new_html, replaced_urls,
    unknown_remote_urls)``: the remote URLs a ``<script>`` or loading ``<link>`` would still load.
    """
    replaced: list[str] = []
    unknown: list[str] = []

    def fix_tag(match: re.Match[str]) -> str:
        tag, attrs = match.group("tag").lower(), match.group("attrs")
        parsed = [(m.group("name").lower(), _unquote(m.group("value")))
                  for m in _ATTR_RE.finditer(attrs)]
        url_attr = "src" if tag == "script" else "href"
        url = next((value for name, value in parsed if name == url_attr), None)
        rels = next((value for name, value in parsed if name == "rel"), "").lower().split()
        if url is None or (tag == "link" and not _LOADING_RELS.intersection(rels)):
            return match.group(0)
        if url not in url_map:
            if re.match(r"(?i)^(https?:)?//", url.strip()):
                unknown.append(url)
            return match.group(0)

        def fix_attr(m: re.Match[str]) -> str:
            name = m.group("name").lower()
            if name in _DROPPED_ATTRS:
                return ""
            if name == url_attr:
                raw = m.group("value") or ""
                quote = raw[0] if raw[:1] in ("'", '"') else '"'
                return f"{m.group('lead')}{m.group('name')}={quote}{url_map[url]}{quote}"
            return m.group(0)

        replaced.append(url)
        return f"<{match.group('tag')}{_ATTR_RE.sub(fix_attr, attrs)}>"

    return _TAG_RE.sub(fix_tag, html), replaced, unknown


def local_url_map(html_file: Path, html_dir: Path, assets: Iterable[Asset]) -> dict[str, str]:
    """CDN URL -> URL of the local copy, relative to ``html_file``'s directory."""
    prefix = PurePosixPath(*Path(os.path.relpath(html_dir, html_file.parent)).parts)
    return {a.cdn_url: str(prefix / a.local_path) for a in assets}


def rewrite_html_dir(html_dir: Path, assets: Sequence[Asset] = ASSETS) -> None:
    """Rewrite every ``*.html`` under ``html_dir``; writes nothing if any file would still load
    a remote URL with no local replacement."""
    changes: dict[Path, tuple[str, list[str]]] = {}
    unknown: list[str] = []
    for html_file in sorted(html_dir.rglob("*.html")):
        url_map = local_url_map(html_file, html_dir, assets)
        new_text, replaced, remote = rewrite_html(html_file.read_text(encoding="utf-8"), url_map)
        unknown += [f"{html_file.relative_to(html_dir)}: {url}" for url in remote]
        if replaced:
            changes[html_file] = (new_text, replaced)
    if unknown:
        raise DashboardError(
            "published HTML loads remote URLs with no local replacement; add them to ASSETS in "
            "scripts/publish_dashboard.py:\n  " + "\n  ".join(unknown))
    for html_file, (new_text, replaced) in changes.items():
        html_file.write_text(new_text, encoding="utf-8")
        log(f"rewrote {len(replaced)} CDN references in {html_file.relative_to(html_dir)}")


def _safe_extract(tarball: Path, dest: Path) -> None:
    """Extract an npm tarball's files and directories (no links, no devices) into ``dest``,
    dropping its top-level directory ("package/")."""
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts[1:]
            if not parts or not (member.isfile() or member.isdir()):
                continue
            if any(p in ("..", "") or p.startswith("/") for p in parts):
                raise DashboardError(f"unsafe path {member.name!r} in {tarball}")
            target = dest.joinpath(*parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif (source := tar.extractfile(member)) is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)


def npm_pack(package: NpmPackage, dest: Path, npm: str | None = None) -> Path:
    """Download ``package``'s tarball from the npm registry into the empty directory ``dest``;
    return its path."""
    npm = npm or shutil.which("npm")
    if npm is None:
        raise DashboardError(f"cannot fetch {package.spec}: 'npm' is not on PATH and the package "
                             "is not in the vendor cache")
    cmd = [npm, "pack", package.spec, "--pack-destination", str(dest)]
    log(f"fetching {package.spec} from the npm registry: {' '.join(cmd)}")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DashboardError(f"cannot fetch {package.spec}: 'npm pack' timed out") from exc
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-5:]
        raise DashboardError(f"cannot fetch {package.spec} from the npm registry (npm pack exit "
                             f"code {proc.returncode}):\n  " + "\n  ".join(detail))
    tarball = next(dest.glob("*.tgz"), None)
    if tarball is None:
        raise DashboardError(f"cannot fetch {package.spec}: npm wrote no tarball into {dest}")
    return tarball


def ensure_package(package: NpmPackage, cache_dir: Path, npm: str | None = None) -> Path:
    """Return the extracted package root in ``cache_dir``, fetching it only if not cached."""
    root = cache_dir / package.dirname
    if (root / CACHE_COMPLETE_MARKER).is_file():
        log(f"using cached {package.spec} ({root})")
        return root
    cache_dir.mkdir(parents=True, exist_ok=True)
    tarball = cache_dir / f"{package.dirname}.tgz"
    if not tarball.is_file():
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".npm-pack-") as tmp:
            shutil.move(npm_pack(package, Path(tmp), npm), tarball)
    else:
        log(f"extracting cached tarball {tarball}")
    shutil.rmtree(root, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=f".{package.dirname}-") as tmp:
        staging = Path(tmp) / package.dirname
        try:
            staging.mkdir(mode=0o755)
            _safe_extract(tarball, staging)
            (staging / CACHE_COMPLETE_MARKER).write_text(package.spec + "\n", encoding="utf-8")
            staging.rename(root)
        except (tarfile.TarError, EOFError, OSError) as exc:
            tarball.unlink(missing_ok=True)  # corrupt or truncated: fetch it again next time
            raise DashboardError(f"cannot unpack {package.spec} from {tarball} ({exc}); removed "
                                 "it, run again") from exc
    return root


def vendor_assets(html_dir: Path, cache_dir: Path, assets: Sequence[Asset] = ASSETS,
                  npm: str | None = None) -> None:
    """Copy every asset (and its package's ``extra_dirs``) into ``html_dir/vendor``."""
    roots: dict[NpmPackage, Path] = {}
    for asset in assets:
        if asset.package not in roots:
            try:
                roots[asset.package] = ensure_package(asset.package, cache_dir, npm)
            except DashboardError as exc:
                raise DashboardError(f"asset {asset.cdn_url}: {exc}") from exc
        source = roots[asset.package] / asset.path
        if not source.is_file():
            raise DashboardError(f"asset {asset.cdn_url}: {asset.path} not found in npm package "
                                 f"{asset.package.spec}")
        target = html_dir / asset.local_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        log(f"vendored {asset.package.spec}/{asset.path} -> {asset.local_path}")
    for package, root in roots.items():
        for extra in package.extra_dirs:
            if not (root / extra).is_dir():
                raise DashboardError(f"{extra}/ not found in npm package {package.spec}")
            shutil.copytree(root / extra, html_dir / VENDOR_SUBDIR / package.dirname / extra,
                            dirs_exist_ok=True)
            log(f"vendored {package.spec}/{extra}/ -> {VENDOR_SUBDIR}/{package.dirname}/{extra}/")


#: Paired-ratio benchmarks: their ``_low`` / ``_high`` siblings hold the 99% interval.
RATIO_SUFFIX = ".track_time_ratio"
_ATOM = "{http://www.w3.org/2005/Atom}"


def _series(path: Path, index: int | None) -> dict[int, float]:
    """revision -> value of one parameter combination of a published graph (null: absent)."""
    if not path.is_file():
        return {}
    out = {}
    for revision, value in json.loads(path.read_text(encoding="utf-8")):
        if isinstance(value, list):
            value = value[index] if index is not None and index < len(value) else None
        if isinstance(value, int | float):
            out[int(revision)] = float(value)
    return out


def _accepted_jumps(html_dir: Path, entry: list, change: Callable[[tuple, tuple], str]) -> list:
    """The jumps of one asv regression entry on a paired ratio that the report's rule
    accepts: the step's commit and the measured commit before it have 99% intervals apart."""
    _name, graph_path, _params, index, _last, _best, jumps = entry
    path = html_dir / graph_path
    values, lows, highs = (
        _series(path.with_name(path.name.replace(RATIO_SUFFIX, RATIO_SUFFIX + suffix)), index)
        for suffix in ("", "_low", "_high"))
    kept = []
    for jump in jumps:
        after = int(jump[1])
        before = max((r for r in values if r < after), default=None)
        points = [(values.get(r), lows.get(r), highs.get(r)) for r in (before, after)]
        if before is not None and None not in points[0] + points[1] and change(*points) == "slower":
            kept.append(jump)
    return kept


def filter_regressions(html_dir: Path) -> tuple[int, int]:
    """Rewrites ``regressions.json`` (and its Atom feed) keeping, on the paired-ratio
    benchmarks, only the jumps the report's rule counts (``compare.change``: the quotient of
    the two commits' 99% intervals beyond 1 +- the process-level A/A); other
    benchmarks' entries stay as asv found them. Returns (jumps before, jumps after)."""
    path = html_dir / "regressions.json"
    if not path.is_file():
        return 0, 0
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = data.get("regressions", [])
    before = sum(len(e[6]) for e in entries)
    if not any(e[0].split("(")[0].endswith(RATIO_SUFFIX) for e in entries):
        return before, before
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from analysis.model.history import interval_change
    from analysis.model.paired import MODES
    from analysis.model.resolution import tolerances

    measured = REPO / "docs" / "resolution.json"  # the process-level A/A, when measured
    tolerance = tolerances(json.loads(measured.read_text(encoding="utf-8"))
                           if measured.is_file() else None)
    index = json.loads((html_dir / "index.json").read_text(encoding="utf-8"))
    revision_to_hash = {int(k): v for k, v in index.get("revision_to_hash", {}).items()}
    kept_entries, dropped, kept = [], set(), set()
    for entry in entries:
        name = entry[0].split("(")[0]
        if not name.endswith(RATIO_SUFFIX):
            kept_entries.append(entry)
            continue
        slack = tolerance.get(MODES.get(name.rsplit(".", 1)[0], ""), 0.0)
        jumps = _accepted_jumps(html_dir, entry,
                                lambda before, now, s=slack: interval_change(before, now, s))
        params = param_values(index, name, entry[3])
        for jump in entry[6]:
            key = (name, params, revision_to_hash.get(int(jump[1]), ""))
            (kept if jump in jumps else dropped).add(key)
        if jumps:
            kept_entries.append([*entry[:6], jumps])
    data["regressions"] = kept_entries
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    _filter_feed(html_dir / "regressions.xml", dropped - kept, index)
    return before, sum(len(e[6]) for e in kept_entries)


def param_values(index: dict, name: str, position: int | None) -> tuple[str, ...]:
    """The parameter values (asv's repr strings) of a benchmark's flat index ``position``."""
    params = index.get("benchmarks", {}).get(name, {}).get("params") or []
    if position is None or not params:
        return ()
    return tuple(next(itertools.islice(itertools.product(*params), position, position + 1), ()))


def _filter_feed(feed: Path, dropped: set, index: dict) -> None:
    """Drops the Atom entries of the paired-ratio jumps ``filter_regressions`` dropped (an
    entry's link names the benchmark, its parameters and the commit of the step)."""
    if not feed.is_file() or not dropped:
        return
    ET.register_namespace("", _ATOM[1:-1])
    tree = ET.parse(feed)
    root = tree.getroot()
    hashes = list(index.get("revision_to_hash", {}).values())
    for item in list(root.findall(f"{_ATOM}entry")):
        link = item.find(f"{_ATOM}link")
        fragment = urlsplit(link.get("href", "") if link is not None else "").fragment
        benchmark, _, query = fragment.partition("?")
        fields = parse_qs(query)
        names = index.get("benchmarks", {}).get(benchmark, {}).get("param_names") or []
        params = tuple(fields.get(f"p-{n}", [""])[0] for n in names)
        short = fields.get("commits", [""])[0].split("-")[-1]
        commit = next((h for h in hashes if short and h.startswith(short)), short)
        if (benchmark, params, commit) in dropped:
            root.remove(item)
    tree.write(feed, encoding="utf-8", xml_declaration=True)


def drop_empty_benchmarks(html_dir: Path) -> list[str]:
    """Removes from ``index.json`` the benchmarks whose summary graph holds no measured point
    (a tile with nothing in it, e.g. a CUDA-only counter in a CPU-only tree); returns them."""
    path = html_dir / "index.json"
    if not path.is_file():
        return []
    index = json.loads(path.read_text(encoding="utf-8"))
    empty = []
    for name in list(index.get("benchmarks", {})):
        summary = html_dir / "graphs" / "summary" / f"{name}.json"
        if not _series(summary, None):
            empty.append(name)
            del index["benchmarks"][name]
    if empty:
        path.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")
    return empty


#: asv 0.6.6's graphdisplay.js, patched so that its graphs read: (what, exact text, new text).
#: Each text must occur exactly once; a newer asv that changed one fails the publish loudly.
GRAPH_PATCHES: tuple[tuple[str, str, str], ...] = (
    ("y tick labels with the decimals the tick step needs and a unit prefix (1.125, 12.4M)",
     "return (v / multiplier).toPrecision(3);",
     "var big = Math.max(Math.abs(axis.max), Math.abs(axis.min)) / multiplier;\n"
     "                    var scale = big >= 1e9 ? 1e9 : big >= 1e6 ? 1e6 : big >= 1e4 ? 1e3 : 1;\n"
     "                    var prefix = {1e9: 'G', 1e6: 'M', 1e3: 'k', 1: ''}[scale];\n"
     "                    var step = axis.tickSize / multiplier / scale, d = 0;\n"
     "                    while (d < 6 && Math.abs(Math.round(step * Math.pow(10, d))"
     " - step * Math.pow(10, d)) > 1e-6) { ++d; }\n"
     "                    return (v / multiplier / scale).toFixed(d) + prefix;"),
    ("x ticks at the commits drawn, labelled by short hash (asv leaves them blank)",
     "options.xaxis.tickFormatter = function (v, axis) { return \"\"; };",
     "options.xaxis.axisLabel = 'commit';\n"
     "                var revs = [];\n"
     "                $.each(graphs, function (gi, graph) {\n"
     "                    $.each(graph.data, function (di, point) {\n"
     "                        if (revs.indexOf(point[0]) === -1) { revs.push(point[0]); }\n"
     "                    });\n"
     "                });\n"
     "                revs.sort(function (a, b) { return a - b; });\n"
     "                var every = Math.max(1, Math.ceil(revs.length / 10));\n"
     "                options.xaxis.ticks = $.map(revs.filter(function (r, i) {\n"
     "                    return i % every === 0; }), function (r) {\n"
     "                    var sha = $.asv.main_json.revision_to_hash[r];\n"
     "                    return [[r, sha ? sha.slice(0, 8) : String(r)]]; });\n"
     "                options.xaxis.tickFormatter = null;"),
    ("room between the points and the frame (x)",
     "xaxis: {\n" + " " * 16 + "tickLength: 5,",
     "xaxis: {\n" + " " * 16 + "autoscaleMargin: 0.03,\n" + " " * 16 + "tickLength: 5,"),
    ("room between the points and the frame (y: asv sets the axis to the data's range)",
     "options.yaxis.min = min;\n" + " " * 8 + "options.yaxis.max = max;\n\n" + " " * 8
     + "if (log_scale || reference_scale) {",
     "var pad = (max - min) * 0.08 || Math.abs(max) * 0.02 || 1;\n" + " " * 8
     + "options.yaxis.min = min - pad;\n" + " " * 8 + "options.yaxis.max = max + pad;\n\n"
     + " " * 8 + "if (log_scale || reference_scale) {"),
    ("the legend beside the plot, not over it",
     "                position: \"nw\",",
     "                container: $(\"#graph-legend\").empty(),\n                noColumns: 1,"),
)
#: Into the published index.html: a column for the legend beside the main graph, selector
#: buttons that show their whole value (two interpreters' paths no longer look the same).
PAGE_STYLE = """<style>
#graph-legend + div { right: 330px !important; }
#graph-legend { position: absolute; top: 48px; right: 0; width: 320px; bottom: 100px;
  overflow: auto; font-size: 11px; }
#graph-legend table { width: 100%; }
#graph-legend td.legendLabel { padding-left: 4px; word-break: break-all; }
.panel .btn-group .btn { white-space: normal; word-break: break-all; text-align: left;
  height: auto; }
</style>"""
OPEN_SCRIPT = """<script>
/* A paired-ratio benchmark opens on a candidate strategy: the baseline's ratio is 1 by
   definition (publish_dashboard.py). */
(function () {
  var open = %s;
  function fix() {
    var name = window.location.hash.replace(/^#\\/?/, "");
    if (Object.prototype.hasOwnProperty.call(open, name)) {
      window.location.replace("#" + name + "?" + open[name]);
    }
  }
  fix();
  window.addEventListener("hashchange", fix);
})();
</script>"""


def patch_graph_display(html_dir: Path) -> list[str]:
    """Applies ``GRAPH_PATCHES`` to the published graphdisplay.js (all checked before it is
    written); returns what was patched."""
    path = html_dir / "graphdisplay.js"
    if not path.is_file():
        raise DashboardError(f"{path}: missing; asv publish wrote no graph page script")
    text = path.read_text(encoding="utf-8")
    for what, old, new in GRAPH_PATCHES:
        if text.count(old) != 1:
            raise DashboardError(f"{path}: cannot patch '{what}': asv's graphdisplay.js holds "
                                 f"{text.count(old)} copies of the text it replaces (another asv "
                                 "version?); update GRAPH_PATCHES in scripts/publish_dashboard.py")
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return [what for what, _, _ in GRAPH_PATCHES]


def candidate_strategy(values: Sequence[str], safe: Sequence[str] = (),
                       recommended: Sequence[str] = ()) -> str | None:
    """The strategy a paired-ratio graph opens on (``values``: asv's repr strings): the one the
    shipped policy recommends most often (``recommended``, most common first) other than the
    baseline, else the first safe one, else the first other than the baseline."""
    from birnn_bench.strategies import BASELINE, STRATEGIES

    names = [str(literal_or(v)) for v in values]
    order = [n for n in STRATEGIES if n in names] + [n for n in names if n not in STRATEGIES]
    for group in (recommended, [n for n in order if n in safe], order):
        for name in group:
            if name != BASELINE and name in names:
                return name
    return None


def literal_or(value: str) -> object:
    """A repr string's value (``"'x'"`` -> ``x``), else the string."""
    import ast

    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _policy_and_check() -> tuple[list[str], list[str]]:
    """(strategies the shipped policy recommends, most often first; safe per docs/check.json)."""
    from collections import Counter

    recommended: Counter = Counter()
    policy = REPO / "birnn_bench" / "auto_policy.json"
    if policy.is_file():
        data = json.loads(policy.read_text(encoding="utf-8"))
        for machine in data.get("machines", []) if isinstance(data, dict) else []:
            for rule in machine.get("rules", []):
                recommended[str(rule.get("strategy"))] += 1
    safe: list[str] = []
    check = REPO / "docs" / "check.json"
    if check.is_file():
        summary = json.loads(check.read_text(encoding="utf-8")).get("summary", {})
        safe = [n for n, i in summary.items() if i.get("passed") == i.get("total")]
    return [n for n, _ in recommended.most_common()], safe


def rewrite_index_page(html_dir: Path, candidate: str | None = None) -> dict[str, str]:
    """index.html gets ``PAGE_STYLE``, the legend column and ``OPEN_SCRIPT`` (each paired-ratio
    benchmark -> the hash selection of its candidate strategy); returns that map."""
    path = html_dir / "index.html"
    index = json.loads((html_dir / "index.json").read_text(encoding="utf-8"))
    recommended, safe = _policy_and_check()
    opened: dict[str, str] = {}
    for name, bench in index.get("benchmarks", {}).items():
        names = bench.get("param_names") or []
        if not name.split("(")[0].endswith(RATIO_SUFFIX) or "strategy" not in names:
            continue
        values = bench["params"][names.index("strategy")]
        pick = candidate if candidate is not None and repr(candidate) in values else \
            candidate_strategy(values, safe, recommended)
        if pick is not None:
            opened[name] = "p-strategy=" + repr(pick).replace("'", "%27")
    text = path.read_text(encoding="utf-8")
    anchor = '<div id="graph">'
    if text.count(anchor) != 1 or text.count("</head>") != 1:
        raise DashboardError(f"{path}: no single {anchor} / </head> to add the legend column to "
                             "(another asv version?)")
    text = text.replace(anchor, anchor + '\n          <div id="graph-legend"></div>')
    text = text.replace("</head>", PAGE_STYLE + "\n" + OPEN_SCRIPT % json.dumps(
        opened, sort_keys=True) + "\n  </head>")
    path.write_text(text, encoding="utf-8")
    return opened


def run_asv_publish(config: Path, html_dir: Path, python: str = sys.executable) -> None:
    """Run ``asv publish`` for ``config`` (in its directory), writing to ``html_dir``."""
    cmd = [python, "-m", "asv", "publish", "--config", str(config), "--html-dir", str(html_dir)]
    log(f"running {' '.join(cmd)} (in {config.parent})")
    proc = subprocess.run(cmd, cwd=config.parent, check=False)
    if proc.returncode != 0:
        raise DashboardError(f"asv publish failed with exit code {proc.returncode}")
    if not (html_dir / "index.html").is_file():
        raise DashboardError(f"asv publish wrote no {html_dir / 'index.html'}")


def publish_dashboard(config: Path, html_dir: Path | None = None,
                      vendor_cache: Path | None = None, python: str = sys.executable,
                      npm: str | None = None, candidate: str | None = None) -> Path:
    """Publish, filter, patch the graph page, vendor the JS/CSS and rewrite the HTML; return
    the html dir. ``candidate``: the strategy paired-ratio graphs open on (default: the one the
    shipped policy recommends most often besides the baseline, else the first safe one)."""
    config = config.resolve()
    if not config.is_file():
        raise DashboardError(f"asv config {config} not found")
    if html_dir is None:
        # asv's own loader; asv resolves a relative html_dir against the config's directory,
        # where run_asv_publish runs it.
        code = "import sys; from asv.config import Config; print(Config.load(sys.argv[1]).html_dir)"
        proc = subprocess.run([python, "-c", code, str(config)], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise DashboardError(f"cannot read html_dir from {config}:\n{proc.stderr.strip()}")
        html_dir = config.parent / proc.stdout.strip()
    html_dir = html_dir.resolve()
    cache_dir = (vendor_cache or config.parent / ".asv" / "vendor").resolve()
    run_asv_publish(config, html_dir, python)
    before, after = filter_regressions(html_dir)
    log(f"regressions: {after} of asv's {before} jumps kept (paired ratios: only where the two "
        "commits' 99% intervals do not overlap)")
    for name in drop_empty_benchmarks(html_dir):
        log(f"no measured point of {name}: left out of the summary grid")
    for what in patch_graph_display(html_dir):
        log(f"graph page: {what}")
    for name, selection in rewrite_index_page(html_dir, candidate).items():
        log(f"{name} opens on {selection.replace('%27', '')}")
    log(f"vendoring {len(ASSETS)} assets into {html_dir / VENDOR_SUBDIR} (cache: {cache_dir})")
    vendor_assets(html_dir, cache_dir, ASSETS, npm)
    rewrite_html_dir(html_dir)
    log(f"done: {html_dir} needs no internet; serve it over HTTP (asv's JS fetches JSON, which "
        f"browsers block from file://), e.g. python -m http.server -d {html_dir}")
    return html_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("asv.conf.json"),
                        help="asv config (asv.conf.json)")
    parser.add_argument("--html-dir", type=Path, default=None,
                        help="output directory (default: html_dir of config)")
    parser.add_argument("--vendor-cache", type=Path, default=None,
                        help="npm tarball cache (default: .asv/vendor next to the config)")
    parser.add_argument("--candidate", default=None, metavar="STRATEGY",
                        help="the strategy paired-ratio graphs open on (default: the one the "
                        "shipped policy recommends most often besides the baseline, else the "
                        "first safe one)")
    args = parser.parse_args(argv)
    try:
        publish_dashboard(args.config, args.html_dir, args.vendor_cache,
                          candidate=args.candidate)
    except DashboardError as exc:
        print(f"publish_dashboard: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
