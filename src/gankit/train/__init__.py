"""Training: the Trainer (one step), the run loop, checkpoints and multi-process data parallelism."""
