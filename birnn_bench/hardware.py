"""What hardware a measurement ran on: the facts that change the answer, and a name for them.

The same suite ranks strategies differently on different CPUs (manual_two_rnn 2.49x of hn_index
on an Intel Xeon, 0.73x and 1.08x on two AMD EPYCs), because an unpadded CPU LSTM call runs
through oneDNN, whose speed differs by CPU and capability. So a result's machine is its hardware:
CPU model, cores, torch's CPU capability, oneDNN on or off, the torch build (CPU or which CUDA)
and the GPU. ``machine_name`` derives a results-folder name from them; ``differences`` says where
two records disagree, so that one name never holds two machines' results."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping

#: The facts compared between a recorded machine and this one, with a label for messages.
COMPARED = {"cpu": "CPU model", "num_cpu": "cores", "cpu_capability": "CPU capability",
            "onednn": "oneDNN", "torch_build": "torch build", "gpu": "GPU"}


def cpu_model() -> str:
    """The CPU's marketing name as asv records it (``/proc/cpuinfo``'s model name), else the
    platform's description."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
                for line in info:
                    key, _, value = line.partition(":")
                    if key.strip() == "model name" and value.strip():
                        return value.strip()
        except OSError:
            pass
    elif sys.platform == "darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                  capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def facts(device: str = "cpu") -> dict[str, str]:
    """This machine's facts (all strings, as asv's machine.json holds them). ``device="cuda"``
    adds the GPU's name, which initialises CUDA: never call it in a process that forks workers
    afterwards (asv's forkserver)."""
    import torch

    onednn = torch.backends.mkldnn.is_available() and bool(torch.backends.mkldnn.enabled)
    gpu = "none"
    if device == "cuda" and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    return {
        "cpu": cpu_model(),
        "num_cpu": str(os.cpu_count() or 0),
        "arch": platform.machine(),
        "cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
        "onednn": "on" if onednn else "off",
        "torch_build": f"cuda {torch.version.cuda}" if torch.version.cuda else "cpu",
        "gpu": gpu,
    }


def _slug(text: str) -> str:
    words = re.sub(r"\((?:R|TM|tm|r)\)|\b(?:processor|cpu|core\(?s?\)?)\b", " ", text,
                   flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-") or "unknown"


def machine_name(found: Mapping[str, str]) -> str:
    """A folder name derived from the hardware, never the hostname:
    ``amd-epyc-2c-avx512``, ``intel-xeon-2c-avx512-nodnnl``, ``...-nvidia-h100-80gb-hbm3``."""
    parts = [_slug(found.get("cpu", "")), f"{found.get('num_cpu', '0')}c",
             _slug(found.get("cpu_capability", "unknown"))]
    if found.get("onednn", "on") == "off":
        parts.append("nodnnl")
    if found.get("gpu", "none") not in ("", "none"):
        parts.append(_slug(found["gpu"]))
    return "-".join(parts)


def differences(recorded: Mapping[str, object], current: Mapping[str, str]) -> list[str]:
    """``"CPU model: X recorded, Y here"`` for each compared fact both sides name and that
    differs (a record from before a fact was recorded cannot disagree on it)."""
    found = []
    for key, label in COMPARED.items():
        before, now = recorded.get(key), current.get(key)
        if before is None or now is None or str(before) in ("", "unknown"):
            continue
        if str(before).strip() != str(now).strip():
            found.append(f"{label}: {before} recorded, {now} here")
    return found


def describe(found: Mapping[str, object]) -> str:
    """``AMD EPYC, 2 cores, AVX512, oneDNN on`` (+ the GPU): the facts ``found`` records, for
    headings and messages."""
    parts = [str(found.get("cpu") or "unknown CPU")]
    if found.get("num_cpu"):
        parts.append(f"{found['num_cpu']} cores")
    if found.get("cpu_capability"):
        parts.append(str(found["cpu_capability"]))
    if found.get("onednn"):
        parts.append(f"oneDNN {found['onednn']}")
    if found.get("gpu") not in (None, "", "none"):
        parts.append(str(found["gpu"]))
    return ", ".join(parts)
