"""Recipes: the settings that train the best text model for a time budget.

`rnnkit train text FILE --time 10m` starts from the recipe tuned for the budget nearest to ten
minutes (on a log scale: 2 minutes takes the 1-minute recipe, 20 minutes the 30-minute one), and
every flag given on the command line overrides the recipe's value for it. Without --steps or
--epochs the budget is the default 2 minutes, so plain `rnnkit train text` uses a recipe too;
with --steps or --epochs (and no --time) the plain defaults of each setting apply instead.

Each recipe was found by measurement on Tiny Shakespeare on 2 CPU cores (bench/lm_text.py runs
them; docs/BENCHMARKS.md has the results): a larger model learns more from each token but sees
fewer tokens in the budget, so the best size grows with the time.
"""

from __future__ import annotations

import math

from rnnkit.train.config import Recipe


def tuned(seconds: int) -> str:
    """The note a recipe's run prints: 'tuned for 10 min on 2 CPU cores', or 230 s."""
    budget = f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
    return f"tuned for {budget} on 2 CPU cores"


# Character level. A small embedding: the first layer's input part W x_t then costs E/H of its
# recurrent part instead of as much again, and 65-odd characters need no more. Measured on Tiny
# Shakespeare (bench/lm_text.py): the 1-minute recipe reached valid 1.473 and 1.479 nats/char in
# 71 s with layer norm, which fits faster (1.535 and 1.542 without, in 15% more steps); the
# 10-minute one 1.414 and 1.418 in 600 s in bf16 (1.438 in fp32 before its recurrent dropout),
# where layer norm fits too fast and overfits (1.451).
# Tried and not kept: a lecture GRU of 384 at
# 71 s (1.76) and of 512 for 10 minutes (1.50 at 600 s), 2 x 256 at 71 s (1.76), batch 32 at
# 71 s (1.62: fewer steps), LSTM 2 x 512 with E = H (1.99 after 285 s).
CHAR = [
    Recipe(
        "char-1m",
        seconds=60,
        note=tuned(60),
        data={"batch_size": 16, "seq_len": 64},
        model={
            "cell": "lstm",
            "hidden_size": 256,
            "num_layers": 1,
            "embedding_size": 64,
            "layer_norm": True,
        },
        train={"lr": 4e-3, "warmup": 30, "eval_every": 1000},
    ),
    Recipe(
        "char-10m",
        seconds=600,
        note=tuned(600),
        data={"batch_size": 32, "seq_len": 64},
        model={
            "cell": "lstm",
            "hidden_size": 512,
            "num_layers": 1,
            "embedding_size": 64,
            "dropout": 0.1,
            "recurrent_dropout": 0.2,
        },
        # Annealing to 2% of the peak rather than 10% gained about 0.01 at the end, and lr 4e-3
        # rather than 3e-3 another 0.008 (600 s, two seeds each: 1.443 and 1.440 against 1.450
        # and 1.448 on the same day). Tried with lr 4e-3 in fp32 (one run each, within the
        # seeds' spread): lr 5e-3 1.441, linear decay 1.441, weight decay 0.1 1.438.
        # In bf16 (2.5x the steps on a CPU with AVX-512 BF16) the fp32 recipe overfits (1.465);
        # recurrent dropout 0.2 regularised best of the cells' options, one at a time (1.422;
        # zoneout 0.1 1.429, weight dropout 0.2 1.432, dropout 0.25 1.442, layer norm 1.451),
        # and more did worse (recurrent dropout 0.3 1.442, with zoneout 0.1 1.451). Nor did
        # 640 units help (1.422; with recurrent dropout 0.25 and dropout 0.15, 1.429). AdamW's
        # weight decay 0.1 rather than 0.01 then gave 1.414 and 1.418 (seeds 1 and 2) against
        # 1.422, 1.426 and 1.423 without.
        train={
            "lr": 4e-3,
            "warmup": 50,
            "eval_every": 1000,
            "min_lr_ratio": 0.02,
            "weight_decay": 0.1,
            "precision": "auto",
        },
    ),
    # Three times the tokens of char-10m: a wider layer and more dropout, as the 512-unit one
    # overfits by then. In fp32 (before recurrent dropout) LSTM 1 x 768, dropout 0.25, lr 3e-3
    # reached 1.425 (4,335 steps; lr 2e-3: 1.433-1.442; LSTM 2 x 512: 1.434). In bf16, with
    # recurrent dropout 0.25 (the best regulariser at 10 minutes), 1.415 (11,961 steps); with
    # 1,024 units 1.411 (7,254 steps), within one seed's spread, so the smaller layer stays: on a
    # CPU without bf16 it gets 1.7x fewer steps (fp32 on this one: 7,052 steps, 1.430), fewer
    # still with 1,024 units. AdamW's weight decay 0.1 (as in char-10m) then gave 1.390 and 1.388
    # (seeds 1 and 2, 11,913 and 11,488 steps): the moonshot of 1.40 in 30 minutes.
    Recipe(
        "char-30m",
        seconds=1800,
        note=tuned(1800),
        data={"batch_size": 32, "seq_len": 64},
        model={
            "cell": "lstm",
            "hidden_size": 768,
            "num_layers": 1,
            "embedding_size": 64,
            "dropout": 0.25,
            "recurrent_dropout": 0.25,
        },
        train={
            "lr": 3e-3,
            "warmup": 50,
            "eval_every": 2000,
            "min_lr_ratio": 0.02,
            "weight_decay": 0.1,
            "precision": "auto",
        },
    ),
]

