"""Deployability: does each strategy survive TorchScript, torch.compile, torch.export and ONNX?

Each check deploys the rnn and one registry strategy (``StrategyModule``) with one technology and
compares it with eager (float32, max abs error <= ``TOLERANCE``) on ``probe_specs``, shapes the
deployment never saw included: it ``works``, ``fails`` (deploying or a probe raised), is
``wrong`` (ran, but differs) or ``unavailable`` (an optional dependency is missing).
``TECHNOLOGIES``: ``script``, ``compile_fullgraph``, ``compile`` (graph breaks counted),
``export`` (batch and T dynamic) and ``onnx`` (dynamo exporter, run with onnxruntime on CPU);
``OPT_IN_TECHNOLOGIES`` add the switch torch's own messages point to: dynamo's ``allow_rnn``, and
export's while-loop LSTM/GRU decomposition (without it the CPU rnn kernel fixes T at the traced
length).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from birnn_bench import _torch_compat as compat
from birnn_bench import hardware
from birnn_bench._io import dataclass_csv
from birnn_bench._rnn import batch_dim, extract_dims, time_dim
from birnn_bench._torch_compat import first_error_line
from birnn_bench.strategies import STRATEGIES
from birnn_bench.workload import WorkloadSpec, build

Tensor = torch.Tensor

TECHNOLOGIES = ("script", "compile_fullgraph", "compile", "export", "onnx")
OPT_IN_TECHNOLOGIES = ("compile_fullgraph_allow_rnn", "export_while_loop")
ALL_TECHNOLOGIES = TECHNOLOGIES + OPT_IN_TECHNOLOGIES
#: The pip names of the optional ONNX extras.
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
_COMPILES = ("compile", "compile_fullgraph", "compile_fullgraph_allow_rnn")
_QUIET_LOGGERS = ("torch.onnx", "torch._dynamo", "torch.export", "torch._export",
                  "torch.fx.experimental.symbolic_shapes")
STATUSES = ("works", "fails", "wrong", "unavailable")
#: Max abs difference from the eager output of the same strategy (float32).
TOLERANCE = 1e-5
#: Small shapes: compiles and exports stay fast.
DEPLOY_SHAPE = {"input_size": 5, "hidden_size": 8, "batch": 4, "max_len": 6}


class StrategyModule(nn.Module):
    """``forward(x, lengths) -> (fwd, bwd)`` of the rnn and the registry strategy's own steps
    (``run`` as its ``run_module``): every technology, TorchScript included, gets that code."""

    def __init__(self, rnn: nn.RNNBase, strategy_name: str) -> None:
        super().__init__()
        _check_arguments((strategy_name,))
        strategy = STRATEGIES[strategy_name]
        self.rnn = rnn
        self.prepare = strategy.prepare
        self.run_step = strategy.run_module(rnn)
        self.extract = strategy.extract
        self.batch_first, self.num_layers, self.out_size = extract_dims(rnn)
        self.train(rnn.training)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        ran = self.run_step(self.prepare(x, lengths, self.batch_first))
        return self.extract(ran, lengths, self.batch_first, self.num_layers, self.out_size)


def check_technology(technology: str) -> None:
    if technology not in ALL_TECHNOLOGIES:
        raise ValueError(f"technology: expected one of {ALL_TECHNOLOGIES}, got {technology!r}")


def _check_arguments(strategies: Sequence[str], technologies: Sequence[str] = (),
                     device: str = "cpu") -> None:
    for technology in technologies:
        check_technology(technology)
    for name in strategies:
        if name not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {sorted(STRATEGIES)}, got {name!r}")
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} requested but CUDA is not available here")


# the technologies --------------------------------------------------------------------------------
class DeployFailed(Exception):  # noqa: N818 (a stage that raised, not a bug here)
    """A stage of building or running a deployment raised ``error``."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error


@contextlib.contextmanager
def _stage(stage: str) -> Iterator[None]:
    try:
        yield
    except Exception as err:
        raise DeployFailed(stage, err) from None


class Deployed(NamedTuple):
    fn: Callable[[Tensor, Tensor], Any]
    build_seconds: float
    graph_breaks: int | None
    note: str


