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
that. A crash at any moment leaves the previous state.json pointing at complete files (a step
saved again is written as step-NNNNNNN-b, so a save never replaces a file the committed state
uses).
A write that fails (disk full, no permission) raises one RnnkitError and leaves the last
committed state as it was; half-written temporary files (.NAME.HEX.tmp) are removed at resume.

Loading trusts nothing in the folder (docs/RELIABILITY.md): nothing here unpickles (tensors are
safetensors, everything else JSON of bounded size); file names come from a fixed pattern, never
from the folder's contents; every tensor's name, shape and dtype is checked against the model.

Two test hooks, off by default, let a test kill a run at a chosen moment: PHASE_ENV names a
file where the loop writes the phase it enters ("train", "eval", "save", "final-eval",
"final-save"), and PAUSE_ENV sleeps on entering each phase (so that a watcher sees even a short
one) and between a checkpoint's tensor files and its commit (a kill in the middle of a save).
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.files import (
    NEW_FILE_MODE,
    blocked_by,
    read_json,
    remove_temporary_files,
    short,
    write_file,
    write_json,
    write_with,
)
from rnnkit.layers.flat_parameters import apart
from rnnkit.train.average import WeightAverage
from rnnkit.train.task import Carry

FORMAT_VERSION = 1
CONFIG = "config.json"
BEST_MODEL = "model.safetensors"
TRAINING = "training"
STATE = "state.json"
STEM = re.compile(r"step-\d{7}(-b)?")  # the tensor files of one checkpoint
PAUSE_ENV = "RNNKIT_CHECKPOINT_PAUSE"  # seconds; see the module docstring
PHASE_ENV = "RNNKIT_PHASE_FILE"  # a path; see the module docstring


def enter_phase(name: str) -> None:
    """Write the loop's phase to the file PHASE_ENV names (a test hook; nothing when unset)."""
    path = os.environ.get(PHASE_ENV)
    if path:
        # Replaced whole, so that a watcher never reads a half-written name.
        Path(path + ".tmp").write_text(name)
        os.replace(path + ".tmp", path)
        time.sleep(float(os.environ.get(PAUSE_ENV, 0)))


