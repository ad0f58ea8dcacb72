"""`gankit train | sample | eval | human-eval | sweep | presets`: parse the command line, validate, call the library.

Any `UserError` becomes one line on stderr and exit status 2; a diverged run exits with status 3
after keeping its last good checkpoint. Nothing here does work the library could do itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Sequence

from gankit.errors import USER_PATH_ERRNOS, RankLost, TrainingDiverged, UserError, first_line
from gankit.metrics.registry import default_metrics, metric_names

if TYPE_CHECKING:
    from gankit.config import RunConfig

EXIT_USER_ERROR = 2
EXIT_DIVERGED = 3
EXIT_RANK_LOST = 4


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2) like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"gankit: error: {message} (see {self.prog} --help)\n")


def _seed(text: str) -> int:
    """A --seed: a whole number every random generator gankit uses accepts."""
    from gankit.config import SEED_LIMIT

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"takes a whole number from 0 to {SEED_LIMIT - 1}, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description="Train, evaluate and diagnose GANs.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser(
        "train", help="train a preset (or resume a run)",
        epilog="Image data: MNIST / Fashion-MNIST IDX files are looked for in data.root, then in $GANKIT_DATA "
               "(and its mnist/, fashion-mnist/, MNIST/raw subfolders), then for Fashion-MNIST in "
               "/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).",
    )
    source = train.add_mutually_exclusive_group()
    source.add_argument("--preset", default=None, help="named recipe (see `gankit presets`); default toy-grid25")
    source.add_argument("--config", type=Path, help="a YAML config file instead of a preset")
    source.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped run")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set objective.name=wgan-gp (repeatable)")
    train.add_argument("--out", type=Path, help="run folder (default runs/<preset>-<time>)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")

    sample = commands.add_parser("sample", help="write samples from a trained run")
    sample.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    sample.add_argument("-n", type=int, default=1000, help="number of samples (default 1000)")
    sample.add_argument("--out", type=Path, required=True,
                        help="output: .npy, .csv (points), .png (scatter or image grid), or a folder (one PNG per image)")
    sample.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    sample.add_argument("--seed", type=_seed, default=0, help="seed of the latent codes")
    sample.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    sample.add_argument("--class", dest="label", type=int, metavar="K",
                        help="a class-conditional run's class to draw (default: every class in turn)")

    evaluate = commands.add_parser(
        "eval", help="metrics of a run (or a folder of images) against a data set",
        epilog="Feature spaces: inception (the FID Inception-v3; weights from --inception-weights, "
               "$GANKIT_INCEPTION_WEIGHTS or the torch hub cache) or gankit's offline classifiers "
               "(mnist, fashion-mnist, digits). auto: inception when its weights are found, else the "
               "classifier of the reference data. Reference features are cached in $GANKIT_CACHE "
               "(default ~/.cache/gankit).",
    )
    evaluate.add_argument("source", type=Path, metavar="RUN_DIR_OR_IMAGE_FOLDER")
    evaluate.add_argument("--against", metavar="DATA_OR_FOLDER",
                          help="the reference: a data set name (mnist, fashion-mnist, cifar10, ...) or a folder of "
                               "images, served at their own size (pytorch-fid style: gankit eval FOLDER_A --against "
                               "FOLDER_B; ./NAME for a folder named like a data set); default: the run's training "
                               "data; --set data.KEY=VALUE refines it")
    evaluate.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE",
                          help="a setting of the --against data, e.g. --set data.root=/data/mnist")
    evaluate.add_argument("--metrics", help=f"comma-separated: {','.join(metric_names())} (default "
                          f"{','.join(default_metrics())}; modes on stacked-mnist)")
    evaluate.add_argument("--features", default="auto", help="feature space: auto, inception, mnist, fashion-mnist, digits")
    evaluate.add_argument("-n", type=int, default=10_000, help="generated images (default 10000)")
    evaluate.add_argument("--reference-n", type=int, default=10_000, help="reference images (default 10000)")
    evaluate.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    evaluate.add_argument("--seed", type=_seed, default=0,
                          help="seed of the latent codes, or of the images drawn from a folder (-n)")
    evaluate.add_argument("--inception-weights", type=Path, help="pt_inception-2015-12-05-6726825d.pth (or .safetensors)")
    evaluate.add_argument("--out", type=Path, help="JSON file (default for a run: RUN/evals/step-N-<space>.json)")
    evaluate.add_argument("--neighbours", type=Path, metavar="PNG",
                          help="also draw samples beside their nearest reference images (pixels, then features)")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing --neighbours PNG")
    evaluate.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    evaluate.add_argument("--cache", type=Path, help="feature cache folder")

    _human_eval_parser(commands)
    _sweep_parser(commands)
    commands.add_parser("presets", help="list the presets")
    return parser


def _human_eval_parser(commands: argparse._SubParsersAction) -> None:
    human = commands.add_parser(
        "human-eval", help="real-or-fake tests with people, in the browser (HYPE)",
        description="Rapid real-or-fake judgments by people (Zhou et al. 2019, HYPE): serve a study to "
                    "judges' browsers, then report error rates and thresholds with bootstrap intervals.",
    )
    human_commands = human.add_subparsers(dest="human_command", required=True, parser_class=_Parser)
    serve = human_commands.add_parser(
        "serve", help="make (or resume) a study and serve it to judges' browsers",
        epilog="Resuming: run serve again on the same --study folder; options left out keep the study's "
               "values, and options that differ from them are refused. --host 0.0.0.0 serves the local "
               "network on purpose (see docs/human-eval.md).",
    )
    serve.add_argument("--study", type=Path, default=Path("human-eval-study"), metavar="DIR",
                       help="the study folder (default ./human-eval-study); an existing study is resumed")
    serve.add_argument("--real", metavar="DATA_OR_FOLDER", help="real images: a data set name (e.g. fashion-mnist) or a folder")
    serve.add_argument("--fake", action="append", default=[], metavar="RUN_OR_FOLDER",
                       help="fake images: a run folder (latest checkpoint), RUN_DIR@STEP, or a folder; "
                            "give it twice to compare two runs or checkpoints")
    serve.add_argument("--protocol", choices=["hype-time", "hype-inf", "fixed"],
                       help="hype-inf: no time limit (default); hype-time: adaptive exposure staircase; "
                            "fixed: every image for --exposure-ms")
    serve.add_argument("--exposure-ms", type=int, help="exposure of every image with --protocol fixed")
    serve.add_argument("--trials", type=int, help="scored images per judge, half real and half fake (default per fake "
                       "source: 100 for hype-inf and fixed, 150 for hype-time, as in HYPE)")
    serve.add_argument("--images", type=int, help="images of each fake source in the study (default: as many as "
                       "one judge sees, so every judge sees every image); as many real ones")
    serve.add_argument("--practice", type=int, help="practice images with feedback (default 4)")
    serve.add_argument("--attention", type=int, help="attention checks (obviously broken images) per judge (default 4)")
    serve.add_argument("--seed", type=_seed, help="seed of the image selection and the fakes' latent codes (default 0)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    report = human_commands.add_parser("report", help="error rates, thresholds and their intervals: text, JSON and HTML")
    report.add_argument("study_dir", type=Path, metavar="STUDY_DIR")
    report.add_argument("--bootstrap", type=int, help="bootstrap replicates (default 10000, as in HYPE)")


def _sweep_parser(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep", help="many runs of one experiment, on an Optuna study (grid, random or TPE)",
        description="A sweep spec (YAML) names a base preset or config, a search space over config keys, the seeds, "
                    "the metric and the sampler; each trial trains ordinary run folders under SWEEP/trials/.",
        epilog="The study is a SQLite file in the sweep folder unless --storage names a database that workers on "
               "several machines share (postgresql://USER:PASS@HOST/DB, mysql+pymysql://...). A killed worker's "
               "trial is retried, resuming its runs from their last checkpoints. See README, Sweeps.",
    )
    sweep_commands = sweep.add_subparsers(dest="sweep_command", required=True, parser_class=_Parser)
    for name, help_text in [("run", "run (or go on with) the sweep until every trial is settled"),
                            ("status", "one line: trials settled, running, failed, and the best so far"),
                            ("table", "every trial as a Markdown row: its point, state and values")]:
        command = sweep_commands.add_parser(name, help=help_text)
        command.add_argument("spec", type=Path, metavar="SPEC", help="the sweep spec (YAML)")
        command.add_argument("--out", type=Path, metavar="DIR", help="the sweep folder (default ./sweeps/<spec name>)")
        command.add_argument("--storage", metavar="URL",
                             help="the Optuna storage (default: sqlite:///DIR/study.db)")
        if name == "run":
            command.add_argument("--workers", type=int, default=1, help="worker processes on this machine")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "sample":
            return _sample(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "human-eval":
            return _human_eval(args)
        if args.command == "sweep":
            return _sweep(args)
        return _presets()
    except UserError as exc:
        if _rank() == 0 or not isinstance(exc, _EveryRank):  # said once when every process meets it
            rank = f"rank {_rank()}: " if _rank() else ""
            print(f"gankit: error: {rank}{exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `gankit presets | head`: the reader left; stay quiet (Python's advice)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if exc.errno not in USER_PATH_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gankit: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (RuntimeError, MemoryError) as exc:
        if not _out_of_memory(exc):
            raise
        print(f"gankit: error: out of memory ({first_line(exc, 160)}); ask for less: a smaller "
              "train.batch_size, -n or net", file=sys.stderr)
        return EXIT_USER_ERROR
    except (TrainingDiverged, RankLost) as exc:
        print(f"gankit: {exc}", file=sys.stderr)
        return EXIT_DIVERGED if isinstance(exc, TrainingDiverged) else EXIT_RANK_LOST
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130


class _EveryRank(UserError):
    """A refusal of the command line or config: every process of a torchrun launch meets it alike."""


def _rank() -> int:
    """This process's rank in a torchrun launch (0 when launched alone)."""
    from gankit.train.distributed import launched

    return launched()[0]


