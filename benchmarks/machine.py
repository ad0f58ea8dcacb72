"""The machine a benchmark ran on, named the same way in every table of docs/RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer read next measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model with its core and thread counts."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), model)
    return f"{model}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
