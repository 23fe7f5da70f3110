"""Arrays in an .npz file (data.name=npz): uint8 images of any size (grey, RGB, RGBA),
labels (N,) or (N, 1), class_names, with a test pair or a seeded split; bad files
refused in one line; normalisation from data.mean/std or left to the model; the crop
padding of augmentation at other sizes."""
import itertools

import numpy as np
import pytest

from tfprune import config as config_lib, data, errors, models


def _arrays(count=40, shape=(20, 24), classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (count, *shape), dtype=np.uint8),
            np.arange(count) % classes)


def _save(tmp_path, **arrays):
    path = str(tmp_path / "arrays.npz")
    np.savez(path, **arrays)
    return path


def _config(path, **values):
    config = config_lib.base()
    config.data.update(dict(name="npz", file=path, **values))
    config_lib.validate(config)
    return config.data


def _refused(tmp_path, match, **arrays):
    with pytest.raises(errors.DataError, match=match) as refused:
        data.load(_config(_save(tmp_path, **arrays)), seed=0)
    assert "\n" not in str(refused.value)


def test_grey_arrays_with_a_test_pair_and_class_names(tmp_path):
    x_train, y_train = _arrays()
    x_test, y_test = _arrays(8, seed=1)
    path = _save(tmp_path, x_train=x_train, y_train=y_train[:, None], x_test=x_test,
                 y_test=y_test, class_names=np.array(["w", "x", "y", "z"]))
    dataset = data.load(_config(path), seed=0)
    assert dataset.image_shape == (20, 24, 3) and dataset.class_names == ("w", "x", "y", "z")
    np.testing.assert_array_equal(dataset.test_images, np.repeat(x_test[..., None], 3, -1))
    np.testing.assert_array_equal(dataset.test_labels, y_test)
    assert len(dataset.train_labels) + len(dataset.val_labels) == 40


def test_without_a_test_pair_each_class_is_split_by_seed(tmp_path):
    x_train, y_train = _arrays()
    rgba = np.concatenate([np.repeat(x_train[..., None], 3, -1),
                           np.full((*x_train.shape, 1), 7, np.uint8)], -1)
    dataset = data.load(_config(_save(tmp_path, x_train=rgba, y_train=y_train),
                                test_fraction=0.25), seed=0)
    assert dataset.image_shape == (20, 24, 3) and dataset.class_names == ("0", "1", "2", "3")
    assert np.bincount(dataset.test_labels).tolist() == [2] * 4  # a quarter of every class
    train_rows = {image.tobytes() for image in dataset.train_images}
    assert not train_rows & {image.tobytes() for image in dataset.test_images}


def test_image_size_fits_arrays_of_two_sizes(tmp_path):
    x_train, y_train = _arrays()
    x_test, y_test = _arrays(8, shape=(40, 48))
    path = _save(tmp_path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    with pytest.raises(errors.DataError, match="training images are 20x24x3, test images "
                                               "40x48x3; set --config.data.image_size"):
        data.load(_config(path), seed=0)
    dataset = data.load(_config(path, image_size=(20, 24)), seed=0)
    assert dataset.test_images.shape == (8, 20, 24, 3)


def test_bad_arrays_are_refused_in_one_line(tmp_path):
    x_train, y_train = _arrays()
    _refused(tmp_path, r"lacks y_train \(it holds x_train\)", x_train=x_train)
    _refused(tmp_path, "lacks y_test", x_train=x_train, y_train=y_train, x_test=x_train)
    _refused(tmp_path, "x_train holds 40 images, y_train 39 labels", x_train=x_train,
             y_train=y_train[:-1])
    _refused(tmp_path, r"label 4 is out of range \[0, 4\) of its 4 class_names",
             x_train=x_train, y_train=y_train + 1, class_names=np.array(list("abcd")))
    _refused(tmp_path, "label -1 is out of range", x_train=x_train, y_train=y_train - 1)
    _refused(tmp_path, "name 1 class; a classifier needs two or more", x_train=x_train,
             y_train=np.zeros(40, int))
    _refused(tmp_path, "images are float32, not uint8", x_train=x_train.astype(np.float32),
             y_train=y_train)
    _refused(tmp_path, "y_train is float64", x_train=x_train, y_train=y_train * 1.0)
    _refused(tmp_path, r"images of shape \(40, 20, 24, 2\)",
             x_train=np.repeat(x_train[..., None], 2, -1), y_train=y_train)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK not really")
    with pytest.raises(errors.DataError, match="cannot read it as an .npz file"):
        data.load(_config(str(broken)), seed=0)
    with pytest.raises(errors.DataError, match="cannot read it as an .npz file"):
        data.load(_config(str(tmp_path / "missing.npz")), seed=0)


def test_explicit_normalisation_and_none_for_a_model_that_normalises(tmp_path):
    x_train, y_train = _arrays()
    path = _save(tmp_path, x_train=x_train, y_train=y_train)
    explicit = data.load(_config(path, normalization="explicit", mean=(0.5, 0.25, 0.0),
                                 std=(0.2, 0.2, 0.4)), seed=0)
    assert explicit.mean == (127.5, 63.75, 0.0) and explicit.std == pytest.approx((51, 51, 102))
    itself = data.load(_config(path, normalization="model"), seed=0)
    assert itself.mean == (0.0,) * 3 and itself.std == (1.0,) * 3
    network = models.build("cnn_small", itself.image_shape, itself.num_classes,
                           itself.mean, itself.std)
    # the model sees raw 0..255 pixels: no normalisation layer in front of it
    assert type(network.layers[1]).__name__ == "Conv2D"
    config = config_lib.base()
    config.data.normalization = "explicit"
    with pytest.raises(errors.ConfigError, match="data.mean: \\(\\): write three"):
        config_lib.validate(config)
    config.data.mean, config.data.std = (0.5,) * 3, (0.0, 0.2, 0.2)
    with pytest.raises(errors.ConfigError, match="data.std.*each > 0"):
        config_lib.validate(config)
    config.data.normalization = "auto"
    with pytest.raises(errors.ConfigError, match="set data.normalization=explicit"):
        config_lib.validate(config)


def test_augmentation_pads_an_eighth_of_each_side_above_32_px():
    assert data.crop_padding(32, 32) == (4, 4) and data.crop_padding(12, 12) == (4, 4)
    assert data.crop_padding(40, 48) == (5, 6) and data.crop_padding(224, 224) == (28, 28)
    rng = np.random.default_rng(0)
    images = rng.integers(1, 256, (16, 40, 48, 3), dtype=np.uint8)
    labels = np.arange(16, dtype=np.int32)
    for batch_augment in (True, False):
        stream = data.train_pipeline(images, labels, 8, "crop", seed=1,
                                     batch_augment=batch_augment)
        offsets = set()
        for batch, indices in itertools.islice(stream, 6):
            for image, index in zip(batch.numpy().astype(np.uint8), indices.numpy()):
                padded = np.pad(images[index], [(5, 5), (6, 6), (0, 0)])
                found = [(r, c) for r in range(11) for c in range(13)
                         if np.array_equal(padded[r:r + 40, c:c + 48], image)]
                assert found, "not a crop of the padded source"
                offsets.add(found[0])
        assert max(r for r, _ in offsets) > 5 and max(c for _, c in offsets) > 6
