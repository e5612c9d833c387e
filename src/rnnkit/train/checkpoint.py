"""The run folder: everything about one training run, written so that a crash never corrupts it.

    RUN/config.json          format version, task name, task settings, training settings
    RUN/vocab.json           (text) the vocabulary; other tasks write their own artifacts
    RUN/model.safetensors    the best weights so far (lowest valid loss): what sample/evaluate use
    RUN/metrics.csv          one row per evaluation;  RUN/loss.png  the loss curves
    RUN/samples.txt          the sample printed at each evaluation
    RUN/training/state.json  the latest training state: step, data position, schedule, RNG states,
                             history, and the names of the two tensor files it goes with:
    RUN/training/step-NNNNNNN.model.safetensors   the weights at that step
    RUN/training/step-NNNNNNN.state.safetensors   optimiser moments, RNG states, carried state

Atomic writes: every file is written to a temporary name in the same folder and moved into place
with os.replace (atomic on POSIX and Windows). The training state is committed by replacing
state.json last, after its tensor files are complete; older tensor files are deleted only after
that. A crash at any moment leaves the previous state.json pointing at complete files.

Nothing here unpickles: tensors are safetensors, everything else JSON.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.train.task import Carry

FORMAT_VERSION = 1
CONFIG = "config.json"
BEST_MODEL = "model.safetensors"
TRAINING = "training"
STATE = "state.json"


# ---------------------------------------------------------------------------------------------
# Atomic files


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # same folder: same filesystem
    try:
        with open(temp, "xb") as file:
            file.write(raw)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, json.dumps(value, indent=1, ensure_ascii=False) + "\n")


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(path, safetensors.torch.save(tensors, metadata=metadata))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return safetensors.torch.load_file(path, device="cpu")
    except Exception as error:
        raise RnnkitError(f"{path} is missing or corrupt ({_short(error)}); retrain") from None


# ---------------------------------------------------------------------------------------------
# Run folder and config


def default_run_folder(task: str) -> Path:
    """runs/TASK-DATE-TIME under the current folder: a new run never lands in an old one."""
    return Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_run_folder(path: Path) -> Path:
    """Make a new, empty run folder; refuse one that already holds something."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise RnnkitError(
            f"{path} already exists and is not empty; choose another --out or continue it with "
            f"`rnnkit train --resume {path}`"
        )
    (path / TRAINING).mkdir(parents=True, exist_ok=True)
    return path


def write_config(run: Path, task: str, task_config: dict, train_config: dict) -> None:
    config = {
        "format": "rnnkit-run",
        "version": FORMAT_VERSION,
        "task": task,
        "task_config": task_config,
        "train_config": train_config,
    }
    write_json(Path(run) / CONFIG, config)


def read_config(run: Path) -> dict[str, Any]:
    """config.json of a run folder, checked for this rnnkit's format version."""
    path = Path(run) / CONFIG
    if not path.is_file():
        raise RnnkitError(f"{run} is not an rnnkit run folder (no {CONFIG}); pass the --out folder")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        missing = [k for k in ("version", "task", "task_config", "train_config") if k not in config]
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as error:
        raise RnnkitError(f"{path} is corrupt ({_short(error)}); retrain") from None
    if missing:
        raise RnnkitError(f"{path} is corrupt (no {', '.join(missing)}); retrain")
    version = config["version"]
    if version != FORMAT_VERSION:
        raise RnnkitError(
            f"{run} was written by run format {version}; this rnnkit reads format "
            f"{FORMAT_VERSION}; use the rnnkit version that trained it, or retrain"
        )
    return config


# ---------------------------------------------------------------------------------------------
# Weights


def save_weights(path: Path, model: nn.Module, metadata: dict[str, str] | None = None) -> None:
    """The model's weights as safetensors (a tied weight stored once), written atomically."""
    with tempfile.TemporaryDirectory(dir=Path(path).parent) as folder:
        temp = Path(folder) / "weights.safetensors"
        safetensors.torch.save_model(model, str(temp), metadata=metadata)
        os.replace(temp, path)


