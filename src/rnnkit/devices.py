"""Which device a model runs on: `--device cpu | cuda | cuda:1 | auto` (auto: a GPU if there is
one), for training and for every command that loads a run."""

from __future__ import annotations

import argparse

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
        raise RnnkitError("--device cuda was asked for but no GPU is available; use --device cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise RnnkitError(f"rnnkit runs on cpu and cuda, not {device.type}; use --device cpu")
    return device


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help=HELP)
