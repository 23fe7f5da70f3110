"""Keras 3 files as model.path: a model saved by Keras 3 (beside tf_keras) is rebuilt in
tf.keras from its config with its weights, used only when both give the same outputs on
random inputs (said in the log), and refused in one line naming the fix when tf.keras
lacks one of its layers. The Keras 3 models are built, saved and run by Keras 3 in a
subprocess (TF_USE_LEGACY_KERAS=0), as a user's own code does."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tfprune import data, errors, metrics, pipeline, storage, user_models, workdir

from conftest import ROOT, tiny_config

SHAPE, CLASSES = (32, 32, 3), 10
SAVE = textwrap.dedent('''
    import os, sys
    os.environ["TF_USE_LEGACY_KERAS"] = "0"
    import keras
    import numpy as np

    L = keras.layers
    folder = sys.argv[1]
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(L.Rescaling(1 / 255)(inputs))
    x = L.ReLU()(L.BatchNormalization()(x))
    y = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.Add()([x, L.ReLU()(L.BatchNormalization()(y))])
    x = L.Dropout(0.2)(L.GlobalAveragePooling2D()(x))
    functional = keras.Model(inputs, L.Dense(10, activation="softmax")(x))
    sequential = keras.Sequential([
        keras.Input((32, 32, 3)), L.Rescaling(1 / 255), L.Conv2D(8, 3, activation="relu",
        kernel_regularizer=keras.regularizers.L2(1e-4)), L.MaxPooling2D(),
        L.Flatten(), L.Dense(10)])
    grayscale = keras.Sequential([
        keras.Input((32, 32, 3)), L.RandomGrayscale(), L.Conv2D(4, 3),
        L.GlobalAveragePooling2D(), L.Dense(10)])
    images = np.random.default_rng(1).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    np.save(os.path.join(folder, "images.npy"), images)
    for name, model in (("functional", functional), ("sequential", sequential),
                        ("grayscale", grayscale)):
        # BN statistics that are not the initial ones, so that copying them matters
        for layer in model.layers:
            if isinstance(layer, L.BatchNormalization):
                layer.moving_mean.assign(np.linspace(-1, 1, layer.moving_mean.shape[0]))
                layer.moving_variance.assign(np.linspace(0.5, 2, layer.moving_mean.shape[0]))
        model.save(os.path.join(folder, name + ".keras"))
        np.save(os.path.join(folder, name + ".npy"), np.asarray(model(images, training=False)))
    functional.save(os.path.join(folder, "functional.h5"))
    print(keras.__version__)
''')


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The folder of the Keras 3 files, their outputs and inputs (from Keras 3)."""
    folder = str(tmp_path_factory.mktemp("keras3"))
    made = subprocess.run([sys.executable, "-c", SAVE, folder], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    assert made.stdout.strip().startswith("3.")
    return folder


@pytest.mark.parametrize("name, expected_name, probabilities", [
    ("functional.keras", "functional", True), ("functional.h5", "functional", True),
    ("sequential.keras", "sequential", False)])
def test_a_keras3_file_is_rebuilt_in_tf_keras_with_equal_outputs(saved, name, expected_name,
                                                                 probabilities):
    logs = []
    model, source = user_models.load(os.path.join(saved, name), SHAPE, CLASSES, logs.append)
    assert source["keras_version"].startswith("3.")
    assert any("saved by Keras 3; rebuilt in tf.keras from its config with its weights, "
               "outputs equal on 4 random inputs" in line for line in logs)
    images = np.load(os.path.join(saved, "images.npy"))
    expected = np.load(os.path.join(saved, f"{expected_name}.npy"))
    outputs = model.predict(images, verbose=0)
    if probabilities:  # its softmax head removed: logits
        assert source["head"].startswith("probabilities")
        outputs = metrics.softmax(outputs)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)
    assert "Functional" in type(model).__name__  # tf.keras' own, what TF-MOT wraps


def test_a_keras3_layer_tf_keras_lacks_is_refused_naming_it(saved):
    path = os.path.join(saved, "grayscale.keras")
    with pytest.raises(errors.ConfigError) as refused:
        user_models.load(path, SHAPE, CLASSES, log=lambda _: None)
    message = str(refused.value)
    assert message.startswith(f"config.model.path={path}: layer ")
    assert "is a RandomGrayscale (keras.layers), which tf.keras has no built-in layer for" in (
        message)
    assert "save it with tf_keras (TF_USE_LEGACY_KERAS=1), or give the architecture as " \
           "model.builder=module:function" in message and "\n" not in message


def test_a_keras3_parent_is_saved_as_tf_keras_and_evaluated(saved, tmp_path):
    config = tiny_config()
    config.model.path = os.path.join(saved, "functional.keras")
    run_dir = str(tmp_path / "run")
    logs = []
    checkpoint = pipeline._train_network(config, data.load(config.data, 0), run_dir,
                                         logs.append, workdir.PARENT, 0)
    parent = storage.load_model(checkpoint)  # a tf.keras checkpoint, as every parent
    images = np.load(os.path.join(saved, "images.npy"))
    np.testing.assert_allclose(metrics.softmax(parent.predict(images, verbose=0)),
                               np.load(os.path.join(saved, "functional.npy")), atol=1e-5)
    record = storage.read_json(workdir.record(checkpoint))
    assert record["source"]["keras_version"].startswith("3.") and record["history"] == {}
