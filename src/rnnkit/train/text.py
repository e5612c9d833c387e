"""The text task: a character- or word-level language model trained on UTF-8 text.

It plugs the pieces into the training loop's task contract (task.py):

    data      rnnkit.data.text      read, normalise, tokenise, split, batch for truncated BPTT
    model     rnnkit.models.language embedding -> recurrent layers -> dropout -> linear
    loss      mean cross-entropy per token, -ln p(next token); the state carried across chunks
    metrics   loss (nats per token); bits per character (loss / ln 2) or perplexity (e^loss)
    sample    rnnkit.generate.sampler, a few hundred tokens at each evaluation

and provides the registry hooks (registry.py) for `rnnkit train text`, `sample` and `evaluate`.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import math
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnkit.data.text import (
    NEWLINE,
    UNK,
    TokenBatch,
    TokenBatches,
    Vocabulary,
    builtin_corpus,
    detokenize,
    read_text,
    split_ids,
)
from rnnkit.errors import RnnkitError
from rnnkit.generate.fast import FastStep
from rnnkit.generate.sampler import Sampler, SamplerConfig, stream
from rnnkit.models.language import LanguageModel, LanguageModelConfig, detach_state
from rnnkit.train import distributed
from rnnkit.train.checkpoint import CONFIG, atomic_write, read_json
from rnnkit.train.config import (
    DEFAULT_TIME,
    TrainConfig,
    add_config_arguments,
    config_from_args,
    config_from_json,
)
from rnnkit.train.recipes import Recipe, recipe_for
from rnnkit.train.task import Carry, Task

VOCAB = "vocab.json"
BUILTIN = "builtin:python-docs"  # the source name of the built-in corpus in config.json
PYTHON_TEXT = "python:str"  # the source name of text given to TextModel.fit as a string


@dataclass
class TextDataConfig:
    """Which text, how it becomes tokens, and how the tokens are batched."""

    source: str = BUILTIN  # the text file or folder it trains on (BUILTIN: Python's docs)
    valid_file: str | None = field(
        default=None, metadata={"help": "a separate validation text (default: split off FILE)"}
    )
    level: str = field(
        default="char",
        metadata={"help": "tokens are characters or words", "choices": ("char", "word")},
    )
    lowercase: bool = field(default=False, metadata={"help": "lower-case the text first"})
    max_vocab: int | None = field(
        default=None, metadata={"help": "word level: keep the N-1 most frequent words, + <unk>"}
    )
    tokenizer: str = field(
        default="words",
        metadata={
            "help": "word level: words = words and punctuation; whitespace = split at spaces",
            "choices": ("words", "whitespace"),
        },
    )
    split: str = field(
        default="90/5/5",
        metadata={"help": "contiguous train/valid/test percentages; 90/10 = no test part"},
    )
    batch_size: int = field(default=32, metadata={"help": "B, parallel streams per batch"})
    seq_len: int = field(
        default=64, metadata={"help": "T, steps per chunk (backpropagation is truncated there)"}
    )
    sample_length: int = field(
        default=200, metadata={"help": "tokens in the sample shown at each evaluation"}
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
        return (*parts, 0.0) if len(parts) == 2 else tuple(parts)


class TextTask(Task):
    """A language model, its vocabulary, and (when training) its train and valid token streams."""

    name = "text"
    item_name = "tokens"

    def __init__(
        self,
        data: TextDataConfig,
        model: LanguageModel,
        vocab: Vocabulary,
        train_ids: list[int] | None = None,
        valid_ids: list[int] | None = None,
    ) -> None:
        self.data = data
        self.model = model
        self.vocab = vocab
        self.train_data = None
        self.valid_data = None
        if train_ids is not None:
            self.train_data = TokenBatches(
                train_ids, data.batch_size, data.seq_len, name="train text"
            )
            self.valid_data = evaluation_batches(
                valid_ids, data.batch_size, data.seq_len, "valid text"
            )

    # ---- the loop's contract ----------------------------------------------------------------

    def train_loss(self, batch: TokenBatch, carry: Carry) -> tuple[torch.Tensor, Carry]:
        """Mean over the batch's tokens of -ln p(target | inputs so far), and the new state."""
        state = None if batch.reset else carry
        inputs, targets = batch.inputs.to(self.device), batch.targets.to(self.device)
        loss, state = self.model.nll(inputs, targets, state)
        return loss, detach_state(state)

    def batch_items(self, batch: TokenBatch) -> int:
        """Tokens predicted: the loss is their mean."""
        return batch.targets.numel()

    def evaluate(self) -> dict[str, float]:
        return self.metrics(stream_loss(self.model, self.valid_data, self.device))

    def describe(self) -> str:
        V = len(self.vocab)
        sizes = ""
        if self.train_data is not None:
            train, valid = self.train_data.rows, self.valid_data.rows
            sizes = (
                f"; {train.numel() - len(train):,} train and {valid.numel() - len(valid):,} valid"
            )
        return (
            f"vocabulary: {V:,} {self.vocab.level}s{sizes} tokens; "
            f"a model that knows nothing has loss ln V = {math.log(V):.3f}"
        )

    def sample(self) -> str:
        sampler = Sampler(SamplerConfig(temperature=0.8, seed=0))
        return "".join(self.generate(self.default_prime(), self.data.sample_length, sampler))

    def config(self) -> dict[str, Any]:
        return {"data": asdict(self.data), "model": asdict(self.model.config)}

    def save_artifacts(self, folder: Path) -> None:
        atomic_write(Path(folder) / VOCAB, self.vocab.to_json())

    # ---- text-specific ------------------------------------------------------------------------

    def metrics(self, loss: float) -> dict[str, float]:
        """loss in nats per token, and bits per character or perplexity per word."""
        if self.vocab.level == "char":
            return {"loss": loss, "bpc": loss / math.log(2)}
        return {"loss": loss, "ppl": math.exp(min(loss, 50.0))}

    def default_prime(self) -> str:
        """Start samples at a line start when the vocabulary has line ends."""
        return NEWLINE if NEWLINE in self.vocab.tokens else self.vocab.tokens[-1]

    def generate(self, prime: str, length: int, sampler: Sampler) -> Iterator[str]:
        """Yield the text of `length` sampled tokens continuing `prime`, piece by piece.

        Word level: <unk> is never sampled (it stands for many words, none of which it can spell).
        """
        ids = self.vocab.encode(prime)
        previous = self.vocab.tokens[ids[-1]] if ids else NEWLINE
        self.model.eval()
        step = FastStep(self.model)
        if UNK in self.vocab.tokens:
            step = functools.partial(_never, step, self.vocab.tokens.index(UNK))
        for token_id in stream(step, ids, length, sampler, self.device):
            token = self.vocab.tokens[token_id]
            # Word level: the spacing of a token depends on the one before it.
            yield detokenize([previous, token], self.vocab.level)[len(previous) :]
            previous = token


