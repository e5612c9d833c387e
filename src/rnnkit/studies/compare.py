"""`rnnkit compare`: the lecture's RNN-vs-LSTM (and GRU) claims, measured on this machine.

The study trains one small model per (cell, task, lag, seed) with the same budget, and records
three things (report.py turns them into tables, plots and a verdict):

1. parameters: the weights of each cell at equal hidden size (an LSTM has 4 gates' worth,
   a GRU 3, a vanilla RNN 1);
2. memory over a distance: the score and loss each cell reaches on the adding problem and copy
   memory (memory_tasks.py) at each lag within a fixed number of optimiser steps, against the
   memoryless baseline, on several seeds;
3. gradient flow: ||d loss / d h_t|| against the distance from the end (gradient_flow.py) on the
   adding problem at the longest lag, at initialisation and after its training, for each seed.

A probe model is the recurrent layer plus a linear read-out at every step:
    h_1..h_T = Recurrent(x_1..x_T),   y_t = V h_t + b_y

Every cell gets the same optimiser, clipping, initialisation rule, hidden size, data and number
of steps, and its own learning rate, as the published studies tuned each model's. The defaults
come from pilot runs written up in docs/compare/SETTINGS.md: at learning rate 1e-2 the LSTM
solved the adding problem at lag 100 within 750 to 1250 steps on each of three seeds, so the
budget of 2000 steps leaves it room; the vanilla RNN learns lag 20 with 3e-3 (not with 1e-2) and
stayed at the baseline at lag 100 with each rate tried.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.devices import cpu_model
from rnnkit.errors import RnnkitError
from rnnkit.layers import build_recurrent
from rnnkit.studies.gradient_flow import state_gradient_norms
from rnnkit.studies.memory_tasks import AddingProblem, CopyMemory, MemoryTask

CELLS = ("rnn", "lstm", "gru")
STOP_SIGNALS = [signal.SIGTERM] + [signal.SIGHUP] * hasattr(signal, "SIGHUP")
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
TASKS = ("adding", "copy")


@dataclass(frozen=True)
class CompareConfig:
    """What the study runs; the defaults need about 8 CPU-minutes (docs/compare's run: 4 min on
    an idle 2-core Intel Xeon with two jobs; up to 3 times that on a busy or slower machine)."""

    cells: tuple[str, ...] = CELLS  # rnnkit cell names (build_recurrent's `cell`)
    lags: tuple[int, ...] = (20, 50, 100)  # memory distances, each >= 2
    hidden_size: int = 64  # H, the same for every cell
    steps: int = 2000  # the budget: Adam steps per (cell, task, lag, seed)
    batch_size: int = 32  # fresh synthetic sequences per step
    # Each cell's Adam learning rate, from pilot runs (docs/compare/SETTINGS.md), as the
    # published studies tuned each model's: the vanilla RNN learns the adding problem at lag 20
    # with 0.003 and not with 0.01, the LSTM leaves the plateau at lag 100 within the budget with
    # 0.01 and not always with 0.003; the GRU takes the LSTM's (not piloted on its own).
    learning_rates: tuple[tuple[str, float], ...] = (
        ("rnn", 3e-3),
        ("rnn-relu", 3e-3),
        ("lstm", 1e-2),
        ("gru", 1e-2),
        ("gru-after", 1e-2),
    )
    init: str = "rnn"  # build_recurrent's init: orthogonal U, forget-gate bias 1 (rnnkit.cells)
    clip_norm: float = 1.0  # gradient clipping, so a vanilla RNN's exploding steps stay finite
    eval_size: int = 512  # held-out sequences for each score
    gradient_batch: int = 32  # sequences for the gradient-flow measurement
    copy_symbols: int = 3  # S of copy memory
    copy_alphabet: int = 4  # K of copy memory
    seeds: tuple[int, ...] = (0, 1, 2)  # each seed: its own initial weights and data

    @classmethod
    def quick(cls, seeds: tuple[int, ...] = (0, 1)) -> CompareConfig:
        """A CI-sized run: seconds, too short to show anything but that everything works."""
        return cls(
            lags=(5, 10),
            hidden_size=8,
            steps=5,
            batch_size=8,
            eval_size=16,
            gradient_batch=4,
            copy_symbols=2,
            copy_alphabet=3,
            seeds=seeds,
        )

    def learning_rate(self, cell: str) -> float:
        rates = dict(self.learning_rates)
        if cell not in rates:
            raise RnnkitError(f"compare has no learning rate for the cell {cell!r}; add it")
        return rates[cell]

    def task(self, name: str) -> MemoryTask:
        if name == "adding":
            return AddingProblem()
        return CopyMemory(self.copy_symbols, self.copy_alphabet)


@dataclass
class MemoryResult:
    task: str
    lag: int
    cell: str
    seed: int
    metric: str  # what the score is: "R^2" for adding, "accuracy" for copy
    score: float  # higher is better
    loss: float  # the task's mean loss on held-out sequences
    chance: float  # the score of a model that learned nothing
    baseline: float  # the loss of the best memoryless strategy (memory_tasks.py)
    seconds: float  # how long its training took (noisy: other work on the machine slows it)


@dataclass
class GradientResult:
    cell: str
    seed: int
    stage: str  # "init" or "trained"
    norms: list[float]  # entry k: mean ||d loss / d h_{T-k}||


@dataclass
class CompareResults:
    config: CompareConfig
    parameters: dict[str, int] = field(default_factory=dict)  # cell -> trainable weights
    memory: list[MemoryResult] = field(default_factory=list)
    gradients: list[GradientResult] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)  # where it ran, and how long


@dataclass(frozen=True)
class Piece:
    """One model of the study: trained and scored on its own, so pieces can run in parallel."""

    cell: str
    task: str
    lag: int
    seed: int
    track_gradients: bool  # measure its gradient flow before and after training


Outcome = tuple[MemoryResult, list[GradientResult]]  # what one piece gives


class Probe(nn.Module):
    """A recurrent layer with a linear read-out at every step: x (B, T, D) -> y (B, T, O)."""

    def __init__(
        self, cell: str, input_size: int, hidden_size: int, output_size: int, init: str
    ) -> None:
        super().__init__()
        self.recurrent = build_recurrent(cell, input_size, hidden_size, init=init)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        states, _ = self.recurrent(x)  # (B, T, H)
        return self.head(states)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def parameter_counts(cells: tuple[str, ...], input_size: int, hidden_size: int) -> dict[str, int]:
    """Weights of each cell's recurrent layer alone (no read-out) at one input and hidden size."""
    return {
        cell: count_parameters(build_recurrent(cell, input_size, hidden_size)) for cell in cells
    }


