"""Sampling throughput: rnnkit's fast sampler against the straightforward torch.nn loop.

    python -m bench sampling [--threads 2] [--tokens 100] [--repeats 3] [--no-write]

A character-level language model (vocabulary 65, 2-layer 512-unit LSTM, embedding 512) generates
tokens one at a time, at batch 1 and batch 64, in three ways on the same weights:

    torch.nn loop:  nn.Embedding -> nn.LSTM (one step, state kept) -> nn.Linear -> softmax ->
                    torch.multinomial, per token
    rnnkit stream:  the generation loop (generate/loop.py) over LanguageModel.forward (one step
                    per call; batch 1 only, as a baseline for the fast step)
    rnnkit fast:    the same loop over generate/fast.py's FastStep (the cells' steps, the first
                    layer's input tabulated)

tokens/s counts generated tokens of the whole batch; ratio = tokens/s / the torch.nn loop's.
Each number is the median of the repeats after one warm-up; written to docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from bench import machine, report
from rnnkit.generate.fast import FastStep
from rnnkit.generate.loop import sample_tokens
from rnnkit.generate.sampler import Sampler, SamplerConfig
from rnnkit.models.language import LanguageModel, LanguageModelConfig

VOCAB, HIDDEN, LAYERS = 65, 512, 2
BATCHES = (1, 64)


def torch_loop(model: LanguageModel):
    """The straightforward loop on torch.nn modules holding the model's weights."""
    embedding = nn.Embedding.from_pretrained(model.embedding.weight.detach().clone())
    lstm = model.rnn.to_torch().eval()
    output = nn.Linear(HIDDEN, VOCAB)
    output.load_state_dict(model.output.state_dict())
    generator = torch.Generator().manual_seed(0)

    @torch.no_grad()
    def run(prime: torch.Tensor, length: int) -> None:
        out, state = lstm(embedding(prime))  # prime (B, P), batch_first
        token = torch.multinomial(output(out[:, -1]).softmax(-1), 1, generator=generator)
        for _ in range(length - 1):
            out, state = lstm(embedding(token), state)  # (B, 1, H)
            token = torch.multinomial(output(out[:, 0]).softmax(-1), 1, generator=generator)

    return run


def rnnkit_stream(model: LanguageModel):
    def run(prime: torch.Tensor, length: int) -> None:
        for _ in sample_tokens(model, prime, length, Sampler(SamplerConfig(seed=0))):
            pass

    return run


def rnnkit_fast(model: LanguageModel):
    def run(prime: torch.Tensor, length: int) -> None:
        for _ in sample_tokens(FastStep(model), prime, length, Sampler(SamplerConfig(seed=0))):
            pass

    return run


METHODS = {"torch.nn loop": torch_loop, "rnnkit stream": rnnkit_stream, "rnnkit fast": rnnkit_fast}


def measure(run, prime: torch.Tensor, length: int, repeats: int) -> float:
    """Median seconds of `repeats` runs after one warm-up."""
    run(prime, 2)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(prime, length)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


HEADER = ["batch", "method", "tokens/s", "ratio"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sampling", description=__doc__)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--tokens", type=int, default=100, help="tokens generated per sequence")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-stream", action="store_true", help="skip the rnnkit stream row")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = LanguageModelConfig(
        vocab_size=VOCAB, cell="lstm", hidden_size=HIDDEN, num_layers=LAYERS
    )
    model = LanguageModel(config).eval()
    facts = machine.describe("cpu")
    print(machine.markdown(facts), flush=True)
    rows = []
    for batch in BATCHES:
        prime = torch.randint(0, VOCAB, (batch, 8))
        baseline = None
        for name, make in METHODS.items():
            if name == "rnnkit stream" and (args.no_stream or batch > 1):
                continue
            seconds = measure(make(model), prime, args.tokens, args.repeats)
            baseline = baseline or seconds
            rate = batch * args.tokens / seconds
            rows.append([str(batch), name, f"{rate:,.0f}", f"{baseline / seconds:.2f}"])
            print(report.text_table(HEADER, rows[-1:]), flush=True)
    print(report.text_table(HEADER, rows))
    if not args.no_write:
        body = "\n\n".join(
            [
                "## Sampling: one token at a time",
                f"`python -m bench sampling`: a 2-layer {HIDDEN}-unit LSTM language model, "
                f"vocabulary {VOCAB}, {args.tokens} tokens per sequence after an 8-token prime, "
                f"median of {args.repeats} runs; ratio = tokens/s / the torch.nn loop's. "
                "The stream row (the loop over the model's forward) runs at batch 1 only.",
                machine.markdown(facts),
                report.markdown_table(HEADER, rows),
            ]
        )
        print(f"\nwrote {report.write_section('sampling', body)}")
    return 0