def _out_of_memory(exc: BaseException) -> bool:
    """An allocation the machine could not serve (torch's CPU and CUDA allocators, or Python's)."""
    text = str(exc)
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def _train(args: argparse.Namespace) -> int:
    try:
        cfg, out, preset = _train_config(args)
    except UserError as exc:
        raise _EveryRank(str(exc)) from None
    from gankit import run

    device = run.pick_device(cfg.train.device)
    earlier_run = None if args.resume is not None else _identity(out / run.RUN_MARKER)
    try:
        with run.Distributed.session(device) as dist:
            summary = run.train(cfg, out, dist, device, resume=args.resume is not None, preset=preset or None,
                                overwrite=args.overwrite)
    except KeyboardInterrupt:
        if _rank() == 0:  # one line for the run, not one per process
            print(f"gankit: interrupted; {_what_is_left(out, earlier_run)}", file=sys.stderr)
        return 130
    if dist.is_main:
        print(summary)
    return 0


def _train_config(args: argparse.Namespace) -> tuple[RunConfig, Path, str | None]:
    """(config, run folder, preset) of a `train` command, checked before any process starts work."""
    import time

    from gankit import config as cfgmod
    from gankit import run
    from gankit.train.batches import check_batch_split
    from gankit.train.distributed import launched

    if args.resume is not None:
        if args.out is not None or args.overwrite:
            raise UserError("--resume continues the run in RUN_DIR; it takes no --out or --overwrite")
        cfg, _ = run.resumed_config(args.resume, args.set)
        preset, out = None, args.resume
    else:
        preset = args.preset if args.preset is not None else ("" if args.config else "toy-grid25")
        raw = cfgmod.load_config_file(args.config) if args.config else cfgmod.load_preset(preset)
        cfg = cfgmod.build_config(raw, args.set)
        name = preset or args.config.stem
        out = args.out or Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        run.check_new_run_dir(out, args.overwrite)
    check_batch_split(cfg.train.batch_size, launched()[1], cfg.model.pack)
    return cfg, out, preset


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file `path` is (a rewrite makes another), or None when there is none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns


