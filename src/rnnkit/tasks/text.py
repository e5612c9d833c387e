"""The text task: a character- or word-level language model trained on UTF-8 text.

data      rnnkit.data.text        read, normalise, tokenise, split, batch for truncated BPTT
model     rnnkit.models.language  embedding -> recurrent layers -> dropout -> linear
loss      mean cross-entropy per token, -ln p(next token); the state carried across chunks
metrics   loss (nats per token); bits per character (loss / ln 2) or perplexity (e^loss)
defaults  a recipe by time budget (rnnkit.train.recipes): --time picks it, flags override it
sample    rnnkit.generate: a few hundred tokens at each evaluation, and `rnnkit sample`
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnkit.cells.options import DROPOUTS, ZONEOUTS
from rnnkit.data.text import (
    NEWLINE,
    UNK,
    TokenBatches,
    Vocabulary,
    detokenize,
    read_text,
    split_ids,
)
from rnnkit.devices import resolve_device, trains_in_bf16
from rnnkit.errors import RnnkitError
from rnnkit.files import write_file
from rnnkit.generate.fast import FastStep
from rnnkit.generate.loop import sample_tokens
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.cache import CacheSettings, ContinuousCache
from rnnkit.models.language import LanguageModel, LanguageModelConfig, detach_state
from rnnkit.models.memory import affordable
from rnnkit.tasks.text_data import BUILTIN, CACHE, TextSource, write_cache
from rnnkit.train import distributed
from rnnkit.train.config import DEFAULT_TIME, Recipe, TrainConfig
from rnnkit.train.recipes import RECIPES, recipe_for
from rnnkit.train.task import Carry, Task
from rnnkit.values import COUNT, POSITIVE_INT, setting

VOCAB = "vocab.json"
# A character model that its budget takes through the training text this many times or more
# gets recurrent dropout SMALL_TEXT_DROPOUT unless told otherwise (TextTask.plan). A time budget
# is counted at CHARS_PER_SECOND, what the 1-minute recipe trained at on 2 CPU cores.
SMALL_TEXT_PASSES = 6
SMALL_TEXT_DROPOUT = 0.3
CHARS_PER_SECOND = 45_000
# The settings that regularise a model: one given (or set) is the user's choice, and stays it.
REGULARISERS = ("dropout", *DROPOUTS, *ZONEOUTS)
# Words kept at word level unless --max-vocab says otherwise: the rare ones are seen too seldom
# to learn and would cost most of the model (the 394,824 words of 100 MB of Python's source made
# a 54M-parameter model around a 128-unit LSTM; bench data).
MOST_WORDS = 100_000
SPLITS = ("train", "valid", "test")


@dataclass
class TextDataConfig:
    """Which text, how it becomes tokens, and how the tokens are batched."""

    source: str = setting(
        BUILTIN,
        "UTF-8 text file or folder of .txt files (default: Python's documentation text)",
        positional="FILE",
    )
    valid_file: str | None = setting(
        None, "a separate validation text (default: split off FILE)", flag="--valid"
    )
    level: str = setting("char", "tokens are characters or words", choices=("char", "word"))
    lowercase: bool = setting(False, "lower-case the text first")
    max_vocab: int | None = setting(
        None,
        "keep the N-1 most frequent tokens (characters or words), + <unk> (default: every "
        f"character; at word level {MOST_WORDS:,} tokens)",
        POSITIVE_INT,
    )
    min_count: int | None = setting(
        None, "keep the tokens seen at least N times; the others are read as <unk>", POSITIVE_INT
    )
    tokenizer: str = setting(
        "words",
        "word level: words = words and punctuation; whitespace = split at spaces",
        choices=("words", "whitespace"),
    )
    split: str = setting("90/5/5", "contiguous train/valid/test percentages; 90/10 = no test part")
    batch_size: int = setting(32, "B, parallel streams per batch", POSITIVE_INT)
    seq_len: int = setting(
        64, "T, steps per chunk (backpropagation is truncated there)", POSITIVE_INT
    )
    sample_length: int = setting(200, "tokens in the sample shown at each evaluation", COUNT)
    valid_tokens: int = setting(
        1_000_000,
        "evaluate during training on the first N valid tokens (the final evaluation uses all)",
        POSITIVE_INT,
    )
    fingerprint: str = ""  # SHA-256 of the training text: a resumed run checks it is unchanged

    def fractions(self) -> tuple[float, float, float]:
        """--split as train, valid, test fractions ("90/10" leaves no test part)."""
        try:
            parts = [float(p) / 100 for p in self.split.split("/")]
        except ValueError:
            parts = []
        if len(parts) not in (2, 3):
            raise RnnkitError(f"--split {self.split!r} must be percentages such as 90/5/5 or 90/10")
        if min(parts) < 0 or not math.isclose(sum(parts), 1.0, abs_tol=1e-6) or parts[0] == 0:
            raise RnnkitError(
                f"--split {self.split}: give percentages >= 0 that add up to 100, the first (the "
                "training part) above 0, such as 90/5/5"
            )
        if parts[1] == 0 and not self.valid_file:
            raise RnnkitError(
                f"--split {self.split} leaves no valid part to evaluate on; give it some (e.g. "
                "95/5) or a separate text with --valid"
            )
        return (*parts, 0.0) if len(parts) == 2 else tuple(parts)


def expected_passes(train: TrainConfig, tokens_per_step: int, tokens: int) -> float:
    """How many times a run with `train`'s budget goes through `tokens` training tokens, by the
    first of its budgets to run out (a time budget counted at CHARS_PER_SECOND)."""
    passes = []
    if train.steps:
        passes.append(train.steps * tokens_per_step / max(tokens, 1))
    if train.epochs:
        passes.append(float(train.epochs))
    if train.time:
        passes.append(train.time * CHARS_PER_SECOND / max(tokens, 1))
    return min(passes, default=0.0)


def trains_on_torch_kernels(settings: LanguageModelConfig, train: TrainConfig) -> bool:
    """Whether the recurrent layers of `settings` train on torch's own kernels with `train`'s
    device and precision (the backend they pick by themselves there, under autocast where the
    run trains in bfloat16, or the one forced). Asked of layers built for the question, with the
    random numbers put back: the run's model is initialised as without."""
    with torch.random.fork_rng(devices=[]):
        layers = settings.build(1)
    device = resolve_device(train.device)
    bf16 = trains_in_bf16(train.precision, device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        return layers.to(device).backend == "native"


class TextTask(Task):
    """A language model, its vocabulary, and (when training) its train and valid token streams."""

    name = "text"
    summary = "train a character- or word-level language model on your text"
    item_name = "tokens"
    DataConfig = TextDataConfig
    ModelConfig = LanguageModelConfig
    defaults_note = (
        "The defaults shown are those of recipe char-1m, for the default budget of 2 minutes. "
        "--time picks the recipe tuned nearest to the budget ("
        + ", ".join(r.name for rs in RECIPES.values() for r in rs)
        + "; --level word: the word recipe); any flag given overrides it. A character model "
        f"whose budget goes through its training text {SMALL_TEXT_PASSES} times or more gets "
        f"--recurrent-dropout {SMALL_TEXT_DROPOUT}, unless a dropout or zoneout flag is given "
        "or the network runs on torch's own kernels."
    )

    def __init__(self, data: TextDataConfig, model: LanguageModel, vocab: Vocabulary) -> None:
        super().__init__(data, model)
        self.vocab = vocab
        self.ids: dict[str, np.ndarray] = {}  # the whole text's ids ("ids") and valid's ("valid")
        self.valid: np.ndarray | None = None  # the valid part's ids
        self.run: Path | None = None

    @classmethod
    def recipe(cls, args: argparse.Namespace | None) -> Recipe:
        level = getattr(args, "level", None) or "char"
        return recipe_for(level, getattr(args, "time", None) or DEFAULT_TIME)

    # ---- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def check(cls, data: TextDataConfig, settings: LanguageModelConfig) -> None:
        if settings.word_features and data.level != "word":
            raise RnnkitError("--word-features splits words: use it with --level word")
        if settings.word_features and settings.embedding_size == 0:
            raise RnnkitError(
                "--word-features (on in the word recipe) needs an embedding: give "
                "--no-word-features for one-hot input, or drop --embedding 0"
            )

    @classmethod
    def read(cls, data: TextDataConfig) -> TextSource:
        return TextSource(data)

    @classmethod
    def plan(
        cls,
        data: TextDataConfig,
        settings: LanguageModelConfig,
        train: TrainConfig,
        dataset: TextSource,
        run: Path,
        given: Collection[str],
    ) -> TrainConfig:
        """Recurrent dropout for a character model that its budget takes through the training
        text SMALL_TEXT_PASSES times or more, unless the user chose how to regularise it: learnt
        by heart otherwise (docs/LANGUAGE_MODELS.md: the built-in corpus, 12-13 passes in 2
        minutes, 1.20-1.21 with it against 1.29 without; Tiny Shakespeare, 3-6 passes, better
        without). A network that torch's own kernels run (cuDNN's on a GPU) keeps them: they
        have no recurrent dropout."""
        fractions = data.fractions()  # a --split that cannot work: refused before any work
        tokens = len(dataset.encoded("ids"))
        if data.valid_file:
            valid = len(dataset.encoded("valid"))
        else:
            tokens, valid, _ = (len(part) for part in split_ids(range(tokens), fractions))
        if tokens <= data.batch_size * data.seq_len:  # less than a batch: refused when batched
            return train
        check_evaluable(range(valid), "the valid text")  # (before the note below)
        regularised = any(getattr(settings, name) for name in REGULARISERS)
        if data.level != "char" or set(REGULARISERS) & set(given) or regularised:
            return train
        passes = expected_passes(train, data.batch_size * data.seq_len, tokens)
        if passes < SMALL_TEXT_PASSES or trains_on_torch_kernels(settings, train):
            return train
        settings.recurrent_dropout = SMALL_TEXT_DROPOUT
        if distributed.current().is_main:
            print(
                f"recurrent dropout {SMALL_TEXT_DROPOUT}: the budget goes through the training "
                f"text about {passes:.0f} times (give recurrent dropout 0 to keep it off)"
            )
        return train

    def read_again(self) -> TextSource:
        """The run's text, with its cached ids (RUN/data/) when it has them."""
        return TextSource(self.data, cache=None if self.run is None else self.run / CACHE)

    @classmethod
    def fingerprint(cls, dataset: TextSource) -> str:
        return dataset.fingerprint()

    @classmethod
    def create(cls, data: TextDataConfig, settings: LanguageModelConfig, dataset: TextSource):
        """The vocabulary of the training and valid text (counted as they were encoded), and the
        model over it."""
        most = data.max_vocab or (MOST_WORDS if data.level == "word" else None)
        vocab = Vocabulary.from_counts(
            dataset.counts(), data.level, data.lowercase, most, data.tokenizer, data.min_count
        )
        settings.vocab_size = len(vocab)
        return cls(data, affordable(lambda: LanguageModel(settings, vocab.tokens)), vocab)

    @classmethod
    def restore(cls, run: Path, data: TextDataConfig, settings: LanguageModelConfig):
        vocab = Vocabulary.load(run / VOCAB)
        if len(vocab) != settings.vocab_size:
            raise RnnkitError(f"{run / VOCAB} does not match the model in config.json; retrain")
        model = affordable(lambda: LanguageModel(settings, vocab.tokens), training=False)
        task = cls(data, model, vocab)
        task.run = run
        return task

    def attach(self, dataset: TextSource) -> None:
        self.ids = dataset.ids(self.vocab)
        train, valid, _test = self.split(self.ids)
        self.train_data = TokenBatches(
            train, self.data.batch_size, self.data.seq_len, name="train text"
        )
        check_evaluable(valid, "the valid text")  # now, not at the first evaluation
        self.valid = valid

    def split(self, ids: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Train, valid and test token ids: contiguous parts of the text; with a separate valid
        text, all of the text trains and there is no test part."""
        if "valid" in ids:
            return [ids["ids"], ids["valid"], ids["ids"][:0]]
        return split_ids(ids["ids"], self.data.fractions())

    def save_artifacts(self, folder: Path) -> None:
        """vocab.json, and the ids of the text in RUN/data/ (resumed runs map them from there)."""
        write_file(Path(folder) / VOCAB, self.vocab.to_json())
        if self.ids:
            write_cache(Path(folder) / CACHE, self.data.fingerprint, self.vocab, self.ids)

    # ---- training and evaluation -----------------------------------------------------------

    def train_loss(self, batch, carry: Carry) -> tuple[torch.Tensor, Carry]:
        """Mean over the batch's tokens of -ln p(target | inputs so far), and the new state."""
        state = None if batch.reset else carry
        inputs, targets = batch.inputs.to(self.device), batch.targets.to(self.device)
        loss, state = self.model.nll(inputs, targets, state)
        return loss, detach_state(state)

    def batch_items(self, batch) -> int:
        """Tokens predicted: the loss is their mean."""
        return batch.targets.numel()

    def evaluate(self, final: bool = False) -> dict[str, float]:
        """The metrics on the valid text: its first --valid-tokens tokens at each evaluation
        (the same ones every time, so evaluations compare), all of it at the final one."""
        valid = self.valid if final else self.valid[: self.data.valid_tokens + 1]
        batches = evaluation_batches(valid, self.data, "the valid text")
        return self.metrics(stream_loss(self.model, batches, self.device))

    def metrics(self, loss: float) -> dict[str, float]:
        """loss in nats per token, and bits per character or perplexity per word."""
        if self.vocab.level == "char":
            return {"loss": loss, "bpc": loss / math.log(2)}
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0))}

    def describe(self) -> str:
        V = len(self.vocab)
        sizes = ""
        if self.train_data is not None:
            train, valid = self.train_data.targets_per_epoch, len(self.valid) - 1
            sizes = f"; {train:,} train and {valid:,} valid"
        return (
            f"vocabulary: {V:,} {self.vocab.level}s{sizes} tokens; "
            f"a model that knows nothing has loss ln V = {math.log(V):.3f}"
        )

    def sample(self) -> str:
        sampler = Sampler(SamplerConfig(temperature=0.8, seed=0))
        return "".join(self.sample_text(None, self.data.sample_length, sampler))

    def score(self, source: str | None, cache: CacheSettings | None = None) -> dict[str, float]:
        """Loss and bits per character / perplexity on the text in `source`, or on a split of
        the run's own text (None: test); with `cache`, of the model and its continuous cache."""
        if source is None or source in SPLITS:
            ids = self.split(self.read_again().ids(self.vocab))[SPLITS.index(source or "test")]
            what = f"the {source or 'test'} part of {self.data.source} (split {self.data.split})"
            if not len(ids) and self.data.valid_file:
                raise RnnkitError(
                    f"this run trained on all of {self.data.source} (its valid text was "
                    f"{self.data.valid_file}), so it has no test part; evaluate a text file instead"
                )
            if not len(ids) and self.data.fractions()[SPLITS.index(source or "test")] == 0:
                raise RnnkitError(
                    f"this run's split {self.data.split} has no {source or 'test'} part; evaluate "
                    f"`valid` (rnnkit evaluate RUN valid) or a text file instead"
                )
        else:
            text = read_text(source)
            unknown = self.vocab.unknown(text) if self.vocab.level == "word" else []
            if unknown:
                shown = ", ".join(repr(w) for w in unknown[:5]) + (
                    ", ..." if len(unknown) > 5 else ""
                )
                print(f"note: {len(unknown)} distinct words are not in the vocabulary ({shown}), "
                      f"read as {UNK}", file=sys.stderr)  # fmt: skip
            ids, what = self.vocab.encode(text, str(source)), str(source)
        batches = evaluation_batches(ids, self.data, what)
        return {
            **self.metrics(stream_loss(self.model, batches, self.device, cache)),
            "tokens": len(ids) - 1,
        }

    # ---- sampling ------------------------------------------------------------------------------

    def sample_text(self, prime: str | None, length: int, sampler: Sampler) -> Iterator[str]:
        """The text of `length` sampled tokens continuing `prime` (default: a line start), piece
        by piece. Word level: <unk> is never sampled (it stands for many words, none of which it
        can spell); a prime's unknown words are read as <unk>, with a note."""
        if prime is None:
            prime = NEWLINE if NEWLINE in self.vocab.tokens else self.vocab.tokens[-1]
        unknown = self.vocab.unknown(prime) if self.vocab.level == "word" else []
        if unknown:
            shown = ", ".join(repr(w) for w in unknown[:5])
            print(f"note: the prime has words the model never saw ({shown}): read as {UNK}",
                  file=sys.stderr)  # fmt: skip
        ids = self.vocab.encode(prime, "the prime")  # (refused here, before any text is out)
        return self._continue(ids, length, sampler)

    def _continue(self, ids: list[int], length: int, sampler: Sampler) -> Iterator[str]:
        banned = [self.vocab.tokens.index(UNK)] if UNK in self.vocab.tokens else []
        previous = self.vocab.tokens[ids[-1]] if ids else NEWLINE
        self.model.eval()
        prime_ids = torch.tensor([ids], device=self.device)
        for token_id in sample_tokens(FastStep(self.model), prime_ids, length, sampler, banned):
            token = self.vocab.tokens[int(token_id)]
            # Word level: the spacing of a token depends on the one before it.
            yield detokenize([previous, token], self.vocab.level)[len(previous) :]
            previous = token