def _never(step: FastStep, token: int, tokens: torch.Tensor, state: Any) -> tuple:
    """The model's step with the logit of `token` at -inf: it is never sampled."""
    logits, state = step(tokens, state)
    return logits.index_fill(-1, torch.tensor([token], device=logits.device), -math.inf), state


def evaluation_batches(ids: list[int], batch_size: int, seq_len: int, name: str) -> TokenBatches:
    """Batches over all of `ids` for evaluation, with fewer rows or steps when the text is short."""
    if len(ids) < 2:
        raise RnnkitError(
            f"the {name} has {len(ids)} tokens, too few to evaluate on; give it more text"
        )
    rows = max(1, min(batch_size, (len(ids) - 1) // seq_len))
    return TokenBatches(ids, rows, min(seq_len, (len(ids) - 1) // rows), name=name)


def stream_loss(model: LanguageModel, batches: TokenBatches, device: torch.device) -> float:
    """Mean -ln p(next token) over every target of one pass, the state carried across chunks."""
    total, count, state = 0.0, 0, None
    model.eval()
    with torch.no_grad():
        for batch in batches:
            loss, state = model.nll(batch.inputs.to(device), batch.targets.to(device), state)
            total += loss.item() * batch.targets.numel()
            count += batch.targets.numel()
    return total / count


# ---------------------------------------------------------------------------------------------
# Building a task: from settings (a new run) or from a run folder


def build_task(
    data: TextDataConfig, model_config: LanguageModelConfig, text: str | None = None
) -> TextTask:
    """A new task: read the text (or take `text`), build the vocabulary and model, split, batch."""
    if text is None:
        text = load_source(data.source)
    valid_text = read_text(data.valid_file) if data.valid_file else None
    vocab = Vocabulary.build(
        text + (valid_text or ""), data.level, data.lowercase, data.max_vocab, data.tokenizer
    )
    data.fingerprint = fingerprint(text)
    model_config.vocab_size = len(vocab)
    model = LanguageModel(model_config)
    return TextTask(data, model, vocab, *_split(data, vocab, text, valid_text))


def _split(
    data: TextDataConfig, vocab: Vocabulary, text: str, valid_text: str | None
) -> tuple[list[int], list[int]]:
    """Train and valid token ids: contiguous parts of `text`, or `text` and `valid_text`."""
    ids = vocab.encode(text)
    if valid_text is not None:
        return ids, vocab.encode(valid_text)
    train_ids, valid_ids, _test = split_ids(ids, data.fractions())
    return train_ids, valid_ids


def load_source(source: str) -> str:
    if source == BUILTIN:
        return builtin_corpus()
    if source == PYTHON_TEXT:
        raise RnnkitError("this run was trained on text given from Python; resume it from Python")
    return read_text(source)


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def from_run(run: Path, config: dict[str, Any], with_data: bool = False) -> TextTask:
    """The task saved in `run` (untrained weights); with_data also re-reads the text, to resume."""
    where = Path(run) / CONFIG
    data = config_from_json(TextDataConfig, config["task_config"].get("data"), f"{where} data")
    model_config = config_from_json(
        LanguageModelConfig, config["task_config"].get("model"), f"{where} model"
    )
    path = Path(run) / VOCAB
    if not path.is_file():
        raise RnnkitError(f"{run} has no {VOCAB}; the run folder is incomplete, retrain")
    vocab = load_vocabulary(path)
    if len(vocab) != model_config.vocab_size:
        raise RnnkitError(f"{path} does not match the model in config.json; retrain")
    try:
        model = LanguageModel(model_config)
    except (ValueError, TypeError, RuntimeError, MemoryError) as error:
        raise RnnkitError(
            f"{where} has model settings rnnkit cannot build ({error}); retrain"
        ) from None
    if not with_data:
        return TextTask(data, model, vocab)
    text = load_source(data.source)
    if fingerprint(text) != data.fingerprint:
        raise RnnkitError(
            f"{data.source} changed since this run started; restore it or start a new run"
        )
    valid_text = read_text(data.valid_file) if data.valid_file else None
    return TextTask(data, model, vocab, *_split(data, vocab, text, valid_text))


def load_vocabulary(path: Path) -> Vocabulary:
    """vocab.json of a run folder, checked field by field (it may be damaged or hostile)."""
    return Vocabulary.from_dict(read_json(path, "vocabulary"), str(path))


# ---------------------------------------------------------------------------------------------
# Command-line hooks (registry.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="FILE",
        nargs="?",
        default=None,
        help="UTF-8 text file or folder of .txt files (default: Python's documentation text)",
    )
    add_config_arguments(parser, TextDataConfig, valid_file="--valid")
    add_config_arguments(
        parser,
        LanguageModelConfig,
        hidden_size="--hidden",
        num_layers="--layers",
        embedding_size="--embedding",
        tie_weights="--tie",
    )


def from_args(args: argparse.Namespace) -> tuple[TextTask, TrainConfig]:
    recipe = recipe_from_args(args)
    model = dict(recipe.model) if recipe else {}
    if args.tie_weights and args.embedding_size is None:
        model.pop("embedding_size", None)  # tying needs E = H
    data = config_from_args(
        TextDataConfig, args, **(recipe.data if recipe else {}), source=args.source or BUILTIN
    )
    model_config = config_from_args(LanguageModelConfig, args, **model)
    train_config = config_from_args(TrainConfig, args, **(recipe.train if recipe else {})).check()
    return build_task(data, model_config), train_config


def recipe_from_args(args: argparse.Namespace) -> Recipe | None:
    """The recipe for a time budget (--time, or the default one when no budget is given; none
    for a budget in --steps or --epochs only), announced with the settings it fills in."""
    if args.time is None and (args.steps is not None or args.epochs is not None):
        return None
    recipe = recipe_for(args.level or "char", args.time or DEFAULT_TIME)
    if distributed.current().is_main:
        print(f"settings: {recipe.describe()}; flags given override it")
    return recipe


def evaluate_file(
    task: TextTask, path: str, args: argparse.Namespace | None = None
) -> dict[str, float]:
    """Loss and bits per character / perplexity of the model on the text in `path`."""
    text = read_text(path)
    unknown = task.vocab.unknown(text) if task.vocab.level == "word" else []
    if unknown:
        print(
            f"note: {len(unknown)} distinct words are not in the vocabulary, read as <unk>",
            file=sys.stderr,
        )
    ids = task.vocab.encode(text, str(path))
    batches = evaluation_batches(ids, task.data.batch_size, task.data.seq_len, str(path))
    return {**task.metrics(stream_loss(task.model, batches, task.device)), "tokens": len(ids) - 1}


SAMPLE_SEPARATOR = "-" * 40


def sample(task: TextTask, args: argparse.Namespace) -> None:
    """Stream `--num` samples to stdout, each continuing the prime (shown when given)."""
    prime = task.default_prime() if args.prime is None else args.prime
    unknown = task.vocab.unknown(prime)
    if unknown and task.vocab.level == "word":
        shown = ", ".join(repr(w) for w in unknown[:5])
        print(
            f"note: the prime has words the model never saw ({shown}): read as <unk>",
            file=sys.stderr,
        )
    task.vocab.encode(prime, "the prime")  # an unknown character: an error before any output
    sampler = Sampler(
        SamplerConfig(
            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed
        )
    )
    for index in range(args.num):
        if index:
            sys.stdout.write(f"\n{SAMPLE_SEPARATOR}\n")
        sys.stdout.write(args.prime or "")
        for piece in task.generate(prime, args.length, sampler):
            sys.stdout.write(piece)
            sys.stdout.flush()
    sys.stdout.write("\n")
