"""model.path: the user's trained classifier (.keras, .h5 or a SavedModel folder) is the
parent as given: re-saved into the workdir with its source's digest, its softmax head
turned into logits, evaluated and pruned like every parent; a changed source is refused
on rerun; a file that is no classifier of the run's data is refused in one line, exit 2,
before the run records anything."""
import glob
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, random_dataset, tiny_config
from tfprune import cli, data, errors, metrics, models, pipeline, storage, user_models, workdir
from tfprune import config as config_lib

import tensorflow as tf

L = tf.keras.layers
SHAPE, CLASSES = (32, 32, 3), 10
FLAGS = ["--config.train.epochs=1", "--config.data.max_train_examples=256",
         "--config.prune.ratios=(0.5,)", "--config.prune.retrain_epochs=1",
         "--config.eval.corruptions=('contrast',)", "--config.eval.noise_images=0",
         "--config.eval.reference_network=False", "--config.export.latency_runs=0"]


def _network(input_shape=SHAPE, classes=CLASSES, head="softmax", middle=()):
    """A small classifier taking raw pixels, as a user trains one."""
    inputs = tf.keras.Input(input_shape)
    x = L.Conv2D(16, 3, strides=2, use_bias=False)(L.Rescaling(1 / 255.0)(inputs))
    x = L.ReLU()(L.BatchNormalization()(x))
    for layer in middle:
        x = layer(x)
    x = L.GlobalAveragePooling2D()(L.Conv2D(32, 3, strides=2, activation="relu")(x))
    return tf.keras.Model(inputs, L.Dense(classes, activation=head)(x))


