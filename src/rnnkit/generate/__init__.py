"""Generating from trained models, one loop for every kind:

sampler.py   the one sampler: logits -> a token (temperature, top-k, top-p) or 0/1 keys
loop.py      the one loop: prime once, then draw, yield, feed back; token masks
fast.py      FastStep: a language model's step for sampling, without per-call overhead
music.py     pieces from piano-roll and melody models (on the loop)
"""
