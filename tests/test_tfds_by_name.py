"""Any tensorflow-datasets image-classification set by name (data.name=tfds,
data.tfds_name): tiny sets written with tfds's own TfDataBuilder into a temporary
data_dir, read back offline by name; images of many sizes fitted to data.image_size,
grey ones made RGB, a set without a test split split per class; a name tfds does not
know, a set that is no image classification, and offline without a prepared data_dir
refused in one line within seconds."""
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfprune import config as config_lib, data, errors

NAMES = ("square", "circle", "star")


def _examples(count, sizes, channels, seed):
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (*sizes[i % len(sizes)], channels), dtype=np.uint8)
              for i in range(count)]
    return tf.data.Dataset.from_generator(
        lambda: ({"image": image, "label": i % len(NAMES)} for i, image in enumerate(images)),
        output_signature={"image": tf.TensorSpec((None, None, channels), tf.uint8),
                          "label": tf.TensorSpec((), tf.int64)})


def _write(data_dir, name, splits, image_shape, features=None):
    features = features or tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=image_shape),
        "label": tfds.features.ClassLabel(names=NAMES)})
    tfds.dataset_builders.TfDataBuilder(
        name=name, version="1.0.0", data_dir=data_dir, split_datasets=splits,
        features=features).download_and_prepare()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("tfds"))
    many_sizes = [(20, 24), (30, 18), (16, 16)]
    _write(folder, "tiny_shapes", {"train": _examples(24, many_sizes, 3, 0),
                                   "test": _examples(9, many_sizes, 3, 1)}, (None, None, 3))
    _write(folder, "tiny_grey", {"train": _examples(30, [(12, 12)], 1, 2)}, (12, 12, 1))
    values = tf.data.Dataset.from_tensor_slices(
        {"image": np.zeros((4, 8, 8, 3), np.uint8), "value": np.arange(4, dtype=np.int64)})
    _write(folder, "tiny_values", {"train": values}, None, tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(8, 8, 3)), "value": tf.int64}))
    return folder


def _load(data_dir, name, **values):
    config = config_lib.base()
    config.data.update(dict(name="tfds", tfds_name=name, tfds_data_dir=data_dir, **values))
    config_lib.validate(config)
    return data.load(config.data, seed=0)


def _refused(match, *args, **values):
    with pytest.raises(errors.DataError, match=match) as refused:
        _load(*args, **values)
    assert "\n" not in str(refused.value)


def test_a_set_of_many_image_sizes_is_fitted_to_image_size(data_dir):
    _refused("holds images of many sizes; set --config.data.image_size", data_dir,
             "tiny_shapes")
    dataset = _load(data_dir, "tiny_shapes", image_size=(16, 20), fit="center_crop")
    assert dataset.class_names == NAMES and dataset.image_shape == (16, 20, 3)
    assert len(dataset.test_labels) == 9 and "its test split" in dataset.source
    assert len(dataset.train_labels) + len(dataset.val_labels) == 24
    assert dataset.summary()["class_names"] == list(NAMES)


def test_grey_images_become_rgb_and_a_set_without_test_split_is_split_per_class(data_dir):
    dataset = _load(data_dir, "tiny_grey", test_fraction=0.2)
    assert dataset.image_shape == (12, 12, 3)
    assert np.array_equal(dataset.train_images[..., 0], dataset.train_images[..., 2])
    assert np.bincount(dataset.test_labels).tolist() == [2, 2, 2]
    assert "seeded 20% of each class of train as test" in dataset.source


def test_a_set_that_is_no_image_classification_is_refused(data_dir):
    _refused("'tiny_values' is not an image-classification set .features: image, value.",
             data_dir, "tiny_values")


def test_a_name_tfds_does_not_know_is_refused(data_dir):
    _refused("'no_such_set' is neither a tensorflow-datasets set nor prepared", data_dir,
             "no_such_set")


def test_a_registered_set_offline_without_data_dir_fails_within_seconds(tmp_path):
    if data._reachable(data.TFDS_HOST):
        pytest.skip("online: tensorflow-datasets would download mnist")
    started = time.time()
    _refused("mnist: offline and not prepared.*--config.data.tfds_data_dir", str(tmp_path),
             "mnist")
    assert time.time() - started < 10


def test_tfds_needs_a_name():
    config = config_lib.base()
    config.data.name = "tfds"
    with pytest.raises(errors.ConfigError, match="data.tfds_name: is empty"):
        config_lib.validate(config)
