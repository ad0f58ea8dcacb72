"""The study folder: everything one study needs, so it can be served, resumed and reported from the
folder alone.

    STUDY/study.json      the manifest: protocol, settings, sources, and what each image id is
    STUDY/images/<id>.png every image shown, stored once, at its own size (the page scales it up)
    STUDY/answers.sqlite  the answers (store.py)
    STUDY/report.*        written by `gankit human-eval report`

Image ids are random (16 hex digits), so neither an id nor the file list says which images are real.
The folder is built beside its final place and renamed into it, so a crash while making a study
leaves no half-made study behind; the manifest is written atomically.

A study is never remade over an earlier one: `open_study` resumes an existing study and refuses, in
one line, a request whose protocol, settings or sources differ from the ones it was made with.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gankit.errors import UserError, first_line
from gankit.files import atomic_write_text, replace_folder
from gankit.human_eval.protocol import PROTOCOLS, Protocol
from gankit.human_eval.sources import SourceSpec, load_fake, load_real, parse_fake, parse_real

FORMAT = "gankit-human-eval/1"
MANIFEST = "study.json"
DATABASE = "answers.sqlite"
DEFAULT_PROTOCOL = "hype-inf"
# Scored images per judge and fake source: HYPE-∞ shows "each evaluator a total of 100 images: 50 real
# and 50 fake"; a HYPE-time block lasts "150 images (50% generated, 50% real)" (Zhou et al. 2019).
DEFAULT_TRIALS = {"hype-inf": 100, "fixed": 100, "hype-time": 150}
DEFAULT_PRACTICE = 4
DEFAULT_ATTENTION = 4
MAX_FAKES = 2
TILES = 4  # an attention-check image is the real one cut into TILES×TILES shuffled tiles


@dataclass
class StudyRequest:
    """What `gankit human-eval serve` asks for; None means "as the study already has it" when
    resuming, and the default when making a new study."""

    real: str | None = None
    fakes: list[str] = field(default_factory=list)
    protocol: str | None = None
    exposure_ms: int | None = None
    trials: int | None = None
    images: int | None = None
    practice: int | None = None
    attention: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class ImageInfo:
    id: str
    role: str  # real, fake, attention, practice
    source: str  # "real", the fake source's label, "attention" or "practice"
    truth: str  # real or fake
    track: int | None = None  # the fake source's index, for fakes


@dataclass
class Study:
    path: Path
    id: str
    protocol: Protocol
    trials: int
    practice: int
    attention: int
    seed: int
    real: SourceSpec
    fakes: list[SourceSpec]
    labels: list[str]
    shape: tuple[int, int, int]
    images: dict[str, ImageInfo]
    steps: list[int | None]

    @property
    def database(self) -> Path:
        return self.path / DATABASE

    def pool(self, role: str, track: int | None = None) -> list[str]:
        """Ids of the images with `role` (and fake source `track`), in a fixed order."""
        return sorted(i.id for i in self.images.values() if i.role == role and (track is None or i.track == track))

    def image_file(self, image_id: str) -> Path | None:
        """The PNG of a known image id; None for anything else (never a path built from input)."""
        return self.path / "images" / f"{image_id}.png" if image_id in self.images else None

    def settings(self) -> dict:
        return {
            "protocol": self.protocol.to_dict(),
            "trials": self.trials,
            "practice": self.practice,
            "attention": self.attention,
            "seed": self.seed,
            "real": self.real.to_dict(),
            "fakes": [f.to_dict() for f in self.fakes],
        }


def open_study(path: Path, request: StudyRequest) -> Study:
    """Resume the study in `path` (checking the request agrees with it), or make it there."""
    path = Path(path).resolve()  # a name to stage the new study beside, even for `.`
    if (path / MANIFEST).is_file():
        study = load_study(path)
        _check_matches(study, request)
        return study
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"{path} exists and is not a gankit human-eval study (no {MANIFEST}); pass another --study")
    return _create(path, request)


def load_study(path: Path) -> Study:
    path = Path(path)
    try:
        raw = json.loads((path / MANIFEST).read_text())
        if not isinstance(raw, dict):
            raise ValueError(f"a JSON {type(raw).__name__}, not an object")
        if raw.get("format") != FORMAT:
            raise ValueError(f"format {raw.get('format')!r}, not {FORMAT!r}")
        images = {i: ImageInfo(i, **info) for i, info in raw["images"].items()}
        lost = [i for i in images if not (path / "images" / f"{i}.png").is_file()]
        if lost:
            raise UserError(f"{path / 'images'} has lost {len(lost)} of the study's {len(images)} images "
                            f"(such as {lost[0]}.png); the study cannot be shown or reported without them")
        return Study(
            path=path, id=raw["id"], protocol=Protocol(raw["protocol"]["name"], raw["protocol"]["exposure_ms"]),
            trials=raw["trials"], practice=raw["practice"], attention=raw["attention"], seed=raw["seed"],
            real=SourceSpec.from_dict(raw["real"]), fakes=[SourceSpec.from_dict(f) for f in raw["fakes"]],
            labels=raw["labels"], shape=tuple(raw["shape"]), images=images, steps=raw["steps"],
        )
    except FileNotFoundError:
        raise UserError(f"{path} is not a gankit human-eval study (no {MANIFEST})") from None
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise UserError(f"{path / MANIFEST} is not a readable gankit human-eval manifest ({first_line(exc)})") from None
    except KeyError as exc:
        raise UserError(f"{path / MANIFEST} is not a readable gankit human-eval manifest (no {exc.args[0]!r})") from None


def _settings_of(request: StudyRequest) -> dict:
    """The request's settings with defaults filled in, validated."""
    protocol = request.protocol or DEFAULT_PROTOCOL
    if protocol not in PROTOCOLS:
        raise UserError(f"--protocol {protocol}: choose one of {', '.join(PROTOCOLS)}")
    if protocol == "fixed" and request.exposure_ms is None:
        raise UserError("--protocol fixed needs --exposure-ms (e.g. --exposure-ms 250)")
    if protocol != "fixed" and request.exposure_ms is not None:
        raise UserError(f"--exposure-ms is for --protocol fixed; {protocol} sets its own exposure times")
    if request.exposure_ms is not None and not 10 <= request.exposure_ms <= 10_000:
        raise UserError(f"--exposure-ms must be between 10 and 10000, got {request.exposure_ms}")
    if request.real is None:
        raise UserError("a new study needs --real (a data set name such as fashion-mnist, or a folder of real images)")
    if not 1 <= len(request.fakes) <= MAX_FAKES:
        raise UserError("a new study needs one or two --fake sources (a run folder, RUN_DIR@STEP or an image folder), "
                        f"got {len(request.fakes)}")
    trials = request.trials if request.trials is not None else DEFAULT_TRIALS[protocol] * len(request.fakes)
    if trials < 2 * len(request.fakes) or trials % (2 * len(request.fakes)):
        raise UserError(f"--trials must be a positive multiple of {2 * len(request.fakes)} "
                        f"(half real, half fake, split evenly over the fake sources), got {trials}")
    for name, value in (("--practice", request.practice), ("--attention", request.attention), ("--seed", request.seed)):
        if value is not None and value < 0:
            raise UserError(f"{name} must be zero or more, got {value}")
    return {
        "protocol": {"name": protocol, "exposure_ms": request.exposure_ms},
        "trials": trials,
        "practice": request.practice if request.practice is not None else DEFAULT_PRACTICE,
        "attention": request.attention if request.attention is not None else DEFAULT_ATTENTION,
        "seed": request.seed if request.seed is not None else 0,
        "real": parse_real(request.real).to_dict(),
        "fakes": [parse_fake(f).to_dict() for f in request.fakes],
    }


