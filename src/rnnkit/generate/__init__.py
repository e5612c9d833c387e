"""Sampling from trained models: sampler.py holds the one sampler every task uses."""
