"""Data-parallel training: 2 gloo processes compute what 1 process computes on the same global
batch, and their checkpoint resumes in 1 process.

The ranks are real `rnnkit train` processes that join the process group through the same
environment variables torchrun sets, so `rnnkit train` takes the path it takes under torchrun.
"""

import csv
import json
import socket
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import finish, rnnkit_process
from rnnkit.cli.main import main
from rnnkit.errors import RnnkitError
from rnnkit.train.distributed import World, shard

TEXT = "It was the best of times, it was the worst of times.\n" * 30
TEXT_ARGS = ["--hidden", "12", "--layers", "2", "--batch-size", "4", "--seq-len", "8"]
TEXT_ARGS += ["--sample-length", "1"]
SAME_STEPS = ["--schedule", "constant", "--warmup", "0", "--patience", "0", "--eval-every", "1"]
COMMON = [*SAME_STEPS, "--no-progress", "--device", "cpu"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_in_processes(argv: list[str], world: int = 2) -> None:
    """`rnnkit train ...` as `world` ranks, as torchrun would start them."""
    port = str(free_port())
    ranks = [
        rnnkit_process(
            argv,
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(world),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
        )
        for rank in range(world)
    ]
    assert [finish(process, timeout=180) for process in ranks] == [0] * world


def losses(run) -> list[tuple[float, float]]:
    """(train loss, valid loss) of each evaluation, from metrics.csv."""
    with open(run / "metrics.csv", encoding="utf-8") as file:
        return [(float(r["train_loss"]), float(r["valid_loss"])) for r in csv.DictReader(file)]


def final_weights(run) -> dict[str, torch.Tensor]:
    stem = json.loads((run / "training" / "state.json").read_text())["files"]
    return load_file(run / "training" / f"{stem}.model.safetensors")


def assert_same_run(a, b, steps: int) -> None:
    la, lb = losses(a), losses(b)
    assert len(la) == len(lb) == steps
    np.testing.assert_allclose(la, lb, rtol=0, atol=1e-6)
    wa, wb = final_weights(a), final_weights(b)
    assert wa.keys() == wb.keys()
    # The ranks' gradients are summed in another order than one process sums its batch's rows
    # (float32: last bits), and Adam's step, about lr in size whatever the gradient's, turns the
    # last bits of a gradient near zero into differences of 1e-6 after 8 steps (measured: 0.98e-6
    # and 2.9e-6 with two builds of the same kernels); a wrong shard would differ by far more.
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], rtol=0, atol=1e-5)


def test_two_text_processes_match_one_and_resume_in_one(tmp_path):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    text = ["train", "text", str(source), *TEXT_ARGS, *COMMON]
    assert main([*text, "--steps", "8", "--out", str(tmp_path / "one")]) == 0
    train_in_processes([*text, "--steps", "4", "--out", str(tmp_path / "two")])
    np.testing.assert_allclose(losses(tmp_path / "two"), losses(tmp_path / "one")[:4], atol=1e-6)

    # The 2-process checkpoint (its carried LSTM state gathered from both ranks) continues in one
    # process; a constant schedule lets the budget be raised without changing the first steps.
    config_path = tmp_path / "two" / "config.json"
    config = json.loads(config_path.read_text())
    config["train_config"]["steps"] = 8
    config_path.write_text(json.dumps(config))
    assert main(["train", "--resume", str(tmp_path / "two"), "--no-progress"]) == 0
    assert_same_run(tmp_path / "one", tmp_path / "two", steps=8)


def write_levels(path, per_class: int, seed: int) -> None:
    """Sequences around +1 ("high") or -1 ("low") of 5 to 12 steps: batches of unequal lengths."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as file:
        for i in range(2 * per_class):
            label, level = ("high", 1.0) if i % 2 else ("low", -1.0)
            values = level + 0.4 * rng.standard_normal(rng.integers(5, 13))
            file.write(",".join([label, *(f"{v:.3f}" for v in values)]) + "\n")


def test_two_classify_processes_match_one_with_uneven_shards(tmp_path):
    write_levels(tmp_path / "train.csv", per_class=20, seed=0)
    # 7 sequences per batch: 4 rows on rank 0, 3 on rank 1, each mean weighted by its rows.
    argv = ["train", "classify", str(tmp_path / "train.csv"), "--cell", "gru", "--hidden", "6"]
    argv += ["--conv", "0"]  # batch normalisation's statistics are each process's own
    argv += ["--precision", "fp32"]  # the recipe's bf16 would round 4 + 3 rows unlike 7
    argv += ["--pooling", "last"]  # attention's batched products round 4 + 3 rows unlike 7 (1e-6)
    argv += ["--batch-size", "7", "--lr", "0.03", "--steps", "8", *COMMON]
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    train_in_processes([*argv, "--out", str(tmp_path / "two")])
    # The recipe's resampling trial (the series are 5 to 12 steps long) ran first, 1 step on
    # each view in every process, rank 0's out-of-fold losses deciding; then 6 steps of the run.
    one, two = (json.loads((tmp_path / r / "config.json").read_text()) for r in ("one", "two"))
    assert one["task_config"]["data"]["trial"] != ""
    assert one["task_config"]["data"]["resample"] == two["task_config"]["data"]["resample"]
    assert_same_run(tmp_path / "one", tmp_path / "two", steps=6)


@dataclass
class Rows:
    x: torch.Tensor
    names: list[str]
    reset: bool


def test_a_batch_is_cut_into_contiguous_rows_first_ranks_one_more():
    batch = Rows(torch.arange(10).view(5, 2), list("abcde"), True)
    first, second = shard(batch, World(0, 2)), shard(batch, World(1, 2))
    assert first.x.tolist() == [[0, 1], [2, 3], [4, 5]] and first.names == ["a", "b", "c"]
    assert second.x.tolist() == [[6, 7], [8, 9]] and second.names == ["d", "e"]
    assert first.reset and second.reset


def test_a_batch_smaller_than_the_ranks_is_refused():
    with pytest.raises(RnnkitError, match="cannot be shared by 3 processes"):
        shard(Rows(torch.zeros(2, 1), ["a", "b"], False), World(0, 3))
