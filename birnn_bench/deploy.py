"""Deployability: does each strategy survive TorchScript, torch.compile, torch.export and ONNX?

Each check wraps the rnn and one registry strategy in ``StrategyModule``, deploys it with one
technology (``birnn_bench.deploy_technologies``) and compares it with the eager module (float32,
max abs error <= ``TOLERANCE``) on ``probe_specs``, shapes the deployment never saw included. A
cell ``works``, ``fails`` (deploying or a probe raised), is ``wrong`` (ran, but differs) or is
``unavailable`` (an optional dependency is missing). Every technology gets the registry's own
steps (written on tensors and plain values, ``run`` as a module), TorchScript included.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from birnn_bench import deploy_technologies
from birnn_bench._io import dataclass_csv
from birnn_bench._rnn import extract_dims
from birnn_bench._torch_compat import first_error_line

# ALL_TECHNOLOGIES, OPT_IN_TECHNOLOGIES, onnx_available: re-exported (the CLI reads them here).
from birnn_bench.deploy_technologies import (  # noqa: F401
    ALL_TECHNOLOGIES,
    ONNX_PACKAGES,
    OPT_IN_TECHNOLOGIES,
    TECHNOLOGIES,
    DeployFailed,
    onnx_available,
)
from birnn_bench.strategies import STRATEGIES
from birnn_bench.workload import WorkloadSpec, build

Tensor = torch.Tensor

STATUSES = ("works", "fails", "wrong", "unavailable")
#: Max abs difference from the eager output of the same strategy (float32).
TOLERANCE = 1e-5
#: Small shapes: compiles and exports stay fast.
DEPLOY_SHAPE = {"input_size": 5, "hidden_size": 8, "batch": 4, "max_len": 6}


class StrategyModule(nn.Module):
    """The rnn and one registry strategy as a module: ``forward(x, lengths) -> (fwd, bwd)``, with
    the strategy's own steps as attributes (``run`` as its ``run_module``), so every technology,
    TorchScript included, gets the registry's code itself."""

    def __init__(self, rnn: nn.RNNBase, strategy_name: str) -> None:
        super().__init__()
        _check_arguments((strategy_name,))
        strategy = STRATEGIES[strategy_name]
        self.rnn = rnn
        self.strategy_name = strategy_name
        self.prepare = strategy.prepare
        self.run_step = strategy.run_module(rnn)
        self.extract = strategy.extract
        self.batch_first, self.num_layers, self.out_size = extract_dims(rnn)
        self.train(rnn.training)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        ran = self.run_step(self.prepare(x, lengths, self.batch_first))
        return self.extract(ran, lengths, self.batch_first, self.num_layers, self.out_size)


def _check_arguments(strategies: Sequence[str], technologies: Sequence[str] = (),
                     device: str = "cpu") -> None:
    for technology in technologies:
        deploy_technologies.check_technology(technology)
    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, got {name!r}")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} requested but CUDA is not available here")


@dataclass(frozen=True)
class DeployResult:
    """One cell: a strategy on (cell, layers, device) deployed with one technology."""

    strategy: str
    cell: str
    layers: int
    device: str
    technology: str
    status: str
    detail: str
    graph_breaks: int | None = None
    build_seconds: float | None = None
    max_abs_error: float | None = None
    note: str = ""

    def verdict(self) -> tuple:
        """Everything but the wall-clock time: equal from run to run."""
        return tuple(v for k, v in asdict(self).items() if k != "build_seconds")


def deploy_spec(cell: str = "lstm", layers: int = 1, device: str = "cpu",
                seed: int = 0) -> WorkloadSpec:
    """The traced workload of the deployability matrix (small, float32, uniform lengths)."""
    return WorkloadSpec(cell=cell, num_layers=layers, lengths="uniform", layout="batch_first",
                        dtype="float32", device=device, seed=seed, **DEPLOY_SHAPE)


