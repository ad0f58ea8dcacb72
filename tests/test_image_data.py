"""Image data sources: IDX files, image folders, torchvision sets, the 8×8 digits — and bad input."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from gankit.config import build_config
from gankit.data import ImageSource, make_source
from gankit.data.idx import read_idx
from gankit.errors import UserError
from tests.imagedata import idx_bytes, write_idx_set, write_png_header


def source(data: dict) -> ImageSource:
    cfg = build_config({"data": data, "train": {"steps": 1}, "model": {"g": {"output": _output(data)}}})
    return make_source(cfg.data)


def _output(data: dict) -> str:
    return "sigmoid" if list(data.get("range", [-1, 1])) == [0, 1] else "tanh"


# ------------------------------------------------------------------------------------ IDX files


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.gz" if gz else "a")
    path.write_bytes(gzip.compress(idx_bytes(array)) if gz else idx_bytes(array))
    assert torch.equal(read_idx(path), torch.from_numpy(array))


def test_truncated_idx_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((5, 28, 28), np.uint8))[:-100])
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte: IDX file truncated: .* needs 3920 bytes of data, found 3820"):
        read_idx(path)


def test_truncated_gzip_and_bad_magic_are_errors(tmp_path):
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 4), np.uint8)))[:-12])
    with pytest.raises(UserError, match="cut.gz: cannot read it"):
        read_idx(cut)
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x89PNG not idx")
    with pytest.raises(UserError, match="not an IDX file"):
        read_idx(junk)


def test_an_empty_set_or_a_label_outside_the_ten_classes_is_refused(tmp_path):
    write_idx_set(tmp_path / "empty", n=0)
    with pytest.raises(UserError, match="train-images-idx3-ubyte.gz: the file holds no images"):
        source({"name": "mnist", "root": str(tmp_path / "empty")})
    write_idx_set(tmp_path / "bad")
    labels = np.arange(40, dtype=np.uint8) % 10
    labels[7] = 200
    (tmp_path / "bad" / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte.gz: label 200 is not a fashion-mnist class \(0-9\)"):
        source({"name": "fashion-mnist", "root": str(tmp_path / "bad")})


def test_mnist_from_root_scaled_to_the_range(tmp_path):
    images = write_idx_set(tmp_path / "m")
    src = source({"name": "mnist", "root": str(tmp_path / "m")})
    assert src.shape == (1, 28, 28) and len(src) == 40
    assert torch.equal(src.labels, torch.arange(40) % 10)
    batch = src.sample(8, torch.Generator().manual_seed(0))
    assert batch.min() >= -1 and batch.max() <= 1
    assert torch.equal(src.to_uint8(src.to_pixels(torch.from_numpy(images[:, None]))), torch.from_numpy(images[:, None]))
    unit = source({"name": "mnist", "root": str(tmp_path / "m"), "range": [0, 1]})
    assert float(unit.sample(40, torch.Generator().manual_seed(0)).max()) == pytest.approx(225 / 255)


@pytest.mark.parametrize("layout", ["flat", "named", "torchvision"])
def test_mnist_found_through_the_data_root_variable(tmp_path, monkeypatch, layout):
    folder = {"flat": tmp_path, "named": tmp_path / "fashion-mnist", "torchvision": tmp_path / "FashionMNIST" / "raw"}[layout]
    write_idx_set(folder, gz=layout != "flat", split="test")
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path))
    assert len(source({"name": "fashion-mnist", "split": "test"})) == 40


def test_missing_mnist_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path))
    with pytest.raises(UserError) as err:
        source({"name": "mnist"})
    message = str(err.value)
    assert "mnist train IDX files" in message and str(tmp_path / "MNIST" / "raw") in message
    assert "data.download=true" in message and "\n" not in message


def test_resolution_resizes_every_image(tmp_path):
    write_idx_set(tmp_path)
    src = source({"name": "mnist", "root": str(tmp_path), "resolution": 32})
    assert src.shape == (1, 32, 32)
    # a constant image stays constant (to within rounding) after antialiased resizing
    assert int(src.images[3].max()) - int(src.images[3].min()) <= 1


def test_labels_must_match_images(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(39, np.uint8))))
    with pytest.raises(UserError, match="39 labels for 40 images"):
        source({"name": "mnist", "root": str(tmp_path)})


# ---------------------------------------------------------------------------------- image folders


def _write_images(folder):
    (folder / "nested" / "deeper").mkdir(parents=True)
    Image.new("RGB", (40, 20), (255, 0, 0)).save(folder / "wide.png")
    Image.new("RGB", (20, 30), (0, 255, 0)).save(folder / "nested" / "tall.jpg", quality=95)
    Image.new("L", (16, 16), 200).save(folder / "nested" / "deeper" / "grey.webp", lossless=True)
    (folder / "notes.txt").write_text("not an image")


def test_folder_reads_png_jpeg_webp_recursively_resized_and_cropped(tmp_path):
    _write_images(tmp_path)
    src = source({"name": "folder", "path": str(tmp_path), "resolution": 8})
    assert src.shape == (3, 8, 8) and len(src) == 3
    by_name = {name: src.images[i] for i, name in enumerate(["nested/deeper/grey.webp", "nested/tall.jpg", "wide.png"])}
    assert by_name["wide.png"][0].float().mean() > 250 and by_name["wide.png"][1].float().mean() < 5
    assert by_name["nested/tall.jpg"][1].float().mean() > 240
    assert torch.all(by_name["nested/deeper/grey.webp"] == 200)
    grey = source({"name": "folder", "path": str(tmp_path), "resolution": 8, "channels": 1})
    assert grey.shape == (1, 8, 8)


def test_corrupt_image_is_named_or_skipped(tmp_path, capsys):
    _write_images(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(UserError, match=r"corrupt image .*broken\.png.*data\.skip_corrupt=true"):
        source({"name": "folder", "path": str(tmp_path), "resolution": 8})
    src = source({"name": "folder", "path": str(tmp_path), "resolution": 8, "skip_corrupt": True})
    assert len(src) == 3
    assert "skipping corrupt image" in capsys.readouterr().err


@pytest.mark.parametrize(
    "side",
    [100_000, 10_000],  # above twice Pillow's MAX_IMAGE_PIXELS (an error there), and above it (a warning there)
    ids=["bomb", "warned-bomb"],
)
def test_a_decompression_bomb_is_named_before_it_is_decoded_or_skipped(tmp_path, capsys, side):
    _write_images(tmp_path)
    write_png_header(tmp_path / "bomb.png", side, side)
    with pytest.raises(UserError, match=r"corrupt image .*bomb\.png: too large to decode safely .*data\.skip_corrupt=true"):
        source({"name": "folder", "path": str(tmp_path), "resolution": 8})
    src = source({"name": "folder", "path": str(tmp_path), "resolution": 8, "skip_corrupt": True})
    assert len(src) == 3
    assert "skipping corrupt image" in capsys.readouterr().err


@pytest.mark.parametrize("error", [struct.error("unpack requires a buffer"), EOFError(), IndexError("tile"),
                                   ZeroDivisionError("division by zero"), SyntaxError("broken PNG")])
def test_whatever_pillow_raises_while_decoding_names_the_file(tmp_path, monkeypatch, error):
    """Pillow's decoders raise many types besides OSError on crafted files; each is the file's fault."""
    _write_images(tmp_path)

    def fail(self):
        raise error

    monkeypatch.setattr(ImageFile.ImageFile, "load", fail)  # what every format's decoder runs
    with pytest.raises(UserError, match=rf"corrupt image .*grey\.webp: {type(error).__name__}"):
        source({"name": "folder", "path": str(tmp_path), "resolution": 8})


def test_a_folder_of_class_folders_gives_a_fair_reference_subset(tmp_path):
    """Read in sorted order, its first half would be one class; the reference is shuffled."""
    from gankit.config import build_data_config
    from gankit.metrics.reference import reference_from_data

    for name, grey in (("a-dark", 0), ("b-light", 255)):
        (tmp_path / name).mkdir()
        for i in range(20):
            Image.new("L", (8, 8), grey).save(tmp_path / name / f"{i:02d}.png")
    cfg = build_data_config({"name": "folder", "path": str(tmp_path), "resolution": 8, "channels": 1})
    images = reference_from_data(cfg).images
    first_half = images[:20].flatten(1)[:, 0]
    assert 5 <= int((first_half == 255).sum()) <= 15
    assert torch.equal(reference_from_data(cfg).images, images)  # the same order each time


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        source({"name": "folder", "path": str(tmp_path / "nope"), "resolution": 8})
    with pytest.raises(UserError, match="no images"):
        source({"name": "folder", "path": str(tmp_path), "resolution": 8})


# -------------------------------------------------------------------------- torchvision and digits


def test_torchvision_set_missing_offline_is_one_clear_error(tmp_path, monkeypatch):
    with pytest.raises(UserError, match=r"cifar10 not found under .*data\.download=true"):
        source({"name": "cifar10", "root": str(tmp_path)})
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    with pytest.raises(UserError, match="set data.root or \\$GANKIT_DATA"):
        source({"name": "svhn"})


def test_cifar10_from_a_local_root(tmp_path, monkeypatch):
    """torchvision's CIFAR-10 layout (cifar-10-batches-py) read into uint8 N×3×32×32 with labels.
    The fixture files are tiny, so torchvision's MD5 check of the real files is switched off."""
    import pickle

    import torchvision.datasets.cifar as cifar

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i, (name, _) in enumerate(cifar.CIFAR10.train_list + cifar.CIFAR10.test_list):
        pixels = np.full((2, 3 * 32 * 32), 10 * i, np.uint8)
        pixels[:, 1024:2048] = 200  # the green plane, in CIFAR's channel-major rows
        (folder / name).write_bytes(pickle.dumps({"data": pixels, "labels": [i, i + 1]}))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(k) for k in range(10)]}))
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
    src = source({"name": "cifar10", "root": str(tmp_path)})
    assert src.shape == (3, 32, 32) and len(src) == 10  # five training batches of 2
    assert src.labels.tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert int(src.images[2, 0, 5, 5]) == 10 and int(src.images[2, 1, 5, 5]) == 200


def test_digits_are_embedded():
    src = source({"name": "digits"})
    assert src.shape == (1, 8, 8) and len(src) == 1797
    assert int(src.images.max()) == 255 and sorted(src.labels.unique().tolist()) == list(range(10))


def test_g_output_must_fit_the_pixel_range():
    with pytest.raises(UserError, match="model.g.output=tanh does not fit data.range"):
        build_config({"data": {"name": "digits", "range": [0, 1]}, "train": {"steps": 1},
                      "model": {"g": {"kind": "dcgan"}, "d": {"kind": "dcgan"}}})
