"""The continuous cache against its formula computed token by token, and `evaluate --cache`."""

import math

import pytest
import torch

from conftest import error_line, evaluated
from rnnkit.cli.main import main
from rnnkit.errors import RnnkitError
from rnnkit.models.cache import CacheSettings, ContinuousCache


def reference(h, targets, log_p, N, theta, lam):
    """ln p(target) of the mixture, one row and one step at a time from the module's formula."""
    B, T = targets.shape
    out = torch.empty(B, T, dtype=torch.float64)
    for b in range(B):
        for t in range(T):
            p_model = math.exp(log_p[b, t])
            past = range(max(0, t - N), t)
            if not past:
                out[b, t] = log_p[b, t]
                continue
            scores = torch.tensor([theta * float(h[b, t] @ h[b, i]) for i in past])
            weights = torch.softmax(scores, 0)
            p_cache = sum(w for w, i in zip(weights, past) if targets[b, i] == targets[b, t])
            out[b, t] = math.log((1 - lam) * p_model + lam * float(p_cache))
    return out


@pytest.mark.parametrize("N", [3, 7, 100])
def test_the_cache_fed_in_chunks_is_its_formula(N):
    torch.manual_seed(0)
    B, T, H, V = 2, 17, 5, 4  # few tokens, so that they recur
    h = torch.randn(B, T, H)
    targets = torch.randint(0, V, (B, T))
    log_p = torch.log_softmax(torch.randn(B, T, V), -1).gather(2, targets[..., None])[..., 0]
    cache = ContinuousCache(CacheSettings(N, theta=0.7, lam=0.2))
    chunks = [cache.log_probs(h[:, a:b], targets[:, a:b], log_p[:, a:b]) for a, b in
              [(0, 5), (5, 6), (6, 17)]]  # fmt: skip
    expected = reference(h, targets, log_p, N, 0.7, 0.2)
    torch.testing.assert_close(torch.cat(chunks, 1).double(), expected, atol=1e-5, rtol=0)
    assert cache.keys.shape[1] == min(N, T)  # the window keeps the last N tokens only


def test_a_repeated_word_becomes_likelier_after_its_first_use():
    h = torch.ones(1, 4, 2)  # every context alike
    targets = torch.tensor([[3, 1, 2, 3]])
    log_p = torch.full((1, 4), math.log(0.01))
    got = ContinuousCache(CacheSettings(10, theta=0.3, lam=0.1)).log_probs(h, targets, log_p)
    assert got[0, 0] == log_p[0, 0]  # nothing read before it
    assert got[0, 1] == pytest.approx(math.log(0.9 * 0.01))  # 1 not seen yet: the cache gives 0
    assert got[0, 3] == pytest.approx(math.log(0.9 * 0.01 + 0.1 / 3))  # 3 followed 1 of 3 steps


@pytest.mark.parametrize(
    "settings", [CacheSettings(0), CacheSettings(5, lam=1.0), CacheSettings(5, theta=-1)]
)
def test_bad_cache_settings_are_refused(settings):
    with pytest.raises(RnnkitError, match="--cache"):
        ContinuousCache(settings)


def test_evaluate_with_a_cache(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 20, encoding="utf-8")
    tiny = ["--hidden", "16", "--layers", "1", "--batch-size", "4", "--seq-len", "8"]
    args = ["train", "text", str(text), "--out", str(tmp_path / "run"), *tiny, "--steps", "3"]
    assert main([*args, "--level", "word", "--output", "adaptive", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), str(text)]) == 0
    alone = evaluated(capsys.readouterr().out)
    assert main(["evaluate", str(tmp_path / "run"), str(text), "--cache", "50"]) == 0
    cached = evaluated(capsys.readouterr().out)
    # A text of one repeated line: the cache predicts each word from its last use.
    assert cached["ppl"] < alone["ppl"] and cached["tokens"] == alone["tokens"]
    assert main(["evaluate", str(tmp_path / "run"), "--cache", "50", "--cache-lambda", "1"]) == 2
    assert "--cache-lambda" in error_line(capsys)