def probe_specs(spec: WorkloadSpec) -> list[tuple[str, WorkloadSpec]]:
    """The traced input first, then new lengths, a new batch and longer T, and a batch of one
    (x and lengths only: every probe runs the traced spec's rnn)."""
    other_batch = spec.batch - 1 if spec.batch > 2 else spec.batch + 1
    probes = [("traced", spec), ("new lengths", spec.with_(seed=spec.seed + 1)),
              ("new shape", spec.with_(batch=other_batch, max_len=spec.max_len + 3,
                                       seed=spec.seed + 2)),
              ("batch of one", spec.with_(batch=1, max_len=max(1, spec.max_len - 1),
                                          seed=spec.seed + 3))]
    return [(f"{label} (B={s.batch}, T={s.max_len})", s) for label, s in probes]


_Probe = tuple[str, Tensor, Tensor, tuple[Tensor, Tensor]]  # label, x, lengths, eager output


def _case(spec: WorkloadSpec, strategy: str) -> tuple[StrategyModule, list[_Probe]]:
    module = StrategyModule(build(spec)[0], strategy).eval()
    inputs = [(label, *build(probe)[1:]) for label, probe in probe_specs(spec)]
    with torch.no_grad():
        return module, [(label, x, lengths, module(x, lengths)) for label, x, lengths in inputs]


def _probe_error(outputs: object, expected: tuple[Tensor, Tensor]) -> float:
    if not isinstance(outputs, (tuple, list)) or len(outputs) != 2:
        return math.inf
    worst = 0.0
    for got, want in zip(outputs, expected, strict=True):
        if tuple(got.shape) != tuple(want.shape):
            return math.inf
        diff = got.detach().to("cpu", torch.float64) - want.detach().to("cpu", torch.float64)
        if not torch.isfinite(diff).all():
            return math.inf
        worst = max(worst, float(diff.abs().max()) if diff.numel() else 0.0)
    return worst


def _run_probes(fn: Callable, probes: list[_Probe]) -> tuple[float, str]:
    """Worst error over the probes and the first probe with it; raises DeployFailed on a crash."""
    worst, where = 0.0, probes[0][0]
    for label, x, lengths, expected in probes:
        try:
            outputs = fn(x, lengths)
        except Exception as err:
            raise DeployFailed(f"run on {label}", err) from None
        error = _probe_error(outputs, expected)
        if error > worst or math.isnan(error):
            worst, where = error, label
    return worst, where


def _check_case(module: StrategyModule, probes: list[_Probe], spec: WorkloadSpec, strategy: str,
                technology: str) -> DeployResult:
    row = {"strategy": strategy, "cell": spec.cell, "layers": spec.num_layers,
           "device": spec.device, "technology": technology}
    reason = deploy_technologies.unavailable(technology)
    if reason is not None:
        return DeployResult(**row, status="unavailable", detail=reason)
    try:
        with deploy_technologies.technology_context(technology):
            deployed = deploy_technologies.deploy(module, probes[0][1], probes[0][2], technology)
            error, where = _run_probes(deployed.fn, probes)
    except DeployFailed as failed:
        return DeployResult(**row, status="fails",
                            detail=f"{failed.stage}: {first_error_line(failed.error)}")
    row.update(graph_breaks=deployed.graph_breaks, build_seconds=round(deployed.build_seconds, 3),
               max_abs_error=error, note=deployed.note)
    if error <= TOLERANCE:
        return DeployResult(**row, status="works", detail=f"max abs error {error:.0e}")
    return DeployResult(**row, status="wrong", detail=f"max abs error {error:.1e} on {where}")


def check_deploy(strategy: str, technology: str,
                 spec: WorkloadSpec | None = None) -> DeployResult:
    """Deploys ``strategy`` on ``spec``'s rnn (default: ``deploy_spec()``) with ``technology``
    and compares it with eager on ``probe_specs(spec)``."""
    spec = spec or deploy_spec()
    _check_arguments((strategy,), (technology,), spec.device)
    return _check_case(*_case(spec, strategy), spec, strategy, technology)


