"""Hypothesis strategies shared by the tests that run one network two ways and compare."""

import torch
from hypothesis import strategies as st


def network_configurations(max_size: int, **extra: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """A network's shape (layers, directions, layout, bias) and one run of it (initial state or
    not, lengths or not, steps, batch, sizes up to `max_size`) with the seed of its weights and
    inputs; `extra` adds the fields a test needs besides (which cell, which backend, ...)."""
    return st.fixed_dictionaries(
        dict(
            num_layers=st.integers(1, 3),
            bidirectional=st.booleans(),
            batch_first=st.booleans(),
            bias=st.booleans(),
            with_hx=st.booleans(),
            with_lengths=st.booleans(),
            steps=st.integers(1, 6),
            batch=st.integers(1, 4),
            input_size=st.integers(1, max_size),
            hidden_size=st.integers(1, max_size),
            seed=st.integers(0, 2**16),
            **extra,
        )
    )


def network_options(config: dict) -> dict:
    """The keyword arguments a network of `config`'s shape is built with (rnnkit or torch.nn)."""
    return {name: config[name] for name in ("num_layers", "bias", "batch_first", "bidirectional")}


def random_input(config: dict, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A random input x in `config`'s layout (requiring its gradient) and random lengths, or
    None where the configuration runs without lengths."""
    T, B = config["steps"], config["batch"]
    shape = (B, T) if config["batch_first"] else (T, B)
    x = torch.randn(*shape, config["input_size"], dtype=dtype, requires_grad=True)
    lengths = torch.randint(1, T + 1, (B,)) if config["with_lengths"] else None
    return x, lengths


def cell_options(cell: str) -> st.SearchStrategy[dict]:
    """Any subset of the options `cell` takes (cells/options.py), each at a drawn value; an LSTM
    ("lstm") also takes zoneout_c and proj_size."""
    probability = st.sampled_from([0.2, 0.5])
    optional = dict(
        layer_norm=st.just(True),
        input_dropout=probability,
        recurrent_dropout=probability,
        output_dropout=probability,
        weight_dropout=probability,
        zoneout=probability,
    )
    if cell == "lstm":
        optional.update(zoneout_c=probability, proj_size=st.integers(1, 3))
    return st.fixed_dictionaries({}, optional=optional)