def remove_partial_files(run: Path) -> None:
    """Delete the temporary files of writes that a crash interrupted."""
    for folder in (Path(run), Path(run) / TRAINING):
        remove_temporary_files(folder)


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    write_file(path, safetensors.torch.save(tensors, metadata=metadata))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file (its header is checked by safetensors: sizes, offsets)."""
    try:
        return safetensors.torch.load_file(path, device="cpu")
    except Exception as error:
        raise RnnkitError(f"{path} is missing or corrupt ({short(error)}); retrain") from None


def _check_like(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], path) -> None:
    """Refuse a tensor whose name, shape or dtype is not the model's (torch would convert a
    wrong dtype silently), or that is not finite (a NaN model samples nonsense or crashes)."""
    for name, tensor in tensors.items():
        like = expected.get(name)
        if like is None:
            raise RnnkitError(f"{path} holds {name!r}, which the model does not have; retrain")
        if tensor.shape != like.shape or tensor.dtype != like.dtype:
            raise RnnkitError(
                f"{path}: {name} is {tensor.dtype} {tuple(tensor.shape)}, the model needs "
                f"{like.dtype} {tuple(like.shape)}; the file is from another model, retrain"
            )
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise RnnkitError(
                f"{path}: {name} holds NaN or infinite values (training diverged, or the file "
                "is damaged); retrain, with a lower --lr if it diverged"
            )


# ---------------------------------------------------------------------------------------------
# Run folder and config


def default_run_folder(task: str) -> Path:
    """runs/TASK-DATE-TIME under the current folder: a new run never lands in an old one."""
    return Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_run_folder(path: Path) -> None:
    """Refuse, before any work, a run folder that already holds something or cannot be made
    (its nearest existing parent is not a writable folder); create nothing."""
    path = Path(path)
    if (path / CONFIG).is_file():
        what = (
            "already holds a run; choose another --out or"
            if has_training_state(path)
            else "holds a run that stopped before its first checkpoint; remove the folder to "
            "start again with other settings, or"
        )
        raise RnnkitError(f"{path} {what} continue it with `rnnkit train --resume {path}`")
    if path.exists() and not path.is_dir():
        raise RnnkitError(f"{path} is a file; choose another --out (a new or empty folder)")
    if path.is_dir() and any(path.iterdir()):
        raise RnnkitError(
            f"{path} already exists and holds files that are not a run; choose another --out "
            "(a new or empty folder)"
        )
    parent = blocked_by(path)
    if parent is not None:
        raise RnnkitError(
            f"cannot create the run folder {path} ({parent} is not a writable folder); choose "
            "another --out"
        )


def create_run_folder(path: Path) -> Path:
    """Make a new, empty run folder; refuse one that already holds something."""
    path = Path(path)
    check_run_folder(path)
    try:
        (path / TRAINING).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RnnkitError(
            f"cannot create the run folder {path} ({error.strerror or error}); choose another --out"
        ) from None
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
        given = "give the folder a training run wrote (its --out, or fit's out=)"
        given_vi = "hãy đưa thư mục mà một lần huấn luyện đã ghi ra (tham số --out của lần đó)"
        if not Path(run).exists():
            raise RnnkitError(f"{run} does not exist; {given}", f"{run} không tồn tại; {given_vi}")
        raise RnnkitError(
            f"{run} is not an rnnkit run folder (no {CONFIG}); {given}",
            f"{run} không phải thư mục huấn luyện của rnnkit (không có {CONFIG}); {given_vi}",
        )
    config = read_json(path, "run config")
    kinds = {"version": int, "task": str, "task_config": dict, "train_config": dict}
    wrong = [k for k, kind in kinds.items() if not isinstance(config.get(k), kind)]
    if wrong:
        raise RnnkitError(f"{path} is corrupt (no valid {', '.join(wrong)}); retrain")
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

    def write(temp: Path) -> None:
        try:
            safetensors.torch.save_model(model, str(temp), metadata=metadata)
        except safetensors.SafetensorError as error:  # its I/O errors, as the OSError they were
            found = re.search(r"os error (\d+)", str(error))
            number = int(found[1]) if found else errno.EIO
            raise OSError(number, os.strerror(number)) from None
        with contextlib.suppress(OSError):  # (some file systems refuse chmod: the mode is a nicety)
            os.chmod(temp, NEW_FILE_MODE)  # safetensors makes its files 0600; others get this

    with apart(model):
        write_with(path, write)


def load_weights(model: nn.Module, path: Path) -> None:
    """Load weights saved by save_weights into `model` (on whatever device the model is), after
    checking that every tensor has the name, shape and dtype of the model's."""
    _check_like(load_tensors(path), model.state_dict(), path)
    try:
        device = next(model.parameters()).device
        with apart(model):
            safetensors.torch.load_model(model, str(path), strict=True, device=str(device))
    except Exception as error:
        raise RnnkitError(
            f"{path} is missing, corrupt or from another model ({short(error)}); retrain"
        ) from None


# ---------------------------------------------------------------------------------------------
# Training state


def save_training_state(
    run: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    carry: Carry,
    state: dict[str, Any],
    average: WeightAverage | None = None,
) -> None:
    """Commit the training state: tensor files first, then state.json, then clean up old files."""
    folder = Path(run) / TRAINING
    folder.mkdir(exist_ok=True)  # (a run restarted after its folder was removed)
    stem = _new_stem(folder, state["step"])
    save_weights(folder / f"{stem}.model.safetensors", model)
    tensors, optimizer_json = _optimizer_tensors(optimizer)
    tensors.update(_rng_tensors())
    tensors.update(_carry_tensors(carry))
    tensors.update(average.tensors() if average else {})
    save_tensors(folder / f"{stem}.state.safetensors", tensors, {"format": "rnnkit-state"})
    time.sleep(float(os.environ.get(PAUSE_ENV, 0)))
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


def has_training_state(run: Path) -> bool:
    """Has the run written its first checkpoint?"""
    return (Path(run) / TRAINING / STATE).is_file()


