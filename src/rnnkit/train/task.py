"""The task kit: what every task (text, music, melody, classify, ...) provides, and what the kit
does with it. A task is one module in rnnkit/tasks/ with one Task subclass, plus one line in
rnnkit/tasks/registry.py; `rnnkit train NAME`, `--resume`, the commands and the Python classes
then work for it (docs/CONTRIBUTING.md walks through adding one).

A task class declares:
    name, item_name          its registry key (saved in config.json) and what its items are
    DataConfig               a settings dataclass (rnnkit.values.setting fields) with `source`
                             and `fingerprint`: which data, how it is batched
    ModelConfig              a RecurrentConfig subclass: everything that rebuilds the model
    recipe(args)             its defaults (a Recipe), chosen from the flags given; `--help` shows
                             the default recipe's values

and implements the lifecycle of its data and model:
    check(data, settings)            optional: refuse settings that cannot go together, before
                                     any data is read (and in a run folder's config.json)
    read(data) -> dataset            the source, read and checked
    fingerprint(dataset) -> str      a hash of it: a resumed run refuses a changed source
    create(data, settings, dataset)  a new task: fit what the model depends on (a vocabulary,
                                     labels) and build the model
    restore(run, data, settings)     the same from a run folder's artifacts (untrained weights)
    attach(dataset)                  the training batches (a BatchSource) and the valid data
    save_artifacts(folder)           the files `restore` reads (vocab.json, labels.json, ...)
    plan(data, settings, train, dataset, run, given)
                                     optional, before `create`: settings a new run chooses
                                     from its data, among those the user did not give
                                     (classify's resampling trial, trained in RUN/trial/;
                                     text's recurrent dropout for a small text); returns the
                                     budget left for the run (prepare() runs plan, then new)

and what the training loop (loop.py) calls:
    train_loss(batch, carry)   the mean loss of a batch, and the carry for the next batch
    batch_items(batch)         how many items that mean is over (rows by default)
    evaluate()                 valid metrics under no_grad; "loss" (lower is better) picks the best
    describe(), sample()       a line of sanity numbers at start; what to show at each evaluation
    on_best(folder)            the best model changed: write its extra files, return a report
    score(source)              `rnnkit evaluate`: metrics on a file, or on a split of the run's data

The "carry" is whatever a task passes from one batch to the next: the recurrent state for
truncated BPTT over contiguous streams, or None; it is saved in checkpoints. Data-parallel
training (distributed.py) needs nothing more: every rank walks the same BatchSource, keeps its
rows of each batch, and weighs its mean loss by `batch_items`.

What else a task can do is a capability, a protocol below that the commands check for
(`rnnkit sample` needs SamplesText, `generate` GeneratesMusic, `predict` Predicts), never a name.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from rnnkit.devices import resolve_device
from rnnkit.errors import RnnkitError
from rnnkit.train import distributed
from rnnkit.train.config import (
    BUDGET,
    Recipe,
    TrainConfig,
    add_config_arguments,
    config_from_args,
)
from rnnkit.values import check_settings, config_from_json

if TYPE_CHECKING:
    from rnnkit.data.music import Piece
    from rnnkit.generate.sampler import Sampler

Carry = torch.Tensor | tuple[torch.Tensor, ...] | None


class BatchSource(Protocol):
    """An endless stream of training batches with an exact, saveable position."""

    def next_batch(self) -> Any:
        """The batch at the current position; then advance (wrapping into the next epoch)."""

    @property
    def epochs_done(self) -> float:
        """Epochs completed, with the fraction of the current one (e.g. 2.25)."""

    def state_dict(self) -> dict[str, int]: ...

    def load_state_dict(self, state: dict[str, int]) -> None: ...


class Task(ABC):
    """One kind of training job; see the module docstring for the contract."""

    name: ClassVar[str]
    summary: ClassVar[str]  # what `rnnkit train NAME` trains, for --help
    item_name: ClassVar[str] = "items"
    DataConfig: ClassVar[type]
    ModelConfig: ClassVar[type]

    def __init__(self, data: Any, model: nn.Module) -> None:
        self.data = data
        self.model = model
        self.train_data: BatchSource | None = None
        self.device = torch.device("cpu")

    # ---- defaults and flags ------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def recipe(cls, args: argparse.Namespace | None) -> Recipe:
        """The defaults for the flags given (None: the defaults `--help` shows)."""

    defaults_note: ClassVar[str] = ""  # the end of `--help`: where the defaults come from

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The task's flags: its data and model settings and the training settings, each help
        ending in the default this task really uses."""
        recipe = cls.recipe(None)
        add_config_arguments(parser, cls.DataConfig, recipe.data)
        add_config_arguments(parser, cls.ModelConfig, recipe.model)
        add_config_arguments(
            parser, TrainConfig, recipe.train_defaults(budget_given=False), recipe.caps()
        )
        parser.epilog = cls.defaults_note or None

    @classmethod
    def from_args(cls, args: argparse.Namespace, run: Path) -> tuple[Task, TrainConfig]:
        """A new task and its training settings: the flags given, the recipe elsewhere (`run`:
        the run folder, where `plan` may train before the run)."""
        recipe = cls.recipe(args)
        budget_given = any(getattr(args, name, None) is not None for name in BUDGET)
        train = config_from_args(TrainConfig, args, recipe.train_defaults(budget_given)).check()
        if args.warmup is not None and args.steps is not None and args.warmup > args.steps:
            raise RnnkitError(
                f"--warmup {args.warmup} must be at most --steps {args.steps}: the learning "
                "rate would never reach its peak"
            )
        data = config_from_args(cls.DataConfig, args, {**recipe.data, "seed": train.seed})
        settings = config_from_args(cls.ModelConfig, args, recipe.model)
        if recipe.note and distributed.current().is_main:
            print(f"settings: {recipe.describe()}; flags given override it")
        given = {f.name for f in fields(cls.ModelConfig) if getattr(args, f.name, None) is not None}
        return cls.prepare(data, settings, train, run, given=given)

    # ---- lifecycle: a new run, or one from its folder ----------------------------------------

    @classmethod
    def new(cls, data: Any, settings: Any, dataset: Any = None) -> Task:
        """A new task on the data `data` describes (or on `dataset`, already read), its model
        built from `settings`."""
        cls.check(check_settings(data), check_settings(settings))
        dataset = cls.read(data) if dataset is None else dataset
        data.fingerprint = cls.fingerprint(dataset)
        return cls.from_dataset(data, settings, dataset)

    @classmethod
    def from_dataset(cls, data: Any, settings: Any, dataset: Any) -> Task:
        """`create`, then `attach`, on a dataset already read, whose fingerprint `data` holds."""
        task = cls.create(data, settings, dataset)
        task.attach(dataset)
        return task

    @classmethod
    def prepare(
        cls,
        data: Any,
        settings: Any,
        train: TrainConfig,
        run: Path,
        dataset: Any = None,
        given: Collection[str] | None = None,
    ) -> tuple[Task, TrainConfig]:
        """A new run's task and the budget it trains with: `plan`, then what `new` does. If
        `plan` trained in the run folder `run`, it holds config.json: start the run with
        fit(restart=True). `given`: the model settings the user chose (None: all of them, so
        that `plan` changes none)."""
        cls.check(check_settings(data), check_settings(settings))
        resolve_device(train.device)  # before `plan` writes into the run folder
        dataset = cls.read(data) if dataset is None else dataset
        data.fingerprint = cls.fingerprint(dataset)
        all_given = {f.name for f in fields(settings)} if given is None else set(given)
        train = cls.plan(data, settings, train, dataset, run, all_given)
        return cls.from_dataset(data, settings, dataset), train

    @classmethod  # noqa: B027 (an optional hook, default no-op)
    def check(cls, data: Any, settings: Any) -> None:
        """Refuse data and model settings that cannot go together (one RnnkitError), before
        any data is read. Default: every combination goes."""

    @classmethod
    def plan(
        cls,
        data: Any,
        settings: Any,
        train: TrainConfig,
        dataset: Any,
        run: Path,
        given: Collection[str],
    ) -> TrainConfig:
        """Settings a new run chooses from its data before it starts (classify: how to read
        series of different lengths, tried both ways; text: recurrent dropout for a text the
        budget goes through many times), among the model settings not `given` by the user: set
        them in `data` or `settings` (config.json saves them, so a resumed run does not choose
        again) and return the budget left for the run. Training here goes in `run`/trial/
        (resumable: `again` plans again and finds it), after writing the run's config.json with
        the settings as given. Default: nothing to choose, the whole budget."""
        return train

    @classmethod
    def from_run(cls, run: Path, config: dict[str, Any], with_data: bool = False) -> Task:
        """The task saved in `run` (untrained weights); with_data also reads the data again, to
        resume, refusing a source that changed since the run started."""
        where = Path(run) / "config.json"
        data, settings = cls.settings_of(run, config)
        try:
            cls.check(check_settings(data), check_settings(settings))
        except RnnkitError as error:
            raise RnnkitError(f"{where} has settings rnnkit cannot build: {error}") from None
        try:
            task = cls.restore(Path(run), data, settings)
        except RnnkitError:
            raise  # restore's own errors name their file (vocab.json, ...) and the fix
        except (ValueError, TypeError, RuntimeError, MemoryError) as error:
            raise RnnkitError(
                f"{where} has settings rnnkit cannot build ({error}); retrain"
            ) from None
        if with_data:
            if Path(data.source).is_absolute() and not Path(data.source).exists():
                raise RnnkitError(
                    f"{data.source}, the data this run trained on, is not there; if it moved, "
                    f"resume with `rnnkit train --resume {run} --data NEW_PATH`"
                )
            dataset = task.read_again()
            if cls.fingerprint(dataset) != data.fingerprint:
                raise RnnkitError(
                    f"{data.source} is not the data this run started with (its content changed); "
                    "restore it, give the original with --data, or start a new run"
                )
            task.attach(dataset)
        return task

    @classmethod
    def again(
        cls, run: Path, config: dict[str, Any], train: TrainConfig
    ) -> tuple[Task, TrainConfig]:
        """A new task with the settings of a run stopped before its first checkpoint, on the same
        data (its fingerprint checked), and its budget: built exactly as the run first built it
        (a `plan` stopped midway goes on from its own checkpoints in the run folder)."""
        data, settings = cls.settings_of(run, config)
        dataset = cls.read(check_settings(data))
        if cls.fingerprint(dataset) != data.fingerprint:
            raise RnnkitError(
                f"{data.source} is not the data this run started with (its content changed); "
                "restore it, give the original with --data, or start a new run"
            )
        return cls.prepare(data, settings, train, run, dataset)

    @classmethod
    def settings_of(cls, run: Path, config: dict[str, Any]) -> tuple[Any, Any]:
        """The data and model settings saved in a run's config.json, checked."""
        where = Path(run) / "config.json"
        task_config = config["task_config"]
        data = config_from_json(cls.DataConfig, task_config.get("data"), f"{where} data")
        settings = config_from_json(cls.ModelConfig, task_config.get("model"), f"{where} model")
        return data, settings

    @classmethod
    @abstractmethod
    def read(cls, data: Any) -> Any:
        """The data of `data.source`, read and checked."""

    def read_again(self) -> Any:
        """The data of a restored task, to resume (default: `read` its settings again)."""
        return self.read(self.data)

    @classmethod
    @abstractmethod
    def fingerprint(cls, dataset: Any) -> str:
        """A hash of what the model trains on."""

    @classmethod
    @abstractmethod
    def create(cls, data: Any, settings: Any, dataset: Any) -> Task:
        """A new task: fit what the model depends on from `dataset`, build the model."""

    @classmethod
    @abstractmethod
    def restore(cls, run: Path, data: Any, settings: Any) -> Task:
        """The task of a run folder from its artifacts, the model untrained."""

    @abstractmethod
    def attach(self, dataset: Any) -> None:
        """Set `train_data` (a BatchSource) and the validation data from `dataset`."""

    def save_artifacts(self, folder: Path) -> None:  # noqa: B027 (optional hook, default no-op)
        """Write the files `restore` reads besides weights and config (default: none)."""

    def config(self) -> dict[str, Any]:
        """JSON-ready settings that rebuild this task and its model (config.json's task_config)."""
        return task_config(self.data, self.model.config)

    # ---- what the loop calls ------------------------------------------------------------------

    @abstractmethod
    def train_loss(self, batch: Any, carry: Carry) -> tuple[torch.Tensor, Carry]:
        """The mean loss of `batch` (with a graph for backward) and the carry for the next batch
        (detached: truncated BPTT stops at batch boundaries)."""

    def batch_items(self, batch: Any) -> int:
        """How many items the mean loss of `batch` averages over (default: its rows)."""
        return distributed.batch_rows(batch)

    @abstractmethod
    def evaluate(self, final: bool = False) -> dict[str, float]:
        """Metrics on the validation data; must include "loss". Runs under no_grad, in eval mode.
        `final` is the evaluation at the end of training (a task may measure less before it)."""

    def describe(self) -> str:
        """A line of sanity numbers printed at start (data sizes, expected initial loss), or ""."""
        return ""

    def sample(self) -> str | None:
        """Something to show at each evaluation (runs under no_grad, in eval mode), or None."""
        return None

    def on_best(self, folder: Path) -> str | None:
        """The last evaluation found the best model so far (its weights are saved): write any
        extra files describing it into `folder`, and return a report to show, or None."""
        return None

    @abstractmethod
    def score(self, source: str | None) -> dict[str, float]:
        """Metrics of the model on the data in `source`, or on a split of the run's own data
        (None: its test split)."""

    def to(self, device: torch.device) -> None:
        """Move the model (and anything else that lives on a device) to `device`."""
        self.device = device
        self.model.to(device)