def onnx_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ONNX_PACKAGES:
        try:
            found[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            found[name] = None
    return found


def missing_onnx_packages() -> list[str]:
    return [name for name, version in onnx_versions().items() if version is None]


def onnx_available() -> bool:
    return not missing_onnx_packages()


def versions() -> dict[str, str | None]:
    """torch and the optional ONNX packages (None when missing)."""
    return {"torch": torch.__version__, **onnx_versions()}


def unavailable(technology: str) -> str | None:
    """Why ``technology`` cannot run here (a missing optional dependency), or None."""
    missing = missing_onnx_packages() if technology == "onnx" else []
    if missing:
        return f"not installed: {', '.join(missing)} (pip install {' '.join(ONNX_PACKAGES)})"
    error = compat.while_loop_rnn_missing() if technology == "export_while_loop" else None
    return None if error is None else first_error_line(error)


@contextlib.contextmanager
def technology_context(technology: str) -> Iterator[None]:
    """What a deployment's build and runs (recompiles included) share: exporters kept quiet (they
    print and warn; torch.export prints the partial graph of a data-dependent failure to stderr,
    the cell keeps its first line), no autograd, the technology's switches, and no rnn dispatch
    state from earlier deployments in this process, nor any left behind."""
    check_technology(technology)
    compat.clear_rnn_dispatch_caches()
    levels = {logger: logger.level for logger in map(logging.getLogger, _QUIET_LOGGERS)}
    switches = (compat.allow_rnn() if technology == "compile_fullgraph_allow_rnn"
                else contextlib.nullcontext())
    try:
        for logger in levels:
            logger.setLevel(logging.ERROR)
        with (warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()),
              contextlib.redirect_stderr(io.StringIO()), torch.no_grad(), switches):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in levels.items():
            logger.setLevel(level)
        compat.clear_rnn_dispatch_caches()
        if technology in _COMPILES:
            torch.compiler.reset()


def _compile(module: nn.Module, x: Tensor, lengths: Tensor, technology: str) -> Deployed:
    """Compiled on the traced input; build_seconds is that first call."""
    torch.compiler.reset()
    compiled = torch.compile(module, fullgraph=technology != "compile")
    with compat.counting_graph_breaks() as graph_breaks:
        start = time.perf_counter()
        with _stage("torch.compile"):
            compiled(x, lengths)
        seconds = time.perf_counter() - start
        breaks = graph_breaks()
    note = "build_seconds: first call, inductor caches allowed"
    if technology == "compile_fullgraph_allow_rnn":
        note += "; torch._dynamo.config.allow_rnn=True"
    if technology != "compile":
        return Deployed(compiled, seconds, None, note)
    if breaks:
        note += "; graph breaks: " + "; ".join(f"{reason.strip().splitlines()[0]} x{count}"
                                               for reason, count in breaks.items())
    return Deployed(compiled, seconds, sum(breaks.values()), note)


def _dynamic_shapes(rnn: nn.RNNBase) -> dict[str, dict[int, Any]]:
    batch = torch.export.Dim("batch", min=1)
    steps = torch.export.Dim("steps", min=1)
    return {"x": {batch_dim(rnn): batch, time_dim(rnn): steps}, "lengths": {0: batch}}


