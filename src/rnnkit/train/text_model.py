"""TextModel: the text language model from Python, in four calls.

    from rnnkit.train.text_model import TextModel

    lm = TextModel(level="char", cell="lstm", hidden_size=256, num_layers=2)
    lm.fit("shakespeare.txt", out="runs/shakespeare", time="5m")   # or steps=..., epochs=...
    print(lm.generate("ROMEO:", length=300, temperature=0.8, seed=1))
    print(lm.evaluate("more.txt"))                                  # {"loss": ..., "bpc": ...}
    lm = TextModel.load("runs/shakespeare")                         # later, or on another machine

    lm = TextModel.from_recipe("10m")    # the settings `rnnkit train text --time 10m` uses
    lm.fit("shakespeare.txt", time="10m")

It is a thin layer over what the commands use (rnnkit.train.text, loop, sampler): a run trained
here can be sampled with `rnnkit sample`, and the other way round.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.language import LanguageModelConfig
from rnnkit.train import checkpoint
from rnnkit.train.config import TrainConfig, parse_duration
from rnnkit.train.loop import FitResult, fit, seed_everything
from rnnkit.train.recipes import recipe_for
from rnnkit.train.registry import load_run
from rnnkit.train.text import (
    BUILTIN,
    PYTHON_TEXT,
    TextDataConfig,
    TextTask,
    build_task,
    evaluate_file,
)


class TextModel:
    """A character- or word-level language model: fit, generate, evaluate, save, load.

    Keyword arguments are the fields of TextDataConfig (level, batch_size, seq_len, lowercase,
    max_vocab, tokenizer, split, ...) and of LanguageModelConfig (cell, hidden_size, num_layers,
    embedding_size, dropout, tie_weights, backend).
    """

    def __init__(self, **settings: Any) -> None:
        data_names = {f.name for f in fields(TextDataConfig)}
        model_names = {f.name for f in fields(LanguageModelConfig)} - {"vocab_size"}
        unknown = set(settings) - data_names - model_names
        if unknown:
            raise RnnkitError(f"TextModel has no setting {', '.join(sorted(unknown))}")
        self.data = TextDataConfig(**{k: v for k, v in settings.items() if k in data_names})
        self.model_config = LanguageModelConfig(
            **{k: v for k, v in settings.items() if k in model_names}
        )
        self.task: TextTask | None = None
        self.run: Path | None = None
        self.train_settings: dict[str, Any] = {}  # fit's defaults (from a recipe)

    @classmethod
    def from_recipe(cls, time: str | float, level: str = "char", **settings: Any) -> TextModel:
        """A model with the settings of the recipe for the budget `time` (rnnkit.train.recipes),
        `settings` overriding them; fit() then also takes the recipe's learning rate and schedule.
        """
        seconds = parse_duration(time) if isinstance(time, str) else float(time)
        recipe = recipe_for(level, seconds)
        model = cls(**{**recipe.data, **recipe.model, "level": level, **settings})
        model.train_settings = dict(recipe.train)
        return model

    def fit(
        self,
        source: str | Path | None = None,
        *,
        text: str | None = None,
        out: str | Path | None = None,
        time: str | float | None = None,
        progress: bool = True,
        **train: Any,
    ) -> FitResult:
        """Train on a file or folder (`source`), on a string (`text=`), or on the built-in corpus.

        `time` is seconds or a duration such as "10m"; other keywords are TrainConfig's fields
        (steps, epochs, lr, schedule, eval_every, patience, seed, device, ...). The run folder
        `out` (default runs/text-DATE-TIME) gets everything `rnnkit train` writes.
        """
        if isinstance(time, str):
            time = parse_duration(time)
        config = TrainConfig(time=time, **{**self.train_settings, **train}).check()
        self.data.source = PYTHON_TEXT if text is not None else str(source or BUILTIN)
        seed_everything(config.seed)
        self.task = build_task(self.data, self.model_config, text)
        self.run = Path(out or checkpoint.default_run_folder("text"))
        result = fit(self.task, config, self.run, show_progress=progress)
        checkpoint.load_weights(self.task.model, self.run / checkpoint.BEST_MODEL)
        return result

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
        task = self._trained()
        sampler = Sampler(SamplerConfig(temperature, top_k, top_p, seed))
        start = task.default_prime() if prime is None else prime
        return (prime or "") + "".join(task.generate(start, length, sampler))

    def evaluate(self, path: str | Path) -> dict[str, float]:
        """Loss, and bits per character or perplexity, on the text in `path`."""
        return evaluate_file(self._trained(), str(path))

    def save(self, folder: str | Path) -> Path:
        """Write config.json, vocab.json and model.safetensors: enough to load, sample, evaluate."""
        task = self._trained()
        folder = checkpoint.create_run_folder(Path(folder))
        checkpoint.write_config(folder, task.name, task.config(), {})
        task.save_artifacts(folder)
        checkpoint.save_weights(folder / checkpoint.BEST_MODEL, task.model)
        return folder

    @classmethod
    def load(cls, run: str | Path) -> TextModel:
        """The best weights of a run folder (from fit, save or `rnnkit train text`)."""
        _module, task, _config = load_run(run)
        if not isinstance(task, TextTask):
            raise RnnkitError(f"{run} holds a {task.name} model, not a text model")
        model = cls()
        model.data, model.model_config = task.data, task.model.config
        model.task, model.run = task, Path(run)
        return model

    def _trained(self) -> TextTask:
        if self.task is None:
            raise RnnkitError("this TextModel is not trained yet; call fit() or TextModel.load()")
        self.task.model.eval()
        return self.task