# Word level, with the adaptive softmax (the plain output layer over 25,000 words costs 4.5 times
# as much per token here). Measured on Tiny Shakespeare's words (bench/lm_text.py): valid
# perplexity 324 in 230 s (700 steps on a slow day); on a day 1.8x as fast it overfit (351,
# 342 evaluated every 100 steps), and recurrent dropout brought it back: 0.35 324.4, 0.25 326.3.
# With the fused AdamW (1.5x the steps) it overfit again (347, 352 by 1,300-1,480 steps); the
# weights' moving average (ema 0.99) reaches its best in 3 epochs whatever the machine's speed:
# 316 then (319 against 322 on a slower day).
# Tried and not kept: LSTM 2 x 200 with batches of 64 (487: too few steps in the time),
# embedding 200 (375; with recurrent dropout 0.25, 355), bf16 (365), weight dropout 0.2 (371),
# the input tied to the adaptive softmax (`tie_weights`: 359 against 352 the same hour),
# weight decay 0.1 or 0.3 (315.5, 318.6; with 600 units 311.8).
# Word features (each word's input also sums vectors of its core and its shape: "King," is
# king + |Title|,; models/word_features.py) then gave 282.4 and 281.2 (seeds 1 and 2) against
# 316.4 without them the same morning (Intel Xeon); embedding dropout 0.1 beside them, 289.4.
# With the features the model needs less dropout: 0.4 gave 277.8 and 278.4 (seeds 1 and 2),
# where 512 units gave 277.4 and 279.1 in 26% fewer steps, 640 units 278.3.
WORD = [
    Recipe(
        "word-4m",
        seconds=230,
        note=tuned(230),
        data={"batch_size": 32, "seq_len": 35},
        model={
            "cell": "lstm",
            "hidden_size": 400,
            "num_layers": 1,
            "dropout": 0.4,
            "recurrent_dropout": 0.35,
            "output": "adaptive",
            "word_features": True,
        },
        train={"lr": 3e-3, "eval_every": 100, "ema": 0.99},
    ),
]

RECIPES = {"char": CHAR, "word": WORD}


def recipe_for(level: str, seconds: float) -> Recipe:
    """The recipe of `level` ("char" or "word") tuned for the budget nearest to `seconds`."""
    return min(RECIPES[level], key=lambda recipe: abs(math.log(seconds / recipe.seconds)))
