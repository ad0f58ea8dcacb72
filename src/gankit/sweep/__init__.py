"""`gankit sweep`: many runs of one experiment, on an Optuna study (see engine.py for the design)."""

from gankit.sweep.engine import Sweep, run_sweep, status_line, table, trials_json
from gankit.sweep.spec import SweepSpec, load_spec
