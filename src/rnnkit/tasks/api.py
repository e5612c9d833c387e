"""The Python classes: each task's model trained, used, saved and loaded in a few calls.

    lm = rnnkit.TextModel.from_recipe("10m")        # what `rnnkit train text --time 10m` trains
    lm.fit("book.txt", out="runs/book", time="10m")
    print(lm.generate("Once upon a time", length=300, temperature=0.8, seed=1))

    music = rnnkit.MusicModel(cell="lstm")           # `rnnkit train music`'s settings, but LSTM
    music.fit("bach", time="5m")
    music.generate(bars=8, seed=1, out="song.mid")   # a Piece, also written as MIDI

    classifier = rnnkit.SeriesClassifier()
    classifier.fit("aeon:GunPoint", time="60s")      # its train part (pip install 'rnnkit[series]')
    classifier.evaluate()["accuracy"]                # its test part
    classifier.predict("new.csv").labels             # one label per sequence (.probabilities:
                                                     # (N, K) p(class), columns .classes)

    lm = rnnkit.TextModel.load("runs/book")          # any run folder, from Python or the CLI

Keyword settings are the fields of the task's data and model configs (`rnnkit train TASK --help`
lists them as flags); the task's recipe fills in the rest, as on the command line. Each class is a
thin layer over what the commands run (rnnkit.tasks, rnnkit.train.loop, rnnkit.generate), so a
run trained here works with `rnnkit sample`, `generate`, `evaluate`, `predict`, and back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar

from rnnkit.errors import RnnkitError
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.cache import LAMBDA, THETA, CacheSettings
from rnnkit.tasks.classify import ClassifyTask, Predictions
from rnnkit.tasks.melody import MelodyTask
from rnnkit.tasks.music import MusicTask
from rnnkit.tasks.registry import load_run
from rnnkit.tasks.text import TextTask
from rnnkit.tasks.text_data import PYTHON_TEXT, TextSource
from rnnkit.train import checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.loop import FitResult, fit, seed_everything
from rnnkit.train.task import Task
from rnnkit.values import POSITIVE_INT, check_settings, duration

if TYPE_CHECKING:
    from rnnkit.data.music import Piece

# Fields set from the data or by the run, never by a user.
DERIVED = {"source", "fingerprint", "trial", "seed", "vocab_size", "input_size", "num_classes"}


class TaskModel:
    """A task's model from Python: fit, evaluate, save, load (subclasses add generate, predict)."""

    task_class: ClassVar[type[Task]]

    def __init__(self, **settings: Any) -> None:
        """The settings of `rnnkit train TASK` (its default recipe; for the level given, where
        the task has levels), `settings` overriding them."""
        given = SimpleNamespace(**{**settings, "time": None})  # as flags: the recipe may read them
        self._configure(self.task_class.recipe(given), settings)

    @classmethod
    def from_recipe(cls, time: str | float, **settings: Any) -> TaskModel:
        """The settings of the recipe for a budget of `time` (seconds or e.g. "10m"),
        `settings` overriding them; fit() then also takes the recipe's training settings."""
        budget = SimpleNamespace(**{**settings, "time": duration(time)})
        model = cls.__new__(cls)
        model._configure(cls.task_class.recipe(budget), settings)
        return model

    def _configure(self, recipe, settings: dict[str, Any]) -> None:
        task = self.task_class
        data_names = {f.name for f in fields(task.DataConfig)} - DERIVED
        model_names = {f.name for f in fields(task.ModelConfig)} - DERIVED
        unknown = set(settings) - data_names - model_names
        if unknown:
            raise RnnkitError(
                f"{type(self).__name__} has no setting {', '.join(sorted(unknown))}; it takes "
                f"{', '.join(sorted(data_names | model_names))}"
            )
        pick = lambda names, base: {  # noqa: E731
            **{k: v for k, v in base.items() if k in names},
            **{k: v for k, v in settings.items() if k in names},
        }
        self.data = check_settings(task.DataConfig(**pick(data_names, recipe.data)))
        self.settings = check_settings(task.ModelConfig(**pick(model_names, recipe.model)))
        self.given = set(settings) & model_names  # the rest a run may choose from its data
        self.recipe = recipe
        self.task: Task | None = None
        self.run: Path | None = None

    def fit(
        self,
        source: str | Path | None = None,
        *,
        out: str | Path | None = None,
        time: str | float | None = None,
        progress: bool = True,
        dataset: Any = None,
        **train: Any,
    ) -> FitResult:
        """Train on `source` (default: the task's built-in data) into the run folder `out`
        (default runs/TASK-DATE-TIME). `time` is seconds or a duration such as "10m"; other
        keywords are TrainConfig's fields (steps, epochs, lr, schedule, eval_every, seed, ...)."""
        unknown = set(train) - {f.name for f in fields(TrainConfig)}
        if unknown:
            raise RnnkitError(f"fit() has no training setting {', '.join(sorted(unknown))}")
        budget = {"time": duration(time)} if time is not None else {}
        given = bool(budget) or any(train.get(k) is not None for k in ("steps", "epochs"))
        config = TrainConfig(**{**self.recipe.train_defaults(given), **train, **budget}).check()
        if source is not None:
            self.data.source = str(source)
        if hasattr(self.data, "seed"):
            self.data.seed = config.seed
        run = Path(out or checkpoint.default_run_folder(self.task_class.name))
        checkpoint.check_run_folder(run)
        seed_everything(config.seed)
        # Copies: what a run fits from its data (a vocabulary's size, a resampling trial's choice)
        # is the run's, not this object's settings for the next fit.
        data, settings = replace(self.data), replace(self.settings)
        self.task, config = self.task_class.prepare(
            data, settings, config, run, dataset, given=self.given
        )
        self.run = run
        planned = (run / checkpoint.CONFIG).is_file()  # `plan` trained there first
        result = fit(self.task, config, self.run, restart=planned, show_progress=progress)
        checkpoint.load_weights(self.task.model, self.run / checkpoint.BEST_MODEL)
        return result

    def evaluate(self, source: str | Path | None = None) -> dict[str, float]:
        """The metrics on the data in `source`, or on a split of the run's own data (None: its
        test split)."""
        return self._trained().score(None if source is None else str(source))

    def save(self, folder: str | Path) -> Path:
        """Write config.json, the task's artifacts and model.safetensors: enough to load."""
        task = self._trained()
        folder = checkpoint.create_run_folder(Path(folder))
        checkpoint.write_config(folder, task.name, task.config(), {})
        task.save_artifacts(folder)
        checkpoint.save_weights(folder / checkpoint.BEST_MODEL, task.model)
        return folder

    @classmethod
    def load(cls, run: str | Path, device: str = "auto") -> TaskModel:
        """The best weights of a run folder (from fit, save or `rnnkit train`) on `device`
        (cpu, cuda, cuda:1, ...; auto: a GPU if there is one)."""
        task = load_run(run, device)
        if not isinstance(task, cls.task_class):
            raise RnnkitError(f"{run} holds a {task.name} model, not a {cls.task_class.name} one")
        model = cls.__new__(cls)
        model._configure(cls.task_class.recipe(None), {})
        model.data, model.settings = task.data, task.model.config
        model.given = {f.name for f in fields(model.settings)}  # the run chose them all
        model.task, model.run = task, Path(run)
        return model

    def _trained(self) -> Task:
        if self.task is None:
            raise RnnkitError(
                f"this {type(self).__name__} is not trained yet; call fit() or "
                f"{type(self).__name__}.load()"
            )
        self.task.model.eval()
        return self.task


