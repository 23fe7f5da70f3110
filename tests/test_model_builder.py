"""model.builder: the user's function (input_shape, num_classes) -> tf.keras.Model, given as
module:function or path/to/file.py:function, is trained and pruned as a registered model,
behind the data set's normalisation; a builder that cannot give a classifier is refused in
one line before the run records anything."""
import os
import textwrap

import numpy as np
import pytest

from conftest import tiny_config
from tfprune import config as config_lib
from tfprune import errors, models, pipeline, storage, user_models, workdir

BUILDERS = textwrap.dedent('''
    import tfprune  # noqa: F401
    import tensorflow as tf

    L = tf.keras.layers


    def small(input_shape, num_classes):
        """A Sequential network ending in softmax probabilities."""
        return tf.keras.Sequential([
            tf.keras.Input(input_shape), L.Conv2D(8, 3, strides=2, use_bias=False),
            L.BatchNormalization(), L.ReLU(), L.Conv2D(16, 3, strides=2), L.ReLU(),
            L.GlobalAveragePooling2D(), L.Dense(num_classes, activation="softmax")])


    def three_classes(input_shape, num_classes):
        inputs = tf.keras.Input(input_shape)
        x = L.GlobalAveragePooling2D()(L.Conv2D(4, 3)(inputs))
        return tf.keras.Model(inputs, L.Dense(3)(x))


    def not_a_model(input_shape, num_classes):
        return "a string"


    def raises(input_shape, num_classes):
        raise RuntimeError("out of filters")
''')
SHAPE, CLASSES = (32, 32, 3), 10
MEAN, STD = (30.0, 40.0, 50.0), (60.0, 70.0, 80.0)


@pytest.fixture(scope="module")
def builders(tmp_path_factory):
    path = tmp_path_factory.mktemp("builders") / "user_builders.py"
    path.write_text(BUILDERS)
    return str(path)


def _config(spec):
    config = tiny_config()
    config.model.builder = spec
    return config.model


def test_a_file_builder_is_built_behind_the_normalisation_seeded(builders):
    model, source = models.network(_config(f"{builders}:small"), SHAPE, CLASSES, MEAN, STD, 3)
    again, _ = models.network(_config(f"{builders}:small"), SHAPE, CLASSES, MEAN, STD, 3)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:3] == ["InputLayer", "Normalization", "Conv2D"]
    normalization = model.layers[1].get_config()
    assert np.allclose(normalization["mean"], MEAN)
    assert np.allclose(normalization["variance"], np.square(STD))
    assert model.layers[-1].get_config()["activation"] == "linear"  # its softmax removed
    assert source["head"].startswith("probabilities") and source["builder"].endswith(":small")
    for weights, other in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(weights, other)


def test_no_normalisation_layer_is_added_when_the_model_normalises_itself(builders):
    """data.normalization=model gives mean 0 and std 1: no layer, not an identity op."""
    identity = (0.0,) * 3, (1.0,) * 3
    built, _ = models.network(_config(f"{builders}:small"), SHAPE, CLASSES, *identity, 3)
    registered = config_lib.base().model
    registered.name = "resnet20"
    network, _ = models.network(registered, SHAPE, CLASSES, *identity, 3)
    for model in (built, network):
        kinds = [type(layer).__name__ for layer in model.layers]
        assert kinds[:2] == ["InputLayer", "Conv2D"] and "Normalization" not in kinds


def test_a_module_builder_is_imported_from_the_path(builders, monkeypatch):
    monkeypatch.syspath_prepend(os.path.dirname(builders))
    function = user_models.builder_function("user_builders:three_classes")
    assert function.__name__ == "three_classes"
    config = config_lib.base()
    config.model.builder = "user_builders:small"
    config.eval.reference_network = False
    config_lib.validate(config)


@pytest.mark.parametrize("name, message", [
    ("three_classes", "outputs 3 classes, the data set has 10; give a model of 10 outputs"),
    ("not_a_model", "returned str, not a tf.keras.Model"),
    ("raises", "raised RuntimeError: out of filters; fix the function"),
    ("absent", "has no function absent; name a function (input_shape, num_classes)"),
])
def test_a_builder_that_gives_no_classifier_is_refused_in_one_line(builders, name, message):
    with pytest.raises(errors.ConfigError) as refused:
        models.network(_config(f"{builders}:{name}"), SHAPE, CLASSES, MEAN, STD, 0)
    assert message in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("spec, message", [
    ("no_function_named", "write module:function or path/to/file.py:function"),
    ("no_such_module_xyz:build", "cannot import no_such_module_xyz (ModuleNotFoundError"),
    ("missing/builder.py:build", "missing/builder.py does not exist"),
])
def test_a_bad_builder_spec_fails_validation(spec, message):
    config = config_lib.base()
    config.model.builder = spec
    with pytest.raises(errors.ConfigError, match="config.model.builder=") as refused:
        config_lib.validate(config)
    assert message in str(refused.value)


def test_a_builder_network_is_trained_and_pruned(builders, tmp_path):
    config = tiny_config()
    config.model.builder = f"{builders}:small"
    config.prune.ratios = (0.5,)
    run_dir = str(tmp_path / "run")
    logs = []
    results = pipeline.run(config, run_dir, log=logs.append)
    record = storage.read_json(workdir.record(workdir.checkpoint(run_dir, workdir.PARENT)))
    assert len(record["history"]["loss"]) == config.train.epochs  # trained by tfprune
    assert record["source"]["builder"] == config.model.builder
    assert results["parent_source"]["head"].startswith("probabilities")
    assert any(f"training model.builder={config.model.builder}" in line for line in logs)
    cycle, = results["methods"]["wt"]["cycles"]
    assert cycle["prune_ratio"] == pytest.approx(0.5, abs=0.02)
    assert storage.exists(workdir.checkpoint(run_dir, workdir.cycle_id("wt", 1)))
