"""Which device a model runs on: `--device cpu | cuda | cuda:1 | auto` (auto: a GPU if there is
one), for training and for every command that loads a run; whether it computes bfloat16; and
what CPU a timing was taken on."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

from rnnkit.errors import RnnkitError

HELP = "cpu, cuda, cuda:1, ...; auto picks cuda when available (default: auto)"


def resolve_device(name: str) -> torch.device:
    """The torch device `name` means here; one RnnkitError for a name or a GPU that is not."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RnnkitError(f"unknown device {name!r}; use cpu, cuda or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RnnkitError(
            f"--device {name} was asked for but no GPU is available; use --device cpu"
        )
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise RnnkitError(
                f"--device {name}: this machine has {count} GPU(s), numbered from 0; use "
                f"--device cuda:0{f' to cuda:{count - 1}' if count > 1 else ''}"
            )
    if device.type not in ("cpu", "cuda", "mps"):
        raise RnnkitError(f"rnnkit runs on cpu and cuda, not {device.type}; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RnnkitError(
            f"--device {name} was asked for but this machine has no Apple GPU; use --device cpu"
        )
    return device


def computes_bf16(device: torch.device) -> bool:
    """Whether `device` has bfloat16 arithmetic of its own: a GPU that supports it, or a CPU with
    AVX-512 BF16 or AMX. Elsewhere bf16 is emulated, slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's own probes
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def trains_in_bf16(precision: str, device: torch.device) -> bool:
    """Whether a training step runs under autocast to bfloat16: `--precision bf16`, or `auto` on
    a device that computes bf16 natively (`computes_bf16`)."""
    return precision == "bf16" or (precision == "auto" and computes_bf16(device))


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help=HELP)


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, or what the platform module knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