def _what_is_left(out: Path, earlier_run: tuple[int, int] | None) -> str:
    """What an interrupted `train` leaves in its run folder, for the message that says so."""
    from gankit import run
    from gankit.train import checkpoint

    if earlier_run is not None and _identity(out / run.RUN_MARKER) == earlier_run:
        return f"{out} still holds the earlier run, untouched"
    steps = checkpoint.list_steps(out) if run.is_run(out) else []
    if not steps:
        return "no checkpoint had been saved: nothing to resume"
    return f"its checkpoint of step {steps[-1]} is intact (resume with: gankit train --resume {out})"


def _sample(args: argparse.Namespace) -> int:
    from gankit.sample import sample_run

    if args.n <= 0:
        raise UserError(f"-n must be a positive number of samples, got {args.n}")
    written = sample_run(args.run_dir, args.n, args.out, args.step, args.seed, args.overwrite, args.label)
    of_class = "" if args.label is None else f" of class {args.label}"
    print(f"wrote {args.n} samples{of_class} to {written}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from gankit.evaluate import EvalRequest, format_table, run_eval

    bad = [item for item in args.set if not item.startswith("data.")]
    if bad:
        raise UserError(f"gankit eval --set takes data.KEY=VALUE settings of the --against data, got {bad[0]!r}")
    if args.set and args.against is None:
        raise UserError("--set data.KEY=VALUE refines --against DATA_OR_FOLDER; name the reference with --against")
    metrics = None if args.metrics is None else [m.strip() for m in args.metrics.split(",") if m.strip()]
    if metrics == []:
        raise UserError(f"--metrics {args.metrics!r} names no metric (e.g. --metrics fid,kid)")
    record = run_eval(EvalRequest(
        source=args.source, against=args.against, data_overrides=args.set, metrics=metrics,
        space=args.features, n=args.n, reference_n=args.reference_n, step=args.step, seed=args.seed,
        inception_weights=args.inception_weights, out=args.out, neighbours=args.neighbours,
        overwrite=args.overwrite, device=args.device, cache=args.cache,
    ))
    print(format_table(record))
    return 0


def _human_eval(args: argparse.Namespace) -> int:
    if args.human_command == "report":
        from gankit.human_eval.report import DEFAULT_BOOTSTRAP, format_summary, write_report

        boots = DEFAULT_BOOTSTRAP if args.bootstrap is None else args.bootstrap
        print(format_summary(write_report(args.study_dir, boots)))
        return 0
    from gankit.human_eval.server import serve_study
    from gankit.human_eval.study import StudyRequest

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, got {args.port}")
    for name in ("trials", "images"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise UserError(f"--{name} must be a positive number, got {getattr(args, name)}")
    request = StudyRequest(
        real=args.real, fakes=args.fake, protocol=args.protocol, exposure_ms=args.exposure_ms, trials=args.trials,
        images=args.images, practice=args.practice, attention=args.attention, seed=args.seed,
    )
    serve_study(args.study, request, args.host, args.port)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from gankit import sweep

    if args.sweep_command == "run" and args.workers <= 0:
        raise UserError(f"--workers must be a positive number, got {args.workers}")
    opened = sweep.Sweep.open(args.spec, args.out, args.storage)
    if args.sweep_command == "run":
        print(sweep.run_sweep(opened, args.workers))
    elif args.sweep_command == "status":
        print(sweep.status_line(opened))
    else:
        print(sweep.table(opened))
    return 0


def _presets() -> int:
    from gankit.config import build_config, load_preset, preset_names

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:{width}s}  {build_config(load_preset(name)).description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
