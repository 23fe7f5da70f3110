"""Corruptions at any image size: the reference's three parameter sets (CIFAR-10-C,
Tiny-ImageNet-C, ImageNet-C) chosen by size or forced, every corruption on non-square and
larger images, 32-pixel outputs as before the sets existed, and the set recorded in the
cache key, the distributions and results.json."""
import importlib
import os
import subprocess

import numpy as np
import pytest

from conftest import ROOT
from test_corruptions import DETERMINISTIC, natural_images
from tfprune import config as config_lib, corruptions as C, distributions, errors, results
from tfprune.corruptions import blur, frost_photographs, parameters
from tfprune.data import Dataset

SHAPES = [(40, 56), (64, 64), (128, 128)]
# The last commit of tfprune/corruptions before the parameter sets: its outputs at 32 px.
BEFORE = "1603c29d95fea23a129a0e4db5d8a4c08cbcd189"


@pytest.fixture(scope="module")
def batches():
    rng = np.random.default_rng(0)
    return {shape: rng.integers(0, 256, (2, *shape, 3), dtype=np.uint8) for shape in SHAPES}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", C.NAMES)
def test_every_corruption_works_at_other_sizes(batches, shape, name):
    x = batches[shape]
    for severity in (1, 5):
        out = C.corrupt(x, name, severity, seed=1)
        assert out.shape == x.shape and out.dtype == np.uint8, (name, severity)
        assert np.array_equal(out, C.corrupt(x, name, severity, seed=1)), (name, severity)
        assert (out != x).any(axis=(1, 2, 3)).all(), (name, severity)
        other = C.corrupt(x, name, severity, seed=2)
        assert np.array_equal(out, other) == (name in DETERMINISTIC), (name, severity)


def test_the_set_follows_the_shorter_side():
    chosen = {shape: parameters.for_size(*shape).name for shape in [
        (32, 32), (40, 56), (45, 300), (46, 46), (64, 64), (300, 100), (127, 127),
        (128, 128), (224, 224), (160, 400)]}
    assert chosen == {
        (32, 32): "cifar10", (40, 56): "cifar10", (45, 300): "cifar10",
        (46, 46): "tinyimagenet", (64, 64): "tinyimagenet", (300, 100): "tinyimagenet",
        (127, 127): "tinyimagenet", (128, 128): "imagenet", (224, 224): "imagenet",
        (160, 400): "imagenet"}
    assert parameters.resolve("imagenet", 32, 32) is parameters.IMAGENET
    assert set(parameters.CHOICES) == {"auto", "cifar10", "tinyimagenet", "imagenet"}
    with pytest.raises(ValueError, match="allowed: auto, cifar10, tinyimagenet, imagenet"):
        parameters.resolve("imagenet_c", 64, 64)


def test_every_set_holds_every_corruption_at_five_severities():
    for chosen in parameters.SETS.values():
        assert set(chosen.rows) == set(C.NAMES), chosen.name
        assert all(len(rows) == 5 for rows in chosen.rows.values()), chosen.name


@pytest.mark.parametrize("shape", SHAPES)
def test_auto_applies_the_set_of_the_size(batches, shape):
    x = batches[shape]
    chosen = parameters.for_size(*shape).name
    for name in ("gaussian_noise", "motion_blur", "fog"):  # three distinct rows at 5
        auto = C.corrupt(x, name, 5, seed=0)
        assert np.array_equal(auto, C.corrupt(x, name, 5, seed=0, params=chosen)), name
        for other in set(parameters.SETS) - {chosen}:
            assert not np.array_equal(auto, C.corrupt(x, name, 5, seed=0, params=other)), name


