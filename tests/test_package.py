"""Importing rnnkit: OpenMP's threads sleep while they wait, unless the user chose otherwise."""

import os
import subprocess
import sys

import pytest

SHOW = "import os, sys; {first}import rnnkit; print(os.environ.get('OMP_WAIT_POLICY'))"


def policy_after(first: str = "", **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    command = [sys.executable, "-c", SHOW.format(first=first)]
    done = subprocess.run(command, env={**base, **env}, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("first", "env", "expected"),
    [
        ("", {}, "PASSIVE"),  # before torch loads: threads sleep
        ("", {"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),  # the user's choice stays
        ("import torch; ", {}, "None"),  # torch already loaded: too late, nothing is changed
    ],
)
def test_import_sets_the_wait_policy_only_when_it_can_matter(first, env, expected):
    assert policy_after(first, **env) == expected
