"""The command line's paths turned into checked inputs: the results folder (given, or named by
asv.conf.json), the asv thresholds, the check, deploy and resolution files. A wrong path or file
is a :class:`UsageError` naming the option and the value; nothing here writes."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.model.history import Limits

REPO = Path(__file__).resolve().parents[1]


class UsageError(ValueError):
    """A wrong argument: ``what`` (the option and its value) and ``why``."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def check_results(what: str, path: Path, note: str = "") -> Path:
    if not path.exists():
        raise UsageError(what, f"results folder does not exist{note}, so nothing could be "
                         "loaded")
    if not path.is_dir():
        raise UsageError(what, f"is not a folder{note} (expected an asv results folder)")
    try:
        next(path.iterdir(), None)
    except OSError as err:
        raise UsageError(what, f"cannot be read ({err.strerror or err})") from None
    return path


def results_dir(results: Path | None, config: Path | None) -> Path:
    """The results folder (``results``, else the results_dir of ``config`` or asv.conf.json
    here or in the repository), checked to be a readable folder."""
    if results is not None:
        return check_results(f"--results {results}", results)
    from analysis.load.asv_files import default_results_dir

    found = find_config(config)
    if found is None:
        raise UsageError("--results", "not given, and no asv.conf.json here or in the "
                         "repository names one: pass --results DIR")
    path, flag = found
    try:
        folder = default_results_dir(path)
    except ValueError as err:
        raise UsageError(flag, str(err)) from None
    return check_results(f"results_dir {folder}", folder, f" (named by {path})")


def find_config(config: Path | None) -> tuple[Path, str] | None:
    """The asv configuration (``config``, else asv.conf.json here, else the repository's) and
    how a message names it; None when there is none."""
    found = config or next((c for c in (Path.cwd() / "asv.conf.json", REPO / "asv.conf.json")
                            if c.is_file()), None)
    if found is None:
        return None
    flag = f"--config {found}" if config is not None else f"asv.conf.json {found}"
    if not found.exists():
        raise UsageError(flag, "no such file")
    if not found.is_file():
        raise UsageError(flag, "is not a file")
    return found, flag


def limits(config: Path | None) -> Limits:
    """The regression thresholds of the asv configuration (``_find_config``), which the history
    judges by; asv's own defaults where there is no configuration."""
    from analysis.load.asv_files import read_config
    from analysis.model.history import Limits

    found = find_config(config)
    try:
        return Limits.from_conf(read_config(found[0])) if found else Limits((), ())
    except ValueError as err:
        raise UsageError(found[1], str(err)) from None  # type: ignore[index]


def report_name(path: Path) -> str:
    """How the report names an input: relative to the working folder when inside it, else by
    its own name (never an absolute path of this machine)."""
    try:
        return Path(os.path.abspath(path)).relative_to(Path.cwd()).as_posix() or "."
    except ValueError:
        return Path(os.path.abspath(path)).name


def repo_name(path: Path) -> str:
    """How the findings name an input: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def read_text(path: Path, what: str) -> str:
    if not path.exists():
        raise ValueError(f"{path}: no such file ({what})")
    if not path.is_file():
        raise ValueError(f"{path}: is not a file ({what})")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: is not UTF-8 text ({err.reason} at byte {err.start})") \
            from None
    except OSError as err:
        raise ValueError(f"{path}: cannot be read ({err.strerror or err})") from None


def parse(flag: str, path: Path, parse: Callable[[str, str], Any], name: str) -> Any:
    """``path`` read and parsed by one of ``inputs.parse_*``; a UsageError without the path."""
    try:
        return parse(read_text(path, f"write it with birnn-bench {flag[2:]} --json FILE"), name)
    except ValueError as err:
        why = str(err)
        for prefix in (f"{path}: ", f"{name}: "):
            why = why.removeprefix(prefix)
        raise UsageError(f"{flag} {path}", why) from None


def read_deploy(paths: Sequence[Path]):
    """The deploy files as one frame, or None when there are none."""
    if not paths:
        return None
    import pandas as pd

    from analysis.load.inputs import parse_deploy

    return pd.concat([parse("--deploy", p, parse_deploy, repo_name(p)) for p in paths],
                     ignore_index=True)


def tolerances(path: Path | None) -> dict[str, float]:
    """The process-level A/A per mode from ``docs/resolution.json`` (``--resolution``)."""
    from analysis.model.resolution import tolerances

    default = REPO / "docs" / "resolution.json"
    if path is None:
        if not default.is_file():
            return {}
        path = default
    try:
        text = read_text(path, "write it with `analysis findings --resolution`")
    except ValueError as err:
        raise UsageError(f"--resolution {path}", str(err).removeprefix(f"{path}: ")) from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise UsageError(f"--resolution {path}", f"not JSON ({err})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--resolution {path}", "not a docs/resolution.json (a JSON object)")
    return tolerances(data)