def _check_matches(study: Study, request: StudyRequest) -> None:
    """Refuse a resume whose explicit options disagree with the study: its answers would mean something else."""
    have = study.settings()
    asked = {
        "protocol": request.protocol and {"name": request.protocol, "exposure_ms": request.exposure_ms},
        "trials": request.trials,
        "practice": request.practice,
        "attention": request.attention,
        "seed": request.seed,
        "real": request.real and parse_real(request.real).to_dict(),
        "fakes": [parse_fake(f).to_dict() for f in request.fakes] if request.fakes else None,
    }
    if request.protocol is None and request.exposure_ms is not None:
        asked["protocol"] = {"name": study.protocol.name, "exposure_ms": request.exposure_ms}
    for key, value in asked.items():
        if value is not None and value != have[key]:
            raise UserError(f"{study.path} is a study with {key} {_show(have[key])}, not {_show(value)}; "
                            "resume it without that option or pass another --study folder")
    if request.images is not None and request.images != len(study.pool("fake", 0)):
        raise UserError(f"{study.path} was made with --images {len(study.pool('fake', 0))}; "
                        "resume it without --images or pass another --study folder")


def _show(value: object) -> str:
    if isinstance(value, dict) and "name" in value:
        return value["name"] + (f" at {value['exposure_ms']} ms" if value.get("exposure_ms") else "")
    if isinstance(value, dict):
        return SourceSpec.from_dict(value).label
    if isinstance(value, list):
        return " and ".join(_show(v) for v in value)
    return str(value)


