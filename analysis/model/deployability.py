"""Deployability (``birnn-bench deploy --json``, read by ``analysis.load.inputs.parse_deploy``): the
table per strategy and technology, why cells failed, where the data comes from, and which
strategies survive torch.export / ONNX. Pure: DataFrames in, DataFrames and text out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from analysis.model import paired


def _code(names: Any) -> str:
    return ", ".join(f"`{n}`" for n in names) or "none"


def _deploy_label(row: Any) -> str:
    label = str(row.status) + ("*" if str(getattr(row, "note", "")).strip() else "")
    breaks = getattr(row, "graph_breaks", None)
    if breaks is not None and not pd.isna(breaks) and int(breaks) > 0:
        label += f" ({int(breaks)} graph break{'s' if int(breaks) != 1 else ''})"
    return label


def deploy_table(deploy: pd.DataFrame | None) -> pd.DataFrame:
    """Per device and strategy, one column per technology: the outcome when every cell x layers
    agrees (``*``: with a note), else how many work and what the others did."""
    if deploy is None or deploy.empty:
        return pd.DataFrame()
    technologies = list(dict.fromkeys(deploy["technology"]))
    out = []
    for device, g in deploy.groupby("device", sort=True):
        for strategy in paired.strategy_order(g["strategy"]):
            record = {"device": device, "strategy": strategy}
            for tech in technologies:
                cells = g[(g["strategy"] == strategy) & (g["technology"] == tech)]
                labels = [_deploy_label(r) for r in cells.itertuples()]
                others = [f"{label}: {r.cell} L{r.layers}" for r, label in
                          zip(cells.itertuples(), labels, strict=True) if r.status != "works"]
                record[tech] = "" if not labels else labels[0] if len(set(labels)) == 1 else (
                    f"works {sum(cells['status'] == 'works')}/{len(labels)}"
                    + ("; " + ", ".join(others) if others else ""))
            out.append(record)
    return pd.DataFrame(out)


def deploy_details(deploy: pd.DataFrame | None) -> pd.DataFrame:
    """Why: the distinct messages of the cells that did not work, and the first note of each
    technology's noted cells (``*`` in the table)."""
    cols = ["technology", "status", "cells", "strategies", "detail"]
    if deploy is None or deploy.empty:
        return pd.DataFrame(columns=cols)
    names = ("strategy", lambda x: ", ".join(dict.fromkeys(x)))
    parts = []
    bad = deploy[deploy["status"] != "works"]
    if not bad.empty:
        parts.append(bad.groupby(["technology", "status", "detail"], sort=False).agg(
            strategies=names, cells=("strategy", "size")).reset_index())
    noted = deploy[deploy["note"].astype(str).str.strip() != ""]
    if not noted.empty:  # one row per distinct note: cells whose graph breaks differ apart
        parts.append(noted.assign(detail="* " + noted["note"].astype(str)).groupby(
            ["technology", "status", "detail"], sort=False).agg(
            strategies=names, cells=("strategy", "size")).reset_index())
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def deploy_sources(deploy: pd.DataFrame) -> list[str]:
    """Per deploy file: "`file`: <machine>, torch <version>" (where the table comes from)."""
    keys = [c for c in ("source", "machine", "torch") if c in deploy.columns]
    return [f"`{row['source']}`: " + ", ".join(
        [str(row.get("machine", "machine not recorded")), f"torch {row.get('torch', '?')}"])
        for row in deploy[keys].drop_duplicates().to_dict("records")]


#: What the deployability conclusion names -> the technologies that count for it: any of them
#: working on a cell is enough, as for ``birnn-bench recommend --require``.
DEPLOY_TARGETS: dict[str, tuple[str, ...]] = {"torch.export": ("export", "export_while_loop"),
                                              "ONNX": ("onnx",)}


def deploy_survivors(deploy: pd.DataFrame | None, safe: Sequence[str]) -> pd.DataFrame:
    """Per target of ``DEPLOY_TARGETS`` present in ``deploy``: the strategies that deploy with it
    (one of its technologies ``works``) on every device, cell and layer count measured, in
    registry order, and those of them in ``safe`` (correct on every condition of the check)."""
    cols = ["target", "strategies", "safe"]
    if deploy is None or deploy.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for target, technologies in DEPLOY_TARGETS.items():
        mine = deploy[deploy["technology"].isin(technologies)]
        if mine.empty:
            continue
        works = (mine.assign(ok=mine["status"] == "works")
                 .groupby(["strategy", "device", "cell", "layers"])["ok"].any()
                 .groupby(level="strategy").all())
        names = [n for n in paired.strategy_order(deploy["strategy"]) if bool(works.get(n, False))]
        out.append({"target": target, "strategies": names,
                    "safe": [n for n in names if n in safe]})
    return pd.DataFrame(out, columns=cols)



def deploy_conclusion(survivors: pd.DataFrame) -> str:
    """One sentence from ``deploy_survivors``: which strategies survive torch.export and
    ONNX on every cell measured, and which of those is correct on every condition."""
    if survivors.empty:
        return "Neither torch.export nor ONNX is in the deployability data."
    found = {row.target: list(row.strategies) for row in survivors.itertuples()}
    labels = {"torch.export": "torch.export (plain or with its while-loop rnn decomposition)",
              "ONNX": "ONNX"}
    missing = [t for t in DEPLOY_TARGETS if t not in found]
    if len(found) == 2 and len({tuple(v) for v in found.values()}) == 1:
        names = next(iter(found.values()))
        parts = [f"{_code(names)} survive both {labels['torch.export']} and ONNX" if names
                 else "no strategy survives torch.export or ONNX"]
    else:
        parts = [f"{_code(names)} survive {labels[t]}" if names
                 else f"no strategy survives {labels[t]}" for t, names in found.items()]
    text = "In short: on every cell measured, " + "; ".join(parts)
    safe = list(dict.fromkeys(n for row in survivors.itertuples() for n in row.safe))
    if any(found.values()):
        text += (f", and of these only {_code(safe)} "
                 f"{'is' if len(safe) == 1 else 'are'} correct on every condition of the check"
                 if safe else ", and none of these is correct on every condition of the check")
    if missing:
        text += f" ({', '.join(missing)}: not in the data)"
    return text + "."
