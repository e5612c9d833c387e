"""Data-parallel training over processes (torchrun), for every task, with the one training loop.

    torchrun --nproc_per_node=2 -m rnnkit train text book.txt --batch-size 32

Every rank holds the same model and walks the same global batch stream (the BatchSource is
deterministic given its position, so its position is the same on every rank). Rank r keeps its
share of the batch's rows, `torch.tensor_split(rows, world_size)[r]`, and computes the mean loss
over its n_r items. The global batch's mean loss is the item-weighted mean of the ranks' means,

    L = sum_r (n_r / N) L_r,        N = sum_r n_r,

so each rank backpropagates W (n_r / N) L_r (W ranks) through torch's DistributedDataParallel,
which averages the gradients over the ranks while backward runs: every rank then holds dL/dw of
the global batch, exactly as one process computing the whole batch would (up to float rounding),
and takes the same optimiser step.

Because the data position, the optimiser and the weights are the same on every rank, and the
carried state (truncated BPTT) is gathered into its global rows before a checkpoint, a run saved
with N processes resumes with M. Only rank 0 writes files and prints.

Carried state tensors hold the batch on dim 1 (torch's (L, B, H) layout for recurrent state).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.errors import RnnkitError

Carry = Any  # a tensor, a tuple of tensors, or None (task.py)

CARRY_BATCH_DIM = 1  # (L, B, H)


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0  # the rank on this machine: picks the GPU

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current() -> World:
    """The world of the initialised process group, or a single process."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def launched_by_torchrun() -> bool:
    """torchrun (and any launcher using its env:// protocol) sets these for every worker."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


@contextmanager
def process_group(device: str) -> Iterator[World]:
    """Join the process group torchrun described in the environment (nccl for GPUs, gloo for
    CPUs) for the duration of the block; a plain single process when not launched by torchrun."""
    if not launched_by_torchrun():
        yield World()
        return
    # Without a GPU, --device cuda is refused later with its own error (devices.resolve_device).
    gpu = torch.cuda.is_available() and (device.startswith("cuda") or device == "auto")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if gpu:
        torch.cuda.set_device(local_rank)
    try:
        dist.init_process_group("nccl" if gpu else "gloo")
    except (RuntimeError, ValueError) as error:
        raise RnnkitError(
            f"cannot join the torchrun process group ({str(error).splitlines()[0][:200]}); "
            "check --rdzv-endpoint and that every node can reach it"
        ) from None
    try:
        yield current()
        # Leave together: a rank that tears gloo down while another is still in its last
        # collective can abort the process at exit ("terminate called without an active
        # exception"), seen on a loaded 2-core machine.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def device_for(world: World, device: torch.device) -> torch.device:
    """A GPU per process: rank r on this machine uses cuda:LOCAL_RANK."""
    if world.size > 1 and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


# ---------------------------------------------------------------------------------------------
# Sharding a global batch


def batch_rows(batch: Any) -> int:
    """The number of rows (sequences, streams) of a batch: the first dim of its first tensor."""
    for value in _fields(batch).values():
        if torch.is_tensor(value):
            return value.shape[0]
    raise RnnkitError(f"cannot split a {type(batch).__name__} over processes: it has no tensor")


def shard(batch: Any, world: World) -> Any:
    """Rank r's rows of a batch dataclass: every tensor or list with the batch's rows is cut with
    tensor_split (the first ranks get one more row when B is not a multiple of the ranks)."""
    if world.size == 1:
        return batch
    rows = batch_rows(batch)
    if rows < world.size:
        raise RnnkitError(
            f"a batch of {rows} rows cannot be shared by {world.size} processes; use a "
            f"--batch-size of at least {world.size} (and as many training sequences)"
        )
    start, stop = _bounds(rows, world)[world.rank]
    cut = {
        name: value[start:stop]
        for name, value in _fields(batch).items()
        if ((torch.is_tensor(value) and value.dim() > 0) or isinstance(value, list))
        and len(value) == rows
    }
    return dataclasses.replace(batch, **cut)


def _fields(batch: Any) -> dict[str, Any]:
    if not dataclasses.is_dataclass(batch):
        raise RnnkitError(f"cannot split a {type(batch).__name__} over processes: not a dataclass")
    return {f.name: getattr(batch, f.name) for f in dataclasses.fields(batch)}


def _bounds(rows: int, world: World) -> list[tuple[int, int]]:
    """(start, stop) of each rank's rows, as torch.tensor_split cuts them."""
    sizes = [len(part) for part in torch.tensor_split(torch.arange(rows), world.size)]
    starts = [sum(sizes[:r]) for r in range(world.size)]
    return [(start, start + size) for start, size in zip(starts, sizes, strict=True)]