def _before(tmp_path, monkeypatch):
    """tfprune/corruptions as of BEFORE, imported as the package `corruptions_before`."""
    listing = subprocess.run(["git", "ls-tree", "--name-only", BEFORE, "tfprune/corruptions/"],
                             cwd=ROOT, capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.skip(f"commit {BEFORE[:8]} not in this checkout ({listing.stderr.strip()})")
    package = tmp_path / "corruptions_before"
    package.mkdir()
    for path in listing.stdout.split():
        source = subprocess.run(["git", "show", f"{BEFORE}:{path}"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
        (package / os.path.basename(path)).write_text(
            source.replace("tfprune.corruptions", "corruptions_before"))
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module("corruptions_before")


def test_outputs_at_32_pixels_are_those_of_before(tmp_path, monkeypatch):
    before = _before(tmp_path, monkeypatch)
    x = natural_images(4, 32, seed=11)
    for name in C.NAMES:
        for severity in range(1, 6):
            assert np.array_equal(C.corrupt(x, name, severity, seed=severity),
                                  before.corrupt(x, name, severity, seed=severity)), (
                name, severity)


def test_frost_photographs_at_32_pixels_are_blended_as_before(tmp_path, monkeypatch,
                                                              frost_dir):
    before = _before(tmp_path, monkeypatch)
    x = natural_images(6, 32, seed=12)
    folder = C.find_frost_photographs(frost_dir)
    for severity in range(1, 6):
        assert np.array_equal(
            C.corrupt(x, "frost", severity, seed=severity, frost_photographs=folder),
            before.corrupt(x, "frost", severity, seed=severity, frost_photographs=folder))


def _reference_glass_pass(index, delta, draws):
    """The reference's loop on one image of pixel indices (H, W, 1), with its 'swap'
    statement verbatim (NumPy views make it a copy), neighbour offsets from `draws`."""
    height, width = index.shape[:2]
    x = index.copy()
    for h in range(height - delta, delta, -1):
        for w in range(width - delta, delta, -1):
            dx, dy = draws[0, h - delta - 1, w - delta - 1], draws[1, h - delta - 1, w - delta - 1]
            h_prime, w_prime = h + dy, w + dx
            x[h, w], x[h_prime, w_prime] = x[h_prime, w_prime], x[h, w]
    return x[..., 0].ravel()


@pytest.mark.parametrize("delta", [1, 2, 4])
def test_glass_shuffle_is_the_reference_loop_for_any_neighbourhood(delta):
    n, height, width = 3, 17, 23
    got = blur._glass_pass(n, height, width, delta, np.random.default_rng(delta))
    draws = np.random.default_rng(delta).integers(
        -delta, delta, size=(2, n, height - 2 * delta, width - 2 * delta))
    index = np.arange(height * width).reshape(height, width, 1)
    for i in range(n):
        np.testing.assert_array_equal(got[i], _reference_glass_pass(index, delta, draws[:, i]))


def test_frost_photographs_are_resized_by_the_set_and_always_fit(frost_dir):
    folder = C.find_frost_photographs(frost_dir)
    imagenet = parameters.IMAGENET
    # ImageNet-C crops the photographs as they are: frost1 is 900x600.
    photos = frost_photographs.photograph_textures(folder, 224, imagenet.frost_per_pixel,
                                                   (224, 224))
    assert photos[0].shape == (600, 900, 3)
    # Tiny-ImageNet-C resizes by 0.3 at 64 px: frost2 (560x315) becomes 168x94.
    tiny = parameters.TINYIMAGENET
    photos = frost_photographs.photograph_textures(folder, 64, tiny.frost_per_pixel, (64, 64))
    assert photos[1].shape == (94, 168, 3)
    # A long strip needs photos wider than it: resized up until a crop fits.
    x = np.random.default_rng(0).integers(0, 256, (3, 9, 700, 3), dtype=np.uint8)
    for source in (folder, None):
        out = C.corrupt(x, "frost", 5, seed=0, frost_photographs=source)
        assert out.shape == x.shape and (out != x).any(axis=(1, 2, 3)).all()


def _dataset(shape):
    images = np.random.default_rng(0).integers(0, 256, (6, *shape, 3), dtype=np.uint8)
    labels = np.arange(6, dtype=np.int32) % 3
    return Dataset("digits", "test", images, labels, images, labels, images, labels, 3,
                   (127.0,) * 3, (70.0,) * 3)


def _build(dataset, cache_dir, **eval_values):
    config = config_lib.base()
    config.eval.update(dict(corruptions=("gaussian_noise",), severities=(2,),
                            corruption_source="generated", **eval_values))
    config_lib.validate(config)
    built, _ = distributions.build(dataset, config.eval, config.data, cache_dir, lambda _: None)
    return built


def test_the_set_is_in_the_cache_key_the_source_and_results_json(tmp_path):
    cache_dir = str(tmp_path)
    dataset = _dataset((64, 48))
    auto = _build(dataset, cache_dir)
    forced = _build(dataset, cache_dir, corruption_params="imagenet")
    assert len([f for f in os.listdir(cache_dir) if f.endswith(".npy")]) == 2
    assert auto["gaussian_noise_2"].corruption_params == "tinyimagenet"
    assert "tinyimagenet parameters" in auto["gaussian_noise_2"].source
    assert forced["gaussian_noise_2"].corruption_params == "imagenet"
    assert not np.array_equal(auto["gaussian_noise_2"].images,
                              forced["gaussian_noise_2"].images)
    np.testing.assert_array_equal(  # read back from the cache, not made again
        _build(dataset, cache_dir, corruption_params="imagenet")["gaussian_noise_2"].images,
        forced["gaussian_noise_2"].images)
    outputs = {f"{name}:pred": d.labels for name, d in auto.items()}
    written = results.build({}, auto, dict(outputs=outputs, export={}, params=1), [], {},
                            0.5)
    assert written["corruption_params"] == {"gaussian_noise_2": "tinyimagenet"}


@pytest.mark.parametrize("values,message", [
    (dict(corruption_params="imagenet_c"),
     "config.eval.corruption_params: unknown name 'imagenet_c'; allowed: auto, cifar10, "
     "imagenet, tinyimagenet"),
    (dict(data_name="cifar10", corruption_source="tfds", corruption_params="imagenet"),
     "config.eval.corruption_source: tfds holds CIFAR-10-C, not corruptions with imagenet "
     "parameters; set eval.corruption_source=generated"),
])
def test_bad_parameter_choices_are_one_line_errors(values, message):
    config = config_lib.base()
    config.data.name = values.pop("data_name", config.data.name)
    config.eval.update(values)
    with pytest.raises(errors.ConfigError) as error:
        config_lib.validate(config)
    assert str(error.value) == message


def test_tfds_is_refused_for_images_it_does_not_hold(tmp_path):
    dataset = _dataset((64, 64))
    config = config_lib.base()
    config.eval.update(dict(corruptions=("fog",), corruption_source="tfds"))
    with pytest.raises(errors.ConfigError, match="set eval.corruption_source=generated"):
        distributions.build(dataset, config.eval, config.data, str(tmp_path), lambda _: None)
