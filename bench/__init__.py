"""rnnkit's benchmarks: `python -m bench <suite>`, one module per suite (bench/layers.py, ...).

A suite is a module here with `main(argv) -> int`; it prints its table and writes its own section
of docs/BENCHMARKS.md (see bench/report.py), with the machine it ran on (bench/machine.py).
"""