def deploy_matrix(strategies: Sequence[str] = tuple(STRATEGIES),
                  cells: Sequence[str] = ("lstm", "gru"), layers: Sequence[int] = (1, 2),
                  device: str = "cpu", technologies: Sequence[str] = TECHNOLOGIES,
                  progress: Callable[[int, int, str], None] | None = None,
                  seed: int = 0) -> list[DeployResult]:
    """Every strategy x cell x layers x technology, rows in that order; ``progress(done, total,
    label)`` is called after each cell."""
    _check_arguments(strategies, technologies, device)
    total = len(strategies) * len(cells) * len(layers) * len(technologies)
    rows: list[DeployResult] = []
    for strategy in strategies:
        for cell in cells:
            for num_layers in layers:
                spec = deploy_spec(cell, num_layers, device, seed)
                module, probes = _case(spec, strategy)
                for technology in technologies:
                    rows.append(_check_case(module, probes, spec, strategy, technology))
                    if progress is not None:
                        progress(len(rows), total, f"{strategy} {cell} {num_layers} {technology}")
    return rows


def versions() -> dict[str, str | None]:
    """torch and the optional ONNX packages (None when missing)."""
    return {"torch": torch.__version__, **deploy_technologies.onnx_versions()}


def format_cell(row: DeployResult, legend: dict[str, int] | None = None) -> str:
    if row.status == "works":
        return "works" if row.graph_breaks is None else f"works, {row.graph_breaks} breaks"
    if row.status == "wrong":
        return f"wrong {row.max_abs_error:.0e}"
    short = "fails" if row.status == "fails" else "n/a"
    if legend is not None and row.detail in legend:
        return f"{short} [{legend[row.detail]}]"
    return f"{short}: {row.detail}"


def format_matrix(rows: Sequence[DeployResult]) -> str:
    """Rows strategy x cell x layers, columns technologies; fails/n/a point at a numbered
    legend with the first error line."""
    technologies = list(dict.fromkeys(row.technology for row in rows))
    legend: dict[str, int] = {}
    cells: dict[str, dict[str, str]] = {}
    for row in rows:
        if row.status in ("fails", "unavailable") and row.detail not in legend:
            legend[row.detail] = len(legend) + 1
    for row in rows:
        label = f"{row.strategy} {row.cell} {row.layers}"
        cells.setdefault(label, {})[row.technology] = format_cell(row, legend)
    title = "strategy cell layers"
    label_width = max([len(title), *map(len, cells)])
    widths = {t: max([len(t), *(len(c.get(t, "")) for c in cells.values())])
              for t in technologies}

    def line(label: str, texts: dict[str, str]) -> str:
        return label.ljust(label_width) + " | " + " ".join(
            texts.get(t, "-").ljust(widths[t]) for t in technologies)

    header = line(title, {t: t for t in technologies})
    lines = [header, "-" * len(header), *(line(label, group) for label, group in cells.items())]
    if legend:
        lines.append("")
        lines.extend(f"[{number}] {detail}" for detail, number in legend.items())
    return "\n".join(lines)


def strategies_that_work(rows: Sequence[DeployResult], technology: str) -> list[str]:
    """Strategies whose every row for ``technology`` works (registry order), for ``recommend
    --require``."""
    mine = [row for row in rows if row.technology == technology]
    return [name for name in dict.fromkeys(row.strategy for row in mine)
            if all(row.status == "works" for row in mine if row.strategy == name)]


def format_summary(rows: Sequence[DeployResult]) -> str:
    """Per technology: how many cells work, and which strategies work everywhere."""
    probes = ", ".join(label.split(" (")[0] for label, _ in probe_specs(deploy_spec()))
    lines = [f"Compared with eager (max abs error <= {TOLERANCE:.0e}) on {probes}:"]
    for technology in dict.fromkeys(row.technology for row in rows):
        mine = [row for row in rows if row.technology == technology]
        counts = {status: sum(row.status == status for row in mine) for status in STATUSES}
        everywhere = strategies_that_work(rows, technology)
        text = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        lines.append(f"  {technology:<28} {text}; works everywhere: "
                     f"{', '.join(everywhere) or 'none'}")
    return "\n".join(lines)


def to_json(rows: Sequence[DeployResult]) -> str:
    return json.dumps({
        "versions": versions(),
        "tolerance": TOLERANCE,
        "technologies": list(dict.fromkeys(row.technology for row in rows)),
        "probes": [label for label, _ in probe_specs(deploy_spec())],
        "shape": DEPLOY_SHAPE,
        "rows": [asdict(row) for row in rows],
    }, indent=2)


def to_csv(rows: Sequence[DeployResult]) -> str:
    return dataclass_csv(rows, DeployResult)