def check_restart(run: Path, eval_every: int) -> None:
    """Refuse to start a run without a checkpoint again from step 0 when that would replace best
    weights trained further than its first evaluation (its checkpoints were removed).

    A run killed before its first checkpoint can have written model.safetensors at its first
    evaluation only (step <= eval_every: the steps the restart trains again anyway)."""
    path = Path(run) / BEST_MODEL
    try:
        with safetensors.safe_open(str(path), "pt") as weights:
            step = int((weights.metadata() or {}).get("step", 0))
    except Exception:  # none there, or unreadable: nothing a restart would lose
        return
    if step > eval_every:
        raise RnnkitError(
            f"{run / TRAINING} holds no checkpoint to resume, but {path} holds weights trained "
            f"{step} steps, which starting again from step 0 would replace: keep them by copying "
            f"the run folder, or delete {path.name} to train this run again from step 0"
        )


def completed_steps(run: Path) -> int:
    """The step of the run's last checkpoint (0 if it has none)."""
    path = Path(run) / TRAINING / STATE
    step = read_json(path, "training state").get("step", 0) if path.is_file() else 0
    if type(step) is not int or step < 0:
        raise RnnkitError(f"{path} holds no step count; the run folder is damaged, retrain")
    return step


def completed_time(run: Path) -> float:
    """The training seconds of the run's last checkpoint (0 if it has none)."""
    path = Path(run) / TRAINING / STATE
    progress = read_json(path, "training state").get("progress", {}) if path.is_file() else {}
    elapsed = progress.get("elapsed", 0) if isinstance(progress, dict) else None
    if type(elapsed) not in (int, float) or not 0 <= elapsed < float("inf"):
        raise RnnkitError(f"{path} holds no training time; the run folder is damaged, retrain")
    return float(elapsed)


def _new_stem(folder: Path, step: int) -> str:
    """step-NNNNNNN, or step-NNNNNNN-b when the committed checkpoint has that name (the same step
    saved again): a save must never replace the files of the state it is about to replace."""
    stem = f"step-{step:07d}"
    path = folder / STATE
    committed = read_json(path, "training state").get("files") if path.is_file() else None
    return stem + "-b" if committed == stem else stem


def load_training_state(
    run: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    average: WeightAverage | None = None,
) -> tuple[dict[str, Any], Carry]:
    """Restore model, optimiser, RNG states (and the weight average); return the JSON state
    and the carry."""
    path = Path(run) / TRAINING / STATE
    if not path.is_file():
        raise RnnkitError(f"{run} has no training state to resume ({path} is missing); retrain")
    state = read_json(path, "training state")
    stem = state.get("files")
    if not isinstance(stem, str) or not STEM.fullmatch(stem):
        # The only file names ever opened are built here: a name in the folder cannot lead out.
        raise RnnkitError(f"{path} names no checkpoint files of the form step-NNNNNNN[-b]; retrain")
    load_weights(model, path.parent / f"{stem}.model.safetensors")
    tensors = load_tensors(path.parent / f"{stem}.state.safetensors")
    device = next(model.parameters()).device
    try:
        _check_optimizer_tensors(tensors, list(model.parameters()))
        optimizer.load_state_dict(_optimizer_state(tensors, state["optimizer"], device))
        _restore_rng(tensors, state["python_rng"])
        carry = _carry_from(tensors, state["carry"], device)
        if average is not None:
            average.load(tensors)
    except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as error:
        raise RnnkitError(f"{path} or its tensors are corrupt ({short(error)}); retrain") from None
    return state, carry


def _check_optimizer_tensors(tensors: dict[str, torch.Tensor], params: list) -> None:
    """AdamW's moments must match their parameters (load_state_dict does not check)."""
    for name, tensor in tensors.items():
        if name.startswith("optimizer.") and not name.endswith(".step"):
            _, index, _key = name.split(".", 2)
            like = params[int(index)]
            if tensor.shape != like.shape or tensor.dtype != like.dtype:
                raise ValueError(f"{name} does not match parameter {index}")


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
    if any(not part.is_floating_point() or part.dim() != 3 for part in parts):
        raise ValueError("the carried state is not float (L, B, H) tensors")
    if kind == "none":
        return None
    return parts if kind == "tuple" else parts[0]