def pieces(config: CompareConfig) -> list[Piece]:
    """Every model of the study, in the order of the tables: task, lag, cell, seed."""
    check(config)
    longest = max(config.lags)
    return [
        Piece(cell, task, lag, seed, track_gradients=task == "adding" and lag == longest)
        for task in TASKS
        for lag in config.lags
        for cell in config.cells
        for seed in config.seeds
    ]


def check(config: CompareConfig) -> None:
    if min(config.lags) < 2:
        raise ValueError(f"every lag must be at least 2, got {config.lags}")
    if not config.seeds:
        raise ValueError("the study needs at least one seed")


def run_compare(
    config: CompareConfig,
    log: Callable[[str], None] = print,
    jobs: int = 1,
    done: dict[Piece, Outcome] | None = None,
    keep: Callable[[Piece, Outcome], None] | None = None,
) -> CompareResults:
    """Run the whole study, `jobs` pieces at a time; `log` receives one line per finished piece.

    `done`: pieces an earlier run finished (saved_pieces.py), not trained again; `keep(piece,
    outcome)` is called as each piece finishes. With jobs > 1 each piece runs in a fresh worker
    process with one torch thread: the pieces are small, so one thread per core beats several
    threads fighting over the same cores.
    """
    for cell in config.cells:
        config.learning_rate(cell)  # each cell has one, before any piece runs
    every = pieces(config)
    done = {piece: outcome for piece, outcome in (done or {}).items() if piece in every}
    earlier = len(done)
    todo = [piece for piece in every if piece not in done]
    jobs = max(1, min(jobs, len(todo)))  # more workers than pieces would only wait
    start, load = time.monotonic(), _load()
    results = CompareResults(config)
    results.parameters = parameter_counts(
        config.cells, config.task("adding").input_size, config.hidden_size
    )
    with closing(_run_pieces(todo, config, jobs)) as finished:  # (its workers stop with it)
        for piece, outcome in finished:
            done[piece] = outcome
            if keep:
                keep(piece, outcome)
            memory = outcome[0]
            log(
                f"{piece.cell:>5} {piece.task:>7} lag {piece.lag:>4} seed {piece.seed}: "
                f"{memory.metric} {memory.score:.3f}, loss {memory.loss:.4g} (baseline "
                f"{memory.baseline:.4g}), {memory.seconds:.0f} s  [{len(done)}/{len(every)}]"
            )
    for piece in every:
        memory, gradients = done[piece]
        results.memory.append(memory)
        results.gradients += gradients
    minutes, seconds = divmod(round(time.monotonic() - start), 60)
    results.machine = {
        "wall time": f"{minutes} min {seconds} s"
        + (f" (and {earlier} pieces from an earlier run)" if earlier else ""),
        "jobs": f"{jobs} ({'one torch thread each' if jobs > 1 else 'this process'})",
        "CPU": f"{cpu_model()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        # Other work on the machine slows the run; the numbers themselves do not depend on it.
        "load average at start, at end": f"{load}, {_load()}",
    }
    return results


def _load() -> str:
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


def _run_pieces(todo: list[Piece], config: CompareConfig, jobs: int):
    """(piece, its results) as each finishes: in this process, or in `jobs` workers."""
    with _stopped_as_by_ctrl_c():
        if jobs == 1:
            for piece in todo:
                yield piece, study_one(piece, config)
        else:
            yield from _in_workers(todo, config, jobs)


