"""The offline evaluator classifiers: shipped weights, the feature-extractor contract, bad files,
and training end to end on the 8×8 digits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from gankit.errors import UserError
from gankit.metrics.classifier import WEIGHTS_DIR, load_classifier
from gankit.metrics.train_classifier import accuracy, augment, load_split, main, train_classifier


def _split_or_skip(dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        return load_split(dataset, split)
    except UserError as exc:
        pytest.skip(f"{dataset} {split} data not found (set $GANKIT_DATA to the IDX files' folder): {exc}")


def _record(dataset: str) -> dict:
    return json.loads((WEIGHTS_DIR / f"{dataset}.json").read_text())


# ------------------------------------------------------------------ shipped weights


def test_digits_classifier_reproduces_its_recorded_accuracy():
    classifier = load_classifier("digits")
    images, labels = load_split("digits", "test")
    record = _record("digits")
    assert len(images) == record["test_images"] == 359
    assert accuracy(classifier, images, labels) == pytest.approx(record["test_accuracy"], abs=1e-9)
    assert record["test_accuracy"] >= 0.97


@pytest.mark.parametrize("dataset, threshold, recorded", [("mnist", 0.985, 0.99), ("fashion-mnist", 0.91, 0.92)])
def test_shipped_classifier_is_accurate_on_the_test_split(dataset, threshold, recorded):
    images, labels = _split_or_skip(dataset, "test")
    assert _record(dataset)["test_accuracy"] >= recorded
    assert accuracy(load_classifier(dataset), images[:2000], labels[:2000]) >= threshold


def test_records_describe_their_weights():
    for dataset in ("mnist", "fashion-mnist", "digits"):
        record = _record(dataset)
        assert record["name"] == f"{dataset}-classifier"
        assert record["command"].startswith(f"python -m gankit.metrics.train_classifier {dataset} ")
        assert {"epochs", "seed", "data", "torch", "weights_sha256"} <= record.keys()
        assert (WEIGHTS_DIR / f"{dataset}.safetensors").stat().st_size < 2_000_000
        assert load_classifier(dataset).sha256 == record["weights_sha256"]


# ------------------------------------------------------------------ the feature-extractor contract


def test_features_have_the_documented_shape_and_are_deterministic():
    classifier = load_classifier("digits")
    shape = (classifier.name, classifier.dim, classifier.num_classes, classifier.resolution)
    assert shape == ("digits-classifier", 128, 10, 8)
    images, _ = load_split("digits", "test")
    classifier.train()  # an evaluator stays in eval mode whatever its parent module does
    features, logits = classifier(images[:50])
    assert features.shape == (50, 128) and features.dtype == torch.float32
    assert logits.shape == (50, 10) and logits.dtype == torch.float32
    assert not features.requires_grad
    again, _ = classifier(images[:50])
    assert torch.equal(features, again)
    alone, _ = classifier(images[:1])  # eval-mode batch norm: an image's features ignore its batch
    assert torch.allclose(alone, features[:1], atol=1e-5)


def test_other_resolutions_are_resized():
    classifier = load_classifier("digits")
    images, labels = load_split("digits", "test")
    big = torch.nn.functional.interpolate(images.float(), size=(32, 32), mode="nearest").to(torch.uint8)
    features, logits = classifier(big)
    assert features.shape == (len(big), 128)
    assert (logits.argmax(1) == labels).float().mean() > 0.9  # shrinking back with antialiasing keeps the digits


def test_wrong_channels_or_dtype_is_a_user_error():
    classifier = load_classifier("digits")
    with pytest.raises(UserError, match="1-channel"):
        classifier(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(UserError, match="uint8"):
        classifier(torch.zeros(2, 1, 8, 8))


# ------------------------------------------------------------------ bad names and files


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(UserError, match="mnist, fashion-mnist, digits"):
        load_classifier("cifar10")


def test_truncated_weights_name_the_file(tmp_path: Path):
    path = tmp_path / "digits.safetensors"
    blob = (WEIGHTS_DIR / "digits.safetensors").read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(UserError, match="digits.safetensors"):
        load_classifier("digits", path)
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match="corrupt"):
        load_classifier("digits", path)
    with pytest.raises(UserError, match="cannot read"):
        load_classifier("digits", tmp_path / "missing.safetensors")


def test_modified_weights_fail_their_recorded_checksum(tmp_path: Path):
    shutil.copy(WEIGHTS_DIR / "digits.json", tmp_path / "digits.json")
    blob = bytearray((WEIGHTS_DIR / "digits.safetensors").read_bytes())
    blob[-1] ^= 0xFF  # one flipped bit in a weight: still a valid safetensors file
    (tmp_path / "digits.safetensors").write_bytes(bytes(blob))
    with pytest.raises(UserError, match="SHA-256"):
        load_classifier("digits", tmp_path / "digits.safetensors")


def test_weights_of_another_dataset_are_refused():
    with pytest.raises(UserError, match="holds the digits classifier"):
        load_classifier("mnist", WEIGHTS_DIR / "digits.safetensors")


# ------------------------------------------------------------------ training


def test_digits_split_is_fixed_and_disjoint():
    train_images, _ = load_split("digits", "train")
    test_images, _ = load_split("digits", "test")
    assert (len(train_images), len(test_images)) == (1438, 359)
    assert torch.equal(load_split("digits", "test")[0], test_images)


def test_augment_translates_and_mirrors():
    generator = torch.Generator().manual_seed(0)
    images = torch.zeros(64, 1, 8, 8, dtype=torch.uint8)
    images[:, :, 3:5, 2:5] = torch.arange(1, 7, dtype=torch.uint8).view(2, 3)
    assert torch.equal(augment(images, 0, False, generator), images)
    moved = augment(images, 1, True, generator)
    assert moved.shape == images.shape
    assert torch.equal(moved.sum((1, 2, 3)), images.sum((1, 2, 3)))  # the content moved, nothing was lost
    assert len({tuple(m.nonzero()[0].tolist()) for m in moved}) > 1


def test_training_end_to_end_is_loadable_and_reproducible(tmp_path: Path):
    record = train_classifier("digits", tmp_path / "a", epochs=1, seed=3)
    assert 0.0 <= record["test_accuracy"] <= 1.0 and record["epochs"] == 1 and record["seed"] == 3
    assert json.loads((tmp_path / "a" / "digits.json").read_text()) == record
    classifier = load_classifier("digits", tmp_path / "a" / "digits.safetensors")
    images, labels = load_split("digits", "test")
    assert accuracy(classifier, images, labels) == record["test_accuracy"]
    assert main(["digits", "--epochs", "1", "--seed", "3", "--threads", "1", "--out", str(tmp_path / "b")]) == 0
    again = json.loads((tmp_path / "b" / "digits.json").read_text())
    assert again["weights_sha256"] == record["weights_sha256"]