def _create(path: Path, request: StudyRequest) -> Study:
    from gankit.report.plots import single_image

    settings = _settings_of(request)
    real_spec = SourceSpec.from_dict(settings["real"])
    fake_specs = [SourceSpec.from_dict(f) for f in settings["fakes"]]
    trials, practice, attention, seed = (settings[k] for k in ("trials", "practice", "attention", "seed"))
    per_fake = request.images if request.images is not None else trials // 2 // len(fake_specs)
    if per_fake < trials // 2 // len(fake_specs):
        seen = trials // 2 // len(fake_specs)
        raise UserError(f"--images {per_fake} is fewer than one judge sees of each fake source ({seen})")
    n_real = per_fake * len(fake_specs)  # as many real images as fakes, so every judge can be balanced

    real = load_real(real_spec)
    practice_real, practice_broken = (practice + 1) // 2, practice // 2
    needed = n_real + practice_real + practice_broken + attention
    if len(real) < needed:
        raise UserError(f"--real {real_spec.label} has {len(real)} images; this study needs {needed} "
                        f"({n_real} to judge, {practice} for practice, {attention} attention checks)")
    rng = np.random.default_rng(seed)
    order = rng.choice(len(real), needed, replace=False)
    shape = tuple(int(s) for s in real.shape[1:])
    pictures: list[tuple[np.ndarray, str, str, str, int | None]] = []  # image, role, source, truth, track
    cut = np.cumsum([n_real, practice_real, practice_broken])
    pictures += [(real[i], "real", "real", "real", None) for i in order[: cut[0]]]
    pictures += [(real[i], "practice", "practice", "real", None) for i in order[cut[0] : cut[1]]]
    pictures += [(broken(real[i], rng), "practice", "practice", "fake", None) for i in order[cut[1] : cut[2]]]
    pictures += [(broken(real[i], rng), "attention", "attention", "fake", None) for i in order[cut[2] :]]

    labels = _labels(fake_specs)
    steps: list[int | None] = []
    for track, spec in enumerate(fake_specs):
        fakes, step = load_fake(spec, per_fake, seed + 1 + track, shape)
        steps.append(step)
        pictures += [(image, "fake", labels[track], "fake", track) for image in fakes]

    def fill(folder: Path) -> None:
        images: dict[str, dict] = {}
        for image, role, source, truth, track in pictures:
            image_id = secrets.token_hex(8)
            single_image(folder / "images" / f"{image_id}.png", image)
            images[image_id] = {"role": role, "source": source, "truth": truth, "track": track}
        manifest = {
            "format": FORMAT,
            "id": secrets.token_hex(8),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **settings,
            "labels": labels,
            "steps": steps,
            "shape": list(shape),
            "images": dict(sorted(images.items())),
        }
        atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")

    try:
        replace_folder(path, fill)  # `path` is absent or empty (open_study checked)
    except OSError as exc:  # an unwritable or full place for the study: the user's to fix
        raise UserError(f"cannot write the study folder {path}: {exc.strerror or exc}") from None
    return load_study(path)


def _labels(specs: list[SourceSpec]) -> list[str]:
    labels = [spec.label for spec in specs]
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({i + 1})" for i, label in enumerate(labels)]
    return labels


def broken(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An obviously broken image for attention checks and practice: the image cut into TILES×TILES
    tiles, shuffled, every other tile in negative. Any attentive judge calls it fake at any exposure."""
    out = image.copy()
    size = image.shape[-1] // TILES
    if size == 0:
        return 255 - out
    tiles = [image[:, r * size : (r + 1) * size, c * size : (c + 1) * size] for r in range(TILES) for c in range(TILES)]
    for k, t in enumerate(rng.permutation(len(tiles))):
        r, c = divmod(k, TILES)
        tile = tiles[t] if (r + c) % 2 else 255 - tiles[t]
        out[:, r * size : (r + 1) * size, c * size : (c + 1) * size] = tile
    return out