def load_weights(model: nn.Module, path: Path) -> None:
    """Load weights saved by save_weights into `model` (on whatever device the model is)."""
    try:
        device = next(model.parameters()).device
        safetensors.torch.load_model(model, str(path), strict=True, device=str(device))
    except Exception as error:
        raise RnnkitError(
            f"{path} is missing, corrupt or from another model ({_short(error)}); retrain"
        ) from None


# ---------------------------------------------------------------------------------------------
# Training state


def save_training_state(
    run: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    carry: Carry,
    state: dict[str, Any],
) -> None:
    """Commit the training state: tensor files first, then state.json, then clean up old files."""
    folder = Path(run) / TRAINING
    stem = f"step-{state['step']:07d}"
    save_weights(folder / f"{stem}.model.safetensors", model)
    tensors, optimizer_json = _optimizer_tensors(optimizer)
    tensors.update(_rng_tensors())
    tensors.update(_carry_tensors(carry))
    save_tensors(folder / f"{stem}.state.safetensors", tensors, {"format": "rnnkit-state"})
    write_json(
        folder / STATE,
        {
            **state,
            "files": stem,
            "optimizer": optimizer_json,
            "carry": _carry_kind(carry),
            "python_rng": _python_rng(),
        },
    )
    for old in folder.glob("step-*.safetensors"):
        if not old.name.startswith(stem + "."):
            old.unlink(missing_ok=True)


def load_training_state(
    run: Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Any], Carry]:
    """Restore model, optimiser and RNG states; return the JSON state and the carry."""
    path = Path(run) / TRAINING / STATE
    if not path.is_file():
        raise RnnkitError(f"{run} has no training state to resume ({path} is missing); retrain")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        stem = state["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise RnnkitError(f"{path} is corrupt ({_short(error)}); retrain") from None
    load_weights(model, path.parent / f"{stem}.model.safetensors")
    tensors = load_tensors(path.parent / f"{stem}.state.safetensors")
    device = next(model.parameters()).device
    optimizer.load_state_dict(_optimizer_state(tensors, state["optimizer"], device))
    _restore_rng(tensors, state["python_rng"])
    carry = _carry_from(tensors, state["carry"], device)
    return state, carry


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split optimizer.state_dict() into tensors (moments) and JSON (hyper-parameters)."""
    full = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, per_param in full["state"].items():
        for key, value in per_param.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": full["param_groups"], "scalars": scalars}


def _optimizer_state(tensors: dict, saved: dict, device: torch.device) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            # AdamW keeps its step counter on the CPU; moments live with the parameters.
            state.setdefault(int(index), {})[key] = value if key == "step" else value.to(device)
    for name, value in saved["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": saved["param_groups"]}


def _rng_tensors() -> dict[str, torch.Tensor]:
    numpy_state = np.random.get_state()
    tensors = {
        "rng.torch": torch.get_rng_state(),
        "rng.numpy": torch.from_numpy(numpy_state[1].astype(np.int64)),
        "rng.numpy_pos": torch.tensor([numpy_state[2]]),
    }
    if torch.cuda.is_available():
        for i, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = cuda_state
    return tensors


def _python_rng() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _restore_rng(tensors: dict[str, torch.Tensor], python_rng: list) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    keys = tensors["rng.numpy"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, int(tensors["rng.numpy_pos"][0]), 0, 0.0))
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    version, internal, gauss = python_rng
    random.setstate((version, tuple(internal), gauss))


def _carry_kind(carry: Carry) -> str:
    if carry is None:
        return "none"
    return "tuple" if isinstance(carry, tuple) else "tensor"


def _carry_tensors(carry: Carry) -> dict[str, torch.Tensor]:
    if carry is None:
        return {}
    parts = carry if isinstance(carry, tuple) else (carry,)
    return {f"carry.{i}": part for i, part in enumerate(parts)}


def _carry_from(tensors: dict, kind: str, device: torch.device) -> Carry:
    parts = tuple(
        tensors[f"carry.{i}"].to(device)
        for i in range(sum(k.startswith("carry.") for k in tensors))
    )
    if kind == "none":
        return None
    return parts if kind == "tuple" else parts[0]


def _short(error: BaseException) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