def task_config(data: Any, settings: Any) -> dict[str, Any]:
    """config.json's task_config: a task's data and model settings, JSON-ready."""
    return {"data": asdict(data), "model": asdict(settings)}


# ---- capabilities: what else a task can do, and the command that does it --------------------


@runtime_checkable
class SamplesText(Protocol):
    """`rnnkit sample RUN`: text, streamed piece by piece."""

    def sample_text(self, prime: str | None, length: int, sampler: Sampler) -> Iterator[str]: ...


@runtime_checkable
class GeneratesMusic(Protocol):
    """`rnnkit generate RUN --out song.mid`, and `rnnkit evaluate RUN --generated DIR`."""

    def generate(self, steps: int, sampler: Sampler, prime: Piece | None = None) -> Piece: ...

    def primer(self, pitches: Sequence[int]) -> Piece: ...

    def compare_generated(self, source: str) -> dict[str, float]: ...


@runtime_checkable
class Predicts(Protocol):
    """`rnnkit predict RUN DATA --out FILE.csv`."""

    def predict(self, source: str) -> Any: ...


CAPABILITIES: dict[type, str] = {
    SamplesText: "sample",
    GeneratesMusic: "generate",
    Predicts: "predict",
}


def require(task: Task, capability: type, run: str | Path) -> None:
    """Refuse, in one line naming what the run can do instead, a command the task cannot do."""
    if isinstance(task, capability):
        return
    able = [command for kind, command in CAPABILITIES.items() if isinstance(task, kind)]
    instead = "; it can " + ", ".join(f"`rnnkit {c} RUN`" for c in [*able, "evaluate"])
    raise RnnkitError(
        f"{run} is a {task.name} run, which cannot `rnnkit {CAPABILITIES[capability]}`{instead}"
    )