def _onnx(module: nn.Module, x: Tensor, lengths: Tensor) -> Callable:
    import onnxruntime
    with _stage("torch.onnx.export"):
        program = torch.onnx.export(module, (x, lengths), dynamo=True, verbose=False,
                                    dynamic_shapes=_dynamic_shapes(module.rnn))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    with _stage("onnxruntime.InferenceSession"):
        session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(), options,
                                               providers=["CPUExecutionProvider"])
    names = [entry.name for entry in session.get_inputs()]

    def run(x: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        feed = {"x": x.detach().cpu().numpy(), "lengths": lengths.detach().cpu().numpy()}
        return tuple(torch.from_numpy(out) for out in
                     session.run(None, {name: feed[name] for name in names}))

    return run


def deploy(module: nn.Module, x: Tensor, lengths: Tensor, technology: str) -> Deployed:
    """Deploys ``module`` (its rnn in attribute ``rnn``) with ``technology`` on the traced input
    ``(x, lengths)``; call inside ``technology_context(technology)``. Raises ``DeployFailed``."""
    check_technology(technology)
    if technology in _COMPILES:
        return _compile(module, x, lengths, technology)
    start = time.perf_counter()
    if technology == "script":
        with _stage("torch.jit.script"):
            fn = compat.script_fresh(module)
        note = "torch.jit.script of the module as written"
    elif technology in ("export", "export_while_loop"):
        while_loop = technology == "export_while_loop"
        with (_stage("torch.export.export"),
              compat.rnn_while_loop_decomposition() if while_loop else contextlib.nullcontext()):
            program = torch.export.export(module, (x, lengths),
                                          dynamic_shapes=_dynamic_shapes(module.rnn))
        fn = program.module()
        note = "register_{lstm,gru}_while_loop_decomposition()" if while_loop else ""
    else:
        fn = _onnx(module, x, lengths)
        note = "torch.onnx.export(dynamo=True), onnxruntime CPU"
    return Deployed(fn, time.perf_counter() - start, None, note)


# the checks --------------------------------------------------------------------------------------
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


def _check_case(module: StrategyModule, probes: list[_Probe], spec: WorkloadSpec, strategy: str,
                technology: str) -> DeployResult:
    row = {"strategy": strategy, "cell": spec.cell, "layers": spec.num_layers,
           "device": spec.device, "technology": technology}
    reason = unavailable(technology)
    if reason is not None:
        return DeployResult(**row, status="unavailable", detail=reason)
    worst, where = 0.0, probes[0][0]
    try:
        with technology_context(technology):
            deployed = deploy(module, probes[0][1], probes[0][2], technology)
            for label, x, lengths, expected in probes:
                with _stage(f"run on {label}"):
                    outputs = deployed.fn(x, lengths)
                error = _probe_error(outputs, expected)
                if error > worst or math.isnan(error):
                    worst, where = error, label
    except DeployFailed as failed:
        return DeployResult(**row, status="fails",
                            detail=f"{failed.stage}: {first_error_line(failed.error)}")
    row.update(graph_breaks=deployed.graph_breaks, build_seconds=round(deployed.build_seconds, 3),
               max_abs_error=worst, note=deployed.note)
    if worst <= TOLERANCE:
        return DeployResult(**row, status="works", detail=f"max abs error {worst:.0e}")
    return DeployResult(**row, status="wrong", detail=f"max abs error {worst:.1e} on {where}")


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
    """Every strategy x cell x layers x technology, in that order; ``progress(done, total,
    label)`` after each cell."""
    _check_arguments(strategies, technologies, device)
    total = len(strategies) * len(cells) * len(layers) * len(technologies)
    rows: list[DeployResult] = []
    for strategy, cell, num_layers in itertools.product(strategies, cells, layers):
        spec = deploy_spec(cell, num_layers, device, seed)
        module, probes = _case(spec, strategy)
        for technology in technologies:
            rows.append(_check_case(module, probes, spec, strategy, technology))
            if progress is not None:
                progress(len(rows), total, f"{strategy} {cell} {num_layers} {technology}")
    return rows


# the formats -------------------------------------------------------------------------------------
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
        if row.status in ("fails", "unavailable"):
            legend.setdefault(row.detail, len(legend) + 1)
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
    """Strategies whose every row for ``technology`` works (registry order)."""
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
    # The machine it ran on, as results files record it (the report names it beside the table).
    device = "cuda" if any(row.device == "cuda" for row in rows) else "cpu"
    return json.dumps({
        "versions": versions(), "hardware": hardware.facts(device), "tolerance": TOLERANCE,
        "technologies": list(dict.fromkeys(row.technology for row in rows)),
        "probes": [label for label, _ in probe_specs(deploy_spec())],
        "shape": DEPLOY_SHAPE, "rows": [asdict(row) for row in rows]}, indent=2)


def to_csv(rows: Sequence[DeployResult]) -> str:
    return dataclass_csv(rows, DeployResult)