def shard_carry(carry: Carry, world: World) -> Carry:
    """Rank r's rows of a global carried state (after loading a checkpoint)."""
    if carry is None or world.size == 1:
        return carry
    parts = carry if isinstance(carry, tuple) else (carry,)
    start, stop = _bounds(parts[0].shape[CARRY_BATCH_DIM], world)[world.rank]
    cut = tuple(part.narrow(CARRY_BATCH_DIM, start, stop - start).clone() for part in parts)
    return cut if isinstance(carry, tuple) else cut[0]


def gather_carry(carry: Carry, world: World) -> Carry:
    """The global carried state: every rank's rows, in rank order (a collective: all ranks call)."""
    if carry is None or world.size == 1:
        return carry
    parts = carry if isinstance(carry, tuple) else (carry,)
    whole = tuple(_gather_rows(part, world) for part in parts)
    return whole if isinstance(carry, tuple) else whole[0]


def _gather_rows(part: torch.Tensor, world: World) -> torch.Tensor:
    """all_gather needs equal shapes: pad each rank's rows to the largest share, then trim."""
    counts = torch.tensor([part.shape[CARRY_BATCH_DIM]], device=part.device)
    all_counts = [torch.zeros_like(counts) for _ in range(world.size)]
    dist.all_gather(all_counts, counts)
    largest = max(int(c) for c in all_counts)
    padded = torch.zeros(
        *part.shape[:CARRY_BATCH_DIM], largest, *part.shape[CARRY_BATCH_DIM + 1 :],
        dtype=part.dtype, device=part.device,
    )  # fmt: skip
    padded.narrow(CARRY_BATCH_DIM, 0, part.shape[CARRY_BATCH_DIM]).copy_(part)
    gathered = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(gathered, padded.contiguous())
    pairs = zip(gathered, all_counts, strict=True)
    pieces = [g.narrow(CARRY_BATCH_DIM, 0, int(c)) for g, c in pairs]
    return torch.cat(pieces, CARRY_BATCH_DIM)


# ---------------------------------------------------------------------------------------------
# Collectives of the training step


def global_loss(loss: torch.Tensor, items: int, world: World) -> tuple[float, float]:
    """(mean loss of the global batch, this rank's weight n_r / N), from each rank's mean loss."""
    if world.size == 1:
        return loss.item(), 1.0
    sums = _tensor([loss.item() * items, float(items)])
    dist.all_reduce(sums)
    total, count = sums.tolist()
    return total / count, items / count


class TrainingLoss(nn.Module):
    """A task's training loss as a module's forward: what DistributedDataParallel wraps, so that
    its hooks all-reduce the gradients while backward runs (bucketed, overlapping the backward
    of the layers below)."""

    def __init__(self, task: Any) -> None:
        super().__init__()
        self.model = task.model  # the parameters DDP synchronises
        self.task = task  # not a module: the task computes the loss with the model above

    def forward(self, batch: Any, carry: Carry) -> tuple[torch.Tensor, Carry]:
        return self.task.train_loss(batch, carry)


def training_loss(task: Any, world: World) -> Any:
    """`task.train_loss`, through DistributedDataParallel when there are several processes.

    DDP broadcasts rank 0's weights when it is built and averages the gradients over the ranks;
    the loop scales each rank's loss by world size x n_r / N, so the average is the gradient of
    the global batch's mean loss. A parameter no rank used in a step (an adaptive softmax's
    cluster no target fell in) gets zeros from DDP, where one process would leave it without a
    gradient: with AdamW a small difference, and only for such models."""
    if world.size == 1:
        return task.train_loss
    device_ids = [task.device.index] if task.device.type == "cuda" else None
    return DistributedDataParallel(
        TrainingLoss(task), device_ids=device_ids, find_unused_parameters=True
    )


def agree(values: list[float], world: World) -> list[float]:
    """The largest of each value over the ranks: budget fraction, stop request, valid loss..."""
    if world.size == 1:
        return values
    tensor = _tensor(values)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor.tolist()


def from_main(value: float, world: World) -> float:
    """Rank 0's value on every rank (e.g. the valid loss only rank 0 measured)."""
    if world.size == 1:
        return value
    tensor = _tensor([value])
    dist.broadcast(tensor, src=0)
    return tensor.item()


def _tensor(values: list[float]) -> torch.Tensor:
    """Numbers to exchange, where the backend can send them (nccl: on this rank's GPU)."""
    on_gpu = dist.get_backend() == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else None
    return torch.tensor(values, dtype=torch.float64, device=device)
