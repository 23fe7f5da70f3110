"""Test distributions: generated and cached, or from tensorflow-datasets; shifts that
cannot be had are reported, not dropped."""
import os

import numpy as np
import pytest

from tfprune import config as config_lib, data, distributions
from tfprune.data import Dataset
from tfprune import errors


def _dataset(name="digits"):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(12, dtype=np.int32) % 10
    return Dataset(name, "test", images, labels, images, labels, images, labels, 10,
                   (127.0,) * 3, (70.0,) * 3)


def _config(**eval_values):
    config = config_lib.base()
    config.eval.update(eval_values)
    return config


def test_names_combine_grid_extras_and_shifts():
    config = _config(corruptions=("fog", "snow"), severities=(1, 3),
                     extra_corruptions=("fog_1", "zoom_blur_5"), shifts=("cifar10_1",))
    assert distributions.names(config.eval) == [
        "nominal", "fog_1", "fog_3", "snow_1", "snow_3", "zoom_blur_5", "cifar10_1"]
    assert distributions.split_corruption("zoom_blur_5") == ("zoom_blur", 5)


def test_generated_corruptions_are_cached_and_a_damaged_cache_is_rebuilt(tmp_path):
    config = _config(corruptions=("gaussian_noise",), severities=(3,))
    logs = []
    built, unavailable = distributions.build(_dataset(), config.eval, config.data, str(tmp_path),
                                             logs.append)
    assert not unavailable and list(built) == ["nominal", "gaussian_noise_3"]
    assert "generated in-process" in built["gaussian_noise_3"].source
    (cached,) = [f for f in os.listdir(tmp_path) if f.endswith(".npy")]
    logs.clear()
    again, _ = distributions.build(_dataset(), config.eval, config.data, str(tmp_path), logs.append)
    assert not any("generating" in line for line in logs)
    np.testing.assert_array_equal(again["gaussian_noise_3"].images,
                                  built["gaussian_noise_3"].images)
    with open(tmp_path / cached, "r+b") as stream:
        stream.truncate(100)
    logs.clear()
    rebuilt, _ = distributions.build(_dataset(), config.eval, config.data, str(tmp_path),
                                     logs.append)
    assert any("generating" in line for line in logs)
    np.testing.assert_array_equal(rebuilt["gaussian_noise_3"].images,
                                  built["gaussian_noise_3"].images)


def test_unavailable_shift_is_reported_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_reachable", lambda host, **_: False)  # offline, whatever CI has
    config = _config(corruptions=(), shifts=("cifar10_1",))
    config.data.tfds_data_dir = str(tmp_path / "tfds")
    built, unavailable = distributions.build(_dataset("cifar10"), config.eval, config.data,
                                             str(tmp_path), lambda _: None)
    assert list(built) == ["nominal"]
    assert "cifar10_1/v6: offline and not prepared" in unavailable["cifar10_1"]


def test_tfds_source_reads_cifar10_corrupted_under_its_tfds_name(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(data, "_reachable", lambda host, **_: True)  # downloads are mocked
    config = _config(corruptions=("glass_blur",), severities=(2,), corruption_source="tfds")
    config.data.tfds_data_dir = str(tmp_path / "tfds")
    with tfds.testing.mock_data(num_examples=16, policy=tfds.testing.MockPolicy.USE_CODE):
        built, _ = distributions.build(_dataset("cifar10"), config.eval, config.data,
                                       str(tmp_path), lambda _: None)
    glass = built["glass_blur_2"]
    assert "cifar10_corrupted/frosted_glass_blur_2" in glass.source
    assert glass.images.shape == (16, 32, 32, 3) and glass.images.dtype == np.uint8
    assert glass.labels.shape == (16,) and glass.labels.max() < 10


def test_tfds_source_offline_fails_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_reachable", lambda host, **_: False)
    config = _config(corruptions=("fog",), corruption_source="tfds")
    config.data.tfds_data_dir = str(tmp_path / "tfds")
    with pytest.raises(errors.DataError, match="corruption_source=generated"):
        distributions.build(_dataset("cifar10"), config.eval, config.data, str(tmp_path),
                            lambda _: None)


def test_frost_from_the_photographs_is_cached_apart_and_labelled(tmp_path, frost_dir):
    config = _config(corruptions=("frost",), severities=(3,), frost_dir=frost_dir)
    photos, _ = distributions.build(_dataset(), config.eval, config.data, str(tmp_path),
                                    lambda line: None)
    config.eval.frost = "generated"
    generated, _ = distributions.build(_dataset(), config.eval, config.data, str(tmp_path),
                                       lambda line: None)
    assert "textures: photographs (sha256" in photos["frost_3"].source
    assert "textures: generated" in generated["frost_3"].source
    assert not np.array_equal(photos["frost_3"].images, generated["frost_3"].images)
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".npy")]) == 2


def test_frost_photographs_required_but_absent_is_one_line_naming_the_fix(tmp_path):
    config = _config(corruptions=("frost",), severities=(3,), frost="photographs")
    with pytest.raises(errors.DataError, match="eval.frost_dir="):
        distributions.build(_dataset(), config.eval, config.data, str(tmp_path),
                            lambda line: None)


def test_a_set_cached_by_another_corruptions_version_is_not_reused(tmp_path, monkeypatch):
    config = _config(corruptions=("motion_blur",), severities=(3,))
    distributions.build(_dataset(), config.eval, config.data, str(tmp_path), lambda line: None)
    monkeypatch.setattr(distributions.corruptions, "VERSION",
                        distributions.corruptions.VERSION + 1)
    logs = []
    distributions.build(_dataset(), config.eval, config.data, str(tmp_path), logs.append)
    assert any("generating motion_blur" in line for line in logs)