def evaluation_batches(ids: list[int], data: TextDataConfig, name: str) -> TokenBatches:
    """Batches over all of `ids` for evaluation, with fewer rows or steps when the text is short."""
    check_evaluable(ids, name)
    rows = max(1, min(data.batch_size, (len(ids) - 1) // data.seq_len))
    return TokenBatches(ids, rows, min(data.seq_len, (len(ids) - 1) // rows), name=name)


def check_evaluable(ids: Sequence[int], name: str) -> None:
    """Refuse text with no next token to predict."""
    if len(ids) < 2:
        have = "only 1 token" if len(ids) else "no tokens"
        raise RnnkitError(
            f"{name} has {have}, too few to evaluate on (a prediction needs two); give it more text"
        )


def stream_loss(
    model: LanguageModel,
    batches: TokenBatches,
    device: torch.device,
    cache: CacheSettings | None = None,
) -> float:
    """Mean -ln p(next token) over every target of one pass, the state carried across chunks;
    with `cache`, of the model mixed with its continuous cache (models/cache.py)."""
    total, count, state = 0.0, 0, None
    window = ContinuousCache(cache) if cache else None
    model.eval()
    with torch.no_grad():
        for batch in batches:
            inputs, targets = batch.inputs.to(device), batch.targets.to(device)
            if window is None:
                loss, state = model.nll(inputs, targets, state)
                total += loss.item() * targets.numel()
            else:
                log_p, h, state = model.target_log_probs(inputs, targets, state)
                total -= window.log_probs(h, targets, log_p.float()).sum().item()
            count += targets.numel()
    return total / count
