"""A user's image folder (data.name=folder): class subfolders of PNG and JPEG files at any
size, split by a seeded fraction per class or by train/ and test/; images resized or
centre-cropped to data.image_size; bad folders refused in one line naming the file or the
fix; a whole run through `python -m tfprune.run` on 40x48 images, TFLite included."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from tfprune import config as config_lib, data, errors, models, pipeline

CLASSES = ("cat", "ant", "bee")  # written unsorted: the classes come sorted
HEIGHT, WIDTH = 40, 48


def _write_images(folder, count=20, size=(HEIGHT, WIDTH), seed=0):
    """`count` random images per class, PNG and JPEG alternating; {path: pixels}."""
    rng = np.random.default_rng(seed)
    written = {}
    for name in CLASSES:
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for index in range(count):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            path = os.path.join(folder, name, f"{index}.{'png' if index % 2 else 'jpg'}")
            Image.fromarray(pixels).save(path)
            written[path] = pixels
    return written


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("images"))
    return root, _write_images(root)


def _data_config(**values):
    config = config_lib.base()
    config.data.update(dict(name="folder", **values))
    config_lib.validate(config)
    return config.data


def _refused(match, **values):
    with pytest.raises(errors.UserError, match=match) as refused:
        data.load(_data_config(**values), seed=0)
    assert "\n" not in str(refused.value)
    return str(refused.value)


def test_folder_loads_at_its_size_with_sorted_classes_and_every_class_tested(folder):
    root, written = folder
    dataset = data.load(_data_config(dir=root), seed=0)
    assert dataset.class_names == tuple(sorted(CLASSES)) and dataset.num_classes == 3
    assert dataset.image_shape == (HEIGHT, WIDTH, 3) and dataset.test_images.dtype == np.uint8
    assert dataset.summary()["class_names"] == sorted(CLASSES)
    assert len(dataset.train_labels) + len(dataset.val_labels) + len(dataset.test_labels) == 60
    assert np.bincount(dataset.test_labels).tolist() == [4, 4, 4]  # 20% of every class
    pngs = {pixels.tobytes(): os.path.basename(os.path.dirname(path))
            for path, pixels in written.items() if path.endswith(".png")}
    found = 0
    for images, labels in ((dataset.train_images, dataset.train_labels),
                           (dataset.test_images, dataset.test_labels)):
        for image, label in zip(images, labels):
            if image.tobytes() in pngs:  # PNG is lossless: the file's pixels, its class
                assert pngs[image.tobytes()] == dataset.class_names[label]
                found += 1
    assert found >= 25
    again = data.load(_data_config(dir=root), seed=0)
    np.testing.assert_array_equal(again.test_images, dataset.test_images)
    other = data.load(_data_config(dir=root), seed=1)
    assert not np.array_equal(other.test_images, dataset.test_images)


def test_train_and_test_subfolders_are_the_splits(tmp_path):
    _write_images(str(tmp_path / "train"), count=6)
    _write_images(str(tmp_path / "test"), count=2, seed=1)
    dataset = data.load(_data_config(dir=str(tmp_path)), seed=0)
    assert len(dataset.test_labels) == 6 and np.bincount(dataset.test_labels).tolist() == [2] * 3
    assert len(dataset.train_labels) + len(dataset.val_labels) == 18
    assert "train/ and test/" in dataset.source


def test_resize_stretches_and_center_crop_cuts_the_sides(tmp_path):
    """A black image with white 4-px side bands: a centre crop to 40x40 drops them."""
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    pixels[:, :4] = pixels[:, -4:] = 255
    for name in ("a", "b"):
        os.makedirs(tmp_path / name)
        for index in range(3):
            Image.fromarray(pixels).save(tmp_path / name / f"{index}.png")
    cropped = data.load(_data_config(dir=str(tmp_path), image_size=(40, 40),
                                     fit="center_crop"), seed=0)
    resized = data.load(_data_config(dir=str(tmp_path), image_size=(40, 40)), seed=0)
    assert cropped.image_shape == resized.image_shape == (40, 40, 3)
    assert cropped.train_images.max() == 0
    assert resized.train_images[:, :, 0].min() > 200 and resized.train_images[:, :, 20].max() == 0


def test_grey_and_transparent_images_become_rgb(tmp_path):
    for name, mode in (("grey", "L"), ("alpha", "RGBA")):
        os.makedirs(tmp_path / name)
        for index in range(3):
            Image.new(mode, (WIDTH, HEIGHT), 90 if mode == "L" else (90, 90, 90, 10)).save(
                tmp_path / name / f"{index}.png")
    dataset = data.load(_data_config(dir=str(tmp_path)), seed=0)
    assert dataset.image_shape == (HEIGHT, WIDTH, 3)
    assert set(np.unique(dataset.train_images)) == {90}


def test_bad_folders_are_refused_in_one_line_naming_the_fix(tmp_path):
    _refused("is not a folder", dir=str(tmp_path / "nowhere"))
    _refused("no class subfolders", dir=str(tmp_path))
    _write_images(str(tmp_path / "one"), count=2)
    for name in CLASSES[1:]:
        os.rename(tmp_path / "one" / name, tmp_path / f"moved_{name}")
    _refused("has one class .cat.; a classifier needs two or more", dir=str(tmp_path / "one"))
    os.makedirs(tmp_path / "one" / "dog")
    (tmp_path / "one" / "dog" / "notes.txt").write_text("no image")
    _refused("dog holds no image", dir=str(tmp_path / "one"))
    Image.new("RGB", (WIDTH, HEIGHT)).save(tmp_path / "one" / "dog" / "0.png")
    (tmp_path / "one" / "dog" / "1.jpg").write_bytes(b"\xff\xd8 cut short")
    message = _refused("cannot read it as an image", dir=str(tmp_path / "one"))
    assert message.startswith(str(tmp_path / "one" / "dog" / "1.jpg"))
    os.remove(tmp_path / "one" / "dog" / "1.jpg")
    Image.new("RGB", (30, 30)).save(tmp_path / "one" / "dog" / "2.png")
    _refused(r"2.png is 30x30 px, other images 40x48; set --config.data.image_size",
             dir=str(tmp_path / "one"))
    assert data.load(_data_config(dir=str(tmp_path / "one"), image_size=(30, 30)),
                     seed=0).image_shape == (30, 30, 3)
    Image.new("RGB", (30, 30)).save(tmp_path / "one" / "loose.png")
    _refused("loose.png is not in a class subfolder", dir=str(tmp_path / "one"))
    _write_images(str(tmp_path / "split" / "train"), count=2)
    _write_images(str(tmp_path / "split" / "test"), count=2)
    os.rename(tmp_path / "split" / "test" / "cat", tmp_path / "split" / "test" / "dog")
    _refused("train/ and test/ differ in classes .cat, dog.", dir=str(tmp_path / "split"))


def test_bad_folder_keys_are_refused_by_validation():
    config = config_lib.base()
    config.data.name = "folder"
    with pytest.raises(errors.ConfigError, match="data.dir: is empty"):
        config_lib.validate(config)
    config.data.dir, config.data.image_size = "x", (40,)
    with pytest.raises(errors.ConfigError, match="data.image_size"):
        config_lib.validate(config)
    config.data.image_size, config.data.fit = (40, 40), "squash"
    with pytest.raises(errors.ConfigError, match="data.fit: unknown name"):
        config_lib.validate(config)


def test_a_network_of_other_classes_or_input_size_is_refused(folder):
    dataset = data.load(_data_config(dir=folder[0]), seed=0)
    data.check_network(dataset, models.build("cnn_small", dataset.image_shape, 3), "cnn")
    with pytest.raises(errors.ConfigError, match="outputs 5 classes, data.name=folder has 3"):
        data.check_network(dataset, models.build("cnn_small", dataset.image_shape, 5), "cnn")
    with pytest.raises(errors.ConfigError, match="takes 32x32x3 images, the data's are 40x48x3"):
        data.check_network(dataset, models.build("cnn_small", (32, 32, 3), 3), "cnn")
    with pytest.raises(errors.ConfigError, match="outputs 10 classes"):
        data.check_classes(dataset, 10, "model.path=x.keras")


def test_a_registry_network_that_cannot_take_so_small_images_is_refused(folder, tmp_path):
    config = config_lib.base()
    config.data.update(dict(name="folder", dir=folder[0], image_size=(8, 8)))
    config.model.name = "vgg16_bn"
    config.eval.corruptions, config.eval.noise_images = (), 0
    config.export.tflite = False
    with pytest.raises(errors.ConfigError, match="vgg16_bn cannot take 8x8 px images") as refused:
        pipeline.run(config, str(tmp_path / "run"), log=lambda _: None)
    assert "data.image_size" in str(refused.value) and "\n" not in str(refused.value)


def _run(workdir, *flags):
    return subprocess.run(
        [sys.executable, "-m", "tfprune.run", "--config", "configs/quickstart.py",
         "--config.train.epochs=1", "--config.prune.ratios=(0.5,)",
         "--config.prune.retrain_epochs=1", "--config.eval.corruptions=('contrast',)",
         "--config.eval.noise_images=0", "--config.eval.reference_network=False",
         "--config.eval.stop_at_chance_parent=False", "--config.eval.control_network=False",
         "--config.export.latency_runs=0",
         "--config.data.name=folder", f"--workdir={workdir}", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_run_on_a_folder_of_40x48_images_ends_in_results_with_tflite(folder, tmp_path):
    workdir = str(tmp_path / "run")
    finished = _run(workdir, f"--config.data.dir={folder[0]}")
    assert finished.returncode == 0, finished.stderr[-3000:]
    with open(os.path.join(workdir, "results.json")) as stream:
        results = json.load(stream)
    assert results["dataset"]["image_shape"] == [HEIGHT, WIDTH, 3]
    assert results["dataset"]["class_names"] == sorted(CLASSES)
    cycle = results["methods"]["wt"]["cycles"][0]
    for network in (results["parent"], cycle):
        tflite = network["export"]["float32"]
        assert set(tflite["accuracy"]) == {"nominal", "contrast_3"}
        assert 0.99 < tflite["agreement_with_keras"]["nominal"] <= 1.0  # the file runs alike
    assert 0.4 < cycle["prune_ratio"] < 0.6


def test_a_one_class_folder_fails_the_run_in_one_line_writing_nothing(tmp_path):
    _write_images(str(tmp_path / "one"), count=2)
    for name in CLASSES[1:]:
        os.rename(tmp_path / "one" / name, tmp_path / name)
    workdir = str(tmp_path / "run")
    failed = _run(workdir, f"--config.data.dir={tmp_path / 'one'}")
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert failed.stderr.strip().count("\n") == 0 and "two or more" in failed.stderr
    assert [path for path in _files(workdir) if os.sep + "lock" + os.sep not in path] == []


def _files(folder):
    return [os.path.join(path, name) for path, _, names in os.walk(folder) for name in names]
