"""rnnkit's benchmarks: `python -m bench <suite>`, one module per suite (bench/layers.py, ...).

A suite is a module here with `main(argv) -> int`; it prints its table and writes its own section
of docs/BENCHMARKS.md (see bench/report.py), with the machine it ran on (bench/machine.py).
"""

# Before anything loads torch, so that torch's threads wait as they do for rnnkit's users
# (rnnkit/__init__.py: OMP_WAIT_POLICY).
import rnnkit  # noqa: F401
