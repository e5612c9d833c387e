"""`rnnkit compare`: the lecture's RNN-vs-LSTM (and GRU) claims, measured on this machine.

The study trains one small model per (cell, task, lag) with the same budget and seeds, and records
three things (report.py turns them into tables, plots and a verdict):

1. parameters: the weights of each cell at equal hidden size (an LSTM has 4 gates' worth,
   a GRU 3, a vanilla RNN 1);
2. memory over a distance: the score each cell reaches on the adding problem and copy memory
   (memory_tasks.py) at each lag, within a fixed number of optimisation steps;
3. gradient flow: ||d loss / d h_t|| against the distance from the end (gradient_flow.py) on the
   adding problem at the longest lag, at initialisation and after its training.

A probe model is the recurrent layer plus a linear read-out at every step:
    h_1..h_T = Recurrent(x_1..x_T),   y_t = V h_t + b_y
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnkit.layers import build_recurrent
from rnnkit.studies.gradient_flow import state_gradient_norms
from rnnkit.studies.memory_tasks import AddingProblem, CopyMemory, MemoryTask

CELLS = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class CompareConfig:
    """What the study runs; the defaults take a few minutes on 2 CPU cores."""

    cells: tuple[str, ...] = CELLS  # rnnkit cell names (build_recurrent's `cell`)
    lags: tuple[int, ...] = (10, 50, 100, 200)  # memory distances, each >= 2
    hidden_size: int = 32  # H, the same for every cell
    steps: int = 250  # Adam steps per (cell, task, lag): the fixed budget
    batch_size: int = 32  # fresh synthetic sequences per step
    learning_rate: float = 1e-2
    init: str = "rnn"  # build_recurrent's init: orthogonal U, forget-gate bias 1 (rnnkit.cells)
    clip_norm: float = 1.0  # gradient clipping, so a vanilla RNN's exploding steps stay finite
    eval_size: int = 256  # held-out sequences for each score
    gradient_batch: int = 32  # sequences for the gradient-flow measurement
    copy_symbols: int = 3  # S of copy memory
    copy_alphabet: int = 4  # K of copy memory
    seed: int = 0

    @classmethod
    def quick(cls, seed: int = 0) -> CompareConfig:
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
            seed=seed,
        )

    def tasks(self) -> tuple[MemoryTask, ...]:
        return (AddingProblem(), CopyMemory(self.copy_symbols, self.copy_alphabet))


@dataclass
class MemoryResult:
    task: str
    lag: int
    cell: str
    metric: str  # what the score is: "R^2" for adding, "accuracy" for copy
    score: float  # higher is better
    loss: float  # the task's mean loss on held-out sequences
    chance: float  # the score of a model that learned nothing


@dataclass
class GradientResult:
    cell: str
    stage: str  # "init" or "trained"
    norms: list[float]  # entry k: mean ||d loss / d h_{T-k}||


@dataclass
class CompareResults:
    config: CompareConfig
    parameters: dict[str, int] = field(default_factory=dict)  # cell -> trainable weights
    memory: list[MemoryResult] = field(default_factory=list)
    gradients: list[GradientResult] = field(default_factory=list)


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


def fit(
    probe: Probe, task: MemoryTask, lag: int, config: CompareConfig, generator: torch.Generator
) -> None:
    """The study's fixed budget: `config.steps` Adam steps, each on a fresh synthetic batch."""
    optimiser = torch.optim.Adam(probe.parameters(), lr=config.learning_rate)
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
    probe: Probe, task: MemoryTask, lag: int, config: CompareConfig
) -> tuple[float, float]:
    """(score, loss) on `config.eval_size` held-out sequences, the same ones for every cell."""
    probe.eval()
    x, target = task.batch(lag, config.eval_size, _generator(config.seed, "eval", task.name, lag))
    outputs = probe(x)
    return task.score(outputs, target), float(task.losses(outputs, target).mean())


def gradient_norms(probe: Probe, task: MemoryTask, lag: int, config: CompareConfig) -> list[float]:
    """||d loss / d h_t|| by distance from the end, on a fixed batch of the task."""
    generator = _generator(config.seed, "gradient", task.name, lag)
    x, target = task.batch(lag, config.gradient_batch, generator)
    norms = state_gradient_norms(
        probe.recurrent, x, lambda states: task.losses(probe.head(states), target)
    )
    return norms.tolist()


def run_compare(config: CompareConfig, log: Callable[[str], None] = print) -> CompareResults:
    """Run the whole study; `log` receives one line per finished piece."""
    if min(config.lags) < 2:
        raise ValueError(f"every lag must be at least 2, got {config.lags}")
    results = CompareResults(config)
    adding = config.tasks()[0]
    results.parameters = parameter_counts(config.cells, adding.input_size, config.hidden_size)
    for cell in config.cells:
        for task in config.tasks():
            for lag in config.lags:
                track = task.name == adding.name and lag == max(config.lags)
                memory, gradients = study_one(cell, task, lag, config, track_gradients=track)
                results.memory.append(memory)
                results.gradients += gradients
                log(f"{cell:>5} {task.name:>7} lag {lag:>4}: {memory.metric} {memory.score:.3f}")
    return results


def study_one(
    cell: str, task: MemoryTask, lag: int, config: CompareConfig, track_gradients: bool
) -> tuple[MemoryResult, list[GradientResult]]:
    """Train and score one probe; measure its gradient flow before and after if asked."""
    torch.manual_seed(config.seed)  # the same initial weights for every task and lag
    probe = Probe(cell, task.input_size, config.hidden_size, task.output_size, config.init)
    gradients = []
    if track_gradients:
        gradients.append(GradientResult(cell, "init", gradient_norms(probe, task, lag, config)))
    fit(probe, task, lag, config, _generator(config.seed, "train", task.name, lag))
    if track_gradients:
        gradients.append(GradientResult(cell, "trained", gradient_norms(probe, task, lag, config)))
    score, loss = evaluate(probe, task, lag, config)
    memory = MemoryResult(task.name, lag, cell, task.score_name, score, loss, task.chance)
    return memory, gradients


def _generator(seed: int, purpose: str, task: str, lag: int) -> torch.Generator:
    """A data stream per (purpose, task, lag), shared by every cell so they see the same data."""
    purposes = ("train", "eval", "gradient")
    tasks = ("adding", "copy")
    stream = (purposes.index(purpose) * len(tasks) + tasks.index(task)) * 100_003 + lag
    return torch.Generator().manual_seed(seed * 1_000_003 + stream)