@pytest.fixture(scope="module")
def digits():
    """The run's digits, every training image (the run itself reads 256 of them)."""
    config = tiny_config().data
    config.max_train_examples = 0
    return data.load(config, 0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    """(path, model): a classifier trained on digits (86% of the test set), as .keras."""
    tf.keras.utils.set_random_seed(0)
    model = _network()
    model.compile(tf.keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(digits.train_images.astype(np.float32), digits.train_labels, epochs=25,
              batch_size=64, verbose=0)
    path = str(tmp_path_factory.mktemp("user") / "classifier.keras")
    model.save(path)
    return path, model


def _probabilities(model, images):
    return model.predict(images.astype(np.float32), verbose=0)


def _tfprune_run(*args):
    return subprocess.run([sys.executable, "-m", "tfprune.run", "--config",
                           "configs/quickstart.py", *FLAGS, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _files(folder):
    return {path: hashlib.sha256(open(path, "rb").read()).hexdigest()
            for path in glob.glob(os.path.join(folder, "**"), recursive=True)
            if os.path.isfile(path) and "/lock/" not in path}


def test_a_keras_file_is_the_parent_as_given_through_tfprune_run(trained, digits, tmp_path):
    path, model = trained
    run_dir = str(tmp_path / "run")
    args = [f"--workdir={run_dir}", f"--config.model.path={path}"]
    finished = _tfprune_run(*args)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "as given: not trained (model.train_parent=False)" in finished.stdout
    parent = workdir.checkpoint(run_dir, workdir.PARENT)
    record = storage.read_json(workdir.record(parent))
    assert record["history"] == {} and record["source"]["digest"] == storage.file_digest(path)
    assert record["source"]["head"].startswith("probabilities")
    # The parent outputs logits whose softmax is the user's model's output.
    logits = storage.load_model(parent).predict(digits.test_images.astype(np.float32), verbose=0)
    expected = _probabilities(model, digits.test_images)
    np.testing.assert_allclose(metrics.softmax(logits), expected, atol=1e-5)
    results = storage.read_json(workdir.results(run_dir))
    accuracy = metrics.accuracy(expected.argmax(axis=-1), digits.test_labels)
    assert results["parent"]["accuracy"]["nominal"] == pytest.approx(accuracy, abs=1e-9)
    assert accuracy > 0.5  # a trained parent, not chance
    assert results["parent_source"]["path"] == os.path.abspath(path)
    assert results["methods"]["wt"]["cycles"][0]["prune_ratio"] == pytest.approx(0.5, abs=0.02)

    # The source changes: the rerun is refused in one line naming --fresh, nothing touched.
    before = _files(run_dir)
    original = open(path, "rb").read()
    changed = tf.keras.models.load_model(path)
    changed.set_weights([w + 0.01 for w in changed.get_weights()])
    changed.save(path)
    refused = _tfprune_run(*args)
    assert refused.returncode == 2, refused.stderr[-3000:]
    message, = refused.stderr.strip().splitlines()
    assert f"config.model.path={path}: changed since the parent" in message
    assert "--fresh" in message
    assert _files(run_dir) == before

    with open(path, "wb") as stream:  # restored: the run continues, nothing redone
        stream.write(original)
    again = _tfprune_run(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"parent: reusing {parent}" in again.stdout


@pytest.mark.parametrize("save_as", ["model.h5", "saved_model"])
def test_h5_files_and_savedmodel_folders_load_as_the_keras_file(trained, digits, tmp_path,
                                                              save_as):
    path, model = trained
    other = str(tmp_path / save_as)
    model.save(other)
    loaded, source = user_models.load(other, SHAPE, CLASSES, log=lambda _: None)
    images = digits.test_images[:32].astype(np.float32)
    np.testing.assert_allclose(metrics.softmax(loaded.predict(images, verbose=0)),
                               _probabilities(model, images), atol=1e-5)
    assert source["digest"] == user_models.source_digest(other)


def test_a_model_of_free_input_size_is_fixed_to_the_data(tmp_path):
    model = _network(input_shape=(None, None, 3), head=None)
    path = str(tmp_path / "free.keras")
    model.save(path)
    loaded, source = user_models.load(path, SHAPE, CLASSES, log=lambda _: None)
    assert tuple(loaded.input.shape) == (None, *SHAPE) and source["head"] == "logits"
    images = random_dataset().test_images.astype(np.float32)
    np.testing.assert_allclose(loaded.predict(images, verbose=0),
                               model.predict(images, verbose=0), atol=1e-5)


class Custom(L.Layer):
    def call(self, inputs):
        return inputs * 2.0


def _shared_model():
    inputs = tf.keras.Input(SHAPE)
    relu = L.ReLU()
    x = relu(L.Conv2D(4, 3)(relu(inputs)))
    return tf.keras.Model(inputs, L.Dense(CLASSES)(L.GlobalAveragePooling2D()(x)))


def _nested_model():
    inner = _network(head=None)
    inputs = tf.keras.Input(SHAPE)
    return tf.keras.Model(inputs, inner(inputs))


@pytest.mark.parametrize("make, message", [
    (lambda: _network(classes=5), "outputs 5 classes, the data set has 10; give a model of 10"),
    (lambda: _network(head="sigmoid"), "ends in sigmoid; tfprune needs logits (no activation) "
     "or softmax probabilities"),
    (lambda: _network(input_shape=(28, 28, 1)), "takes inputs of shape (28, 28, 1), the data "
     "set's images are (32, 32, 3); give a model built for (32, 32, 3) inputs"),
    (lambda: _network(middle=[L.Conv2DTranspose(8, 3)]), "is a Conv2DTranspose, whose kernel "
     "tfprune's methods cannot read"),
    (_shared_model, "(ReLU) is called 2 times; the channel graph reads each layer once"),
    (_nested_model, "is a nested model (Functional); tfprune prunes one flat graph"),
    (lambda: _network(middle=[Custom()]), "loads built-in tf.keras layers only"),
    (lambda: tf.keras.Sequential([  # 3 channel means padded to 10 "classes"
        tf.keras.Input(SHAPE), L.GlobalAveragePooling2D(), L.Reshape((3, 1)),
        L.ZeroPadding1D((0, 7)), L.Flatten(), L.Softmax()]), "has no Conv2D or Dense layer"),
])
def test_a_file_that_is_no_classifier_of_the_data_is_refused(tmp_path, make, message):
    path = str(tmp_path / "user.keras")
    make().save(path)
    with pytest.raises(errors.ConfigError) as refused:
        user_models.load(path, SHAPE, CLASSES, log=lambda _: None)
    assert message in str(refused.value), str(refused.value)
    assert str(refused.value).startswith(f"config.model.path={path}: ")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("make, message", [
    (lambda folder: os.path.join(folder, "absent.keras"), "does not exist; give the path of"),
    (lambda folder: _write(os.path.join(folder, "notes.keras"), b"not a model"),
     "is not a Keras model (neither a .keras zip nor HDF5)"),
    (lambda folder: os.path.dirname(_write(os.path.join(folder, "f", "x.txt"), b"x")),
     "is a folder but no SavedModel"),
])
def test_a_bad_path_ends_the_run_in_one_line_before_anything_is_written(tmp_path, capsys, make,
                                                                       message):
    config = tiny_config()
    config.model.path = make(str(tmp_path))
    run_dir = str(tmp_path / "run")
    with pytest.raises(SystemExit) as exited:
        cli.guarded(lambda: pipeline.run(config, run_dir, log=lambda _: None))
    assert exited.value.code == 2
    line, = capsys.readouterr().err.strip().splitlines()
    assert message in line
    assert not os.path.exists(os.path.join(run_dir, "config.json"))  # no run to move aside


def _write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as stream:
        stream.write(content)
    return path


@pytest.mark.parametrize("keys, message", [
    (dict(path="a.keras", builder="b:c"), "config.model.builder: and model.path both give"),
    (dict(train_parent=True), "config.model.train_parent: trains a model.path parent"),
    (dict(path="gs://bucket/a.keras"), "is not a local path; copy the model here first"),
])
def test_contradicting_model_keys_fail_validation(keys, message):
    config = config_lib.base()
    config.eval.reference_network = False
    config.model.update(keys)
    with pytest.raises(errors.ConfigError, match=message):
        config_lib.validate(config)


def test_a_reference_network_needs_a_trained_parent():
    config = tiny_config()
    config.model.path, config.eval.reference_network = "a.keras", True
    with pytest.raises(errors.ConfigError, match="config.eval.reference_network: trains"):
        config_lib.validate(config)


def test_train_parent_trains_from_the_files_weights(trained, tmp_path):
    """With lr 0 training leaves every kernel as the file holds it, so they show where
    training started; the record holds the epoch trained."""
    path, model = trained
    config = tiny_config()
    config.model.path, config.model.train_parent = path, True
    config.train.lr, config.train.warmup_epochs = 0.0, 0
    checkpoint = pipeline._train_network(config, random_dataset(), str(tmp_path), lambda _: None,
                                         workdir.PARENT, 0)
    record = storage.read_json(workdir.record(checkpoint))
    assert len(record["history"]["loss"]) == 1 and record["source"]["path"].endswith(".keras")
    parent = storage.load_model(checkpoint)
    for layer in model.layers:
        if isinstance(layer, (L.Conv2D, L.Dense)):
            np.testing.assert_array_equal(parent.get_layer(layer.name).kernel.numpy(),
                                          layer.kernel.numpy())
    assert models.count_params(parent) == models.count_params(model)


def test_a_parent_at_chance_level_names_the_input_scale(tmp_path):
    """A constant output (a zero last layer) is chance level: the run stops before pruning,
    naming what usually causes it for a user's file."""
    model = _network(head=None)
    last = model.layers[-1]
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    config = tiny_config()
    config.model.path = str(tmp_path / "constant.keras")
    config.eval.stop_at_chance_parent = True
    model.save(config.model.path)
    with pytest.raises(errors.ConfigError, match="is chance level for 10 classes; the model "
                       r"gets raw 0..255 pixels \(put its preprocessing in the model\)"):
        pipeline.run(config, str(tmp_path / "run"), log=lambda _: None)


def test_a_parent_at_chance_by_its_moving_statistics_names_them(trained, tmp_path):
    """A trained classifier whose BatchNormalization moving statistics do not fit its
    weights is at chance in inference mode but not with batch statistics: the run stops
    naming the statistics, not the input scale."""
    model = tf.keras.models.load_model(trained[0])
    norm, = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    norm.moving_mean.assign(np.full(norm.moving_mean.shape, 1e3, np.float32))  # all dead
    config = tiny_config()
    config.model.path = str(tmp_path / "stale_statistics.keras")
    config.eval.stop_at_chance_parent = True
    model.save(config.model.path)
    with pytest.raises(errors.ConfigError, match=r"is chance level for 10 classes, but \d+\.\d% "
                       "with its BatchNormalization on batch statistics: its moving statistics "
                       "do not fit its weights; recompute them"):
        pipeline.run(config, str(tmp_path / "run"), log=lambda _: None)
