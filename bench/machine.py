"""The machine a benchmark ran on: CPU model, cores, torch version, threads, GPU."""

from __future__ import annotations

import os

import torch

from rnnkit.devices import cpu_model


def describe(device: str = "cpu") -> dict[str, str]:
    """The facts a reader needs to compare timings: one line each."""
    facts = {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "torch": torch.__version__,
        "torch threads": str(torch.get_num_threads()),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "oneDNN": "yes" if torch.backends.mkldnn.is_available() else "no",
        # Other work on the machine slows every timing; ratios within one run still compare.
        "load average at start": " ".join(f"{load:.1f}" for load in os.getloadavg()),
    }
    # glibc's allocator settings, where set: they decide whether large buffers are faulted in
    # afresh at every call (torch.nn.LSTM's 10,000-12,000 pages a call at (64,100,512,2) in a
    # fresh process, none with both set high: docs/BENCHMARKS.md, Intel section).
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        if name in os.environ:
            facts[name] = os.environ[name]
    if device.startswith("cuda") and torch.cuda.is_available():
        facts["GPU"] = torch.cuda.get_device_name(torch.device(device))
        facts["cuDNN"] = str(torch.backends.cudnn.version())
    return facts


def markdown(facts: dict[str, str]) -> str:
    """The facts as a Markdown list."""
    return "\n".join(f"- {name}: {value}" for name, value in facts.items())