def sampler(temperature: float, seed: int | None, **options: Any) -> Sampler:
    return Sampler(SamplerConfig(temperature=temperature, seed=seed, **options))


class TextModel(TaskModel):
    """A character- or word-level language model (`rnnkit train text`)."""

    task_class = TextTask

    def fit(
        self, source: str | Path | None = None, *, text: str | None = None, **options: Any
    ) -> FitResult:
        """Train on a file or folder (`source`), on a string (`text=`), or on the built-in
        corpus; the other keywords are TaskModel.fit's."""
        if text is None:
            return super().fit(source, **options)
        self.data.source = PYTHON_TEXT
        return super().fit(None, dataset=TextSource(self.data, text=text), **options)

    def generate(
        self,
        prime: str | None = None,
        length: int = 300,
        temperature: float = 0.8,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> str:
        """`prime` (default: a line start) continued by `length` sampled tokens."""
        POSITIVE_INT.check("length", length)
        chosen = sampler(temperature, seed, top_k=top_k, top_p=top_p)
        return (prime or "") + "".join(self._trained().sample_text(prime, length, chosen))

    def evaluate(
        self,
        source: str | Path | None = None,
        cache: int = 0,
        theta: float = THETA,
        lam: float = LAMBDA,
    ) -> dict[str, float]:
        """TaskModel.evaluate; with `cache` = N > 0, of the model mixed with a continuous cache
        of the last N tokens, with its θ and λ (rnnkit/models/cache.py)."""
        if not cache:
            return super().evaluate(source)
        task = self._trained()
        return task.score(None if source is None else str(source), CacheSettings(cache, theta, lam))


class MusicModel(TaskModel):
    """A piano-roll model of all voices (`rnnkit train music`)."""

    task_class = MusicTask

    def generate(
        self,
        bars: int = 8,
        *,
        steps: int | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        prime: str | Path | None = None,
        prime_bars: int = 4,
        primer_pitches: str | Sequence[int] | None = None,
        out: str | Path | None = None,
        tempo: float = 100.0,
    ) -> Piece:
        """A piece of `bars` 4/4 bars (or `steps` grid steps) continuing the first `prime_bars`
        of the music file `prime`, or the MIDI note numbers `primer_pitches` (a chord for a
        MusicModel, the first notes for a MelodyModel), or fresh; with `out`, also written as
        MIDI there."""
        from rnnkit.data.music import read_music_file, write_midi
        from rnnkit.data.music.primer import parse_pitches
        from rnnkit.generate.music import bar_steps

        task = self._trained()
        bar, start = bar_steps(task.grid), None
        if prime is not None and primer_pitches is not None:
            raise RnnkitError("give prime (a music file) or primer_pitches, not both")
        if prime is not None:
            start = read_music_file(Path(prime), task.grid)[0].head(prime_bars * bar)
        elif isinstance(primer_pitches, str):
            start = task.primer(parse_pitches(primer_pitches))  # "60,64,67", as on the command line
        elif primer_pitches is not None:
            start = task.primer(primer_pitches)
        count = steps if steps is not None else bars * bar
        piece = task.generate(count, sampler(temperature, seed), start)
        if out is not None:
            write_midi(piece, out, tempo_bpm=tempo)
        return piece


class MelodyModel(MusicModel):
    """A language model of melodies as event tokens (`rnnkit train melody`)."""

    task_class = MelodyTask


class SeriesClassifier(TaskModel):
    """A time-series classifier (`rnnkit train classify`)."""

    task_class = ClassifyTask

    def predict(self, source: str | Path) -> Predictions:
        """The predicted label of every sequence in `source` (`.labels`, in order, with `.ids`),
        each class's probability (`.probabilities` (N, K), its columns in `.classes`' order), and
        the scores on those that have a label (`.scores`, None if none has)."""
        return self._trained().predict(str(source))