def _in_workers(todo: list[Piece], config: CompareConfig, jobs: int):
    # Longest pieces first, so that no worker is left with a long one at the end.
    ordered = sorted(todo, key=lambda p: p.lag * (2 if p.cell.startswith("gru") else 1))[::-1]
    # A fresh interpreter per worker: forking a process whose torch thread pools have run can
    # leave the child waiting on a lock no thread will release.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(jobs, context, _start_worker, (os.getpid(),))
    try:
        futures = {pool.submit(study_one, piece, config): piece for piece in ordered}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BrokenProcessPool:  # (a worker killed: out of memory, or by hand)
        raise RnnkitError(
            "a worker process of the study died (out of memory, or killed); the finished "
            "models are kept: the same command with --resume goes on"
        ) from None
    finally:  # finished, Ctrl-C or an error: the workers end at once, mid-piece
        workers = list((getattr(pool, "_processes", None) or {}).values())  # (shutdown clears it)
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()


@contextmanager
def _stopped_as_by_ctrl_c() -> Iterator[None]:
    """`kill`, `timeout` or a closed terminal (SIGTERM, SIGHUP) stop the study as Ctrl-C does:
    the workers end with it, the finished pieces stay (else the workers ran on, orphaned)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # (signals reach the main thread only)
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start_worker(main: int) -> None:
    """One torch thread; Ctrl-C is the main process's to handle (it ends the workers), and the
    worker ends with the main process `main` even when that is killed outright (Linux)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != main:  # it died while this worker started: no signal will come
            os._exit(1)
    torch.set_num_threads(1)


def study_one(piece: Piece, config: CompareConfig) -> Outcome:
    """Train and score one probe; measure its gradient flow before and after if asked."""
    task = config.task(piece.task)
    torch.manual_seed(piece.seed)  # the same initial weights for every task and lag
    probe = Probe(piece.cell, task.input_size, config.hidden_size, task.output_size, config.init)
    gradients = []
    if piece.track_gradients:
        norms = gradient_norms(probe, task, piece.lag, piece.seed, config)
        gradients.append(GradientResult(piece.cell, piece.seed, "init", norms))
    start = time.perf_counter()
    train = _generator(piece.seed, "train", task.name, piece.lag)
    fit(probe, task, piece.lag, config.learning_rate(piece.cell), config, train)
    seconds = time.perf_counter() - start
    if piece.track_gradients:
        norms = gradient_norms(probe, task, piece.lag, piece.seed, config)
        gradients.append(GradientResult(piece.cell, piece.seed, "trained", norms))
    score, loss = evaluate(probe, task, piece.lag, piece.seed, config)
    memory = MemoryResult(
        task=task.name,
        lag=piece.lag,
        cell=piece.cell,
        seed=piece.seed,
        metric=task.score_name,
        score=score,
        loss=loss,
        chance=task.chance,
        baseline=task.baseline,
        seconds=seconds,
    )
    return memory, gradients


def fit(
    probe: Probe,
    task: MemoryTask,
    lag: int,
    learning_rate: float,
    config: CompareConfig,
    generator: torch.Generator,
) -> None:
    """The study's fixed budget: `config.steps` Adam steps, each on a fresh synthetic batch."""
    optimiser = torch.optim.Adam(probe.parameters(), lr=learning_rate)
    probe.train()
    for _ in range(config.steps):
        x, target = task.batch(lag, config.batch_size, generator)
        loss = task.losses(probe(x), target).mean()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(probe.parameters(), config.clip_norm)
        optimiser.step()


@torch.no_grad()
def evaluate(
    probe: Probe, task: MemoryTask, lag: int, seed: int, config: CompareConfig
) -> tuple[float, float]:
    """(score, loss) on `config.eval_size` held-out sequences, the same ones for every cell."""
    probe.eval()
    x, target = task.batch(lag, config.eval_size, _generator(seed, "eval", task.name, lag))
    outputs = probe(x)
    return task.score(outputs, target), float(task.losses(outputs, target).mean())


def gradient_norms(
    probe: Probe, task: MemoryTask, lag: int, seed: int, config: CompareConfig
) -> list[float]:
    """||d loss / d h_t|| by distance from the end, on a fixed batch of the task."""
    generator = _generator(seed, "gradient", task.name, lag)
    x, target = task.batch(lag, config.gradient_batch, generator)
    norms = state_gradient_norms(
        probe.recurrent, x, lambda states: task.losses(probe.head(states), target)
    )
    return norms.tolist()


def _generator(seed: int, purpose: str, task: str, lag: int) -> torch.Generator:
    """A data stream per (seed, purpose, task, lag), shared by every cell so they see the same
    data."""
    purposes = ("train", "eval", "gradient")
    stream = (purposes.index(purpose) * len(TASKS) + TASKS.index(task)) * 100_003 + lag
    return torch.Generator().manual_seed(seed * 1_000_003 + stream)
