"""Tests for tfprune.models: shapes, parameter counts, seeding, saving, pruning, TFLite."""
import tfprune  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from tfprune import models

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_optimization as tfmot

# Usual parameter counts (trainable: kernels, biases, BN gamma/beta) for 10 classes.
REFERENCE_PARAMS = {
    # Defined by this repo: the quickstart CNN is specified as ~20-30k parameters.
    "cnn_small": 24_346,
    # torchprune vgg16_bn (src/torchprune/torchprune/util/external/cnn/models/cifar/vgg.py,
    # from bearpaw/pytorch-classification): cfg "D" + BN + Linear(512, 10), counted
    # from that definition (its 4,224 conv biases before BN are dropped in tfprune).
    "vgg16_bn": 14_728_266,
    # He et al. 2016, Table 6 (0.27M / 0.85M / 1.7M, option A); exact values as
    # reported by akamaster/pytorch_resnet_cifar10 for the same architecture.
    "resnet20": 269_722,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    # Zagoruyko & Komodakis 2016, Table 4: WRN-16-8 has 11.0M parameters.
    "wrn16_8": 11_000_000,
    # torchprune densenet22 (.../cnn/models/cifar/densenet.py: DenseNet-BC, depth 22,
    # k=12, compression 0.5, bottlenecks), counted from that definition.
    "densenet22": 71_686,
}

NUM_CLASSES = 10


@pytest.fixture(scope="module")
def build_once():
    """Build each model once per module: the large ones take seconds to build."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = models.build(name, num_classes=NUM_CLASSES)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")


def test_registry_has_the_reference_models():
    assert set(models.MODELS) == set(REFERENCE_PARAMS)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_output_shape(build_once, batch, name):
    assert build_once(name)(batch, training=False).shape == (2, NUM_CLASSES)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_param_count_matches_reference(build_once, name):
    count, ref = models.count_params(build_once(name)), REFERENCE_PARAMS[name]
    print(f"\n{name}: {count:,} params (reference {ref:,}, {100 * (count / ref - 1):+.2f}%)")
    assert count == pytest.approx(ref, rel=0.02)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_same_seed_gives_same_weights(build_once, name):
    again = models.build(name, num_classes=NUM_CLASSES)
    for a, b in zip(build_once(name).get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_other_seed_gives_other_weights(build_once):
    other = models.build("cnn_small", num_classes=NUM_CLASSES, seed=1)
    assert not np.array_equal(build_once("cnn_small").get_weights()[0], other.get_weights()[0])


def test_unknown_name_lists_allowed_names():
    with pytest.raises(ValueError) as err:
        models.build("resnet21")
    assert all(name in str(err.value) for name in models.MODELS)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_keras_save_round_trip(build_once, batch, tmp_path, name):
    model = build_once(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(model(batch, training=False), loaded(batch, training=False))


PRUNABLE = (tf.keras.layers.Conv2D, tf.keras.layers.Dense)


def _prune_conv_and_dense(layer):
    if isinstance(layer, PRUNABLE):
        return tfmot.sparsity.keras.prune_low_magnitude(layer)
    return layer


@pytest.mark.parametrize("name", list(models.MODELS))
def test_prune_low_magnitude_and_strip(build_once, batch, name):
    model = build_once(name)
    pruned = tf.keras.models.clone_model(model, clone_function=_prune_conv_and_dense)
    # TF-MOT's PruneLowMagnitude wrapper class is private; it is a Keras Wrapper.
    wrapped = [l for l in pruned.layers if isinstance(l, tf.keras.layers.Wrapper)]
    prunable = [l for l in model.layers if isinstance(l, PRUNABLE)]
    assert len(wrapped) == len(prunable) > 0
    # Masks start at one and are non-trainable: same outputs, same parameter count.
    np.testing.assert_allclose(pruned(batch, training=False), model(batch, training=False),
                               rtol=1e-5, atol=1e-5)
    assert models.count_params(pruned) == models.count_params(model)

    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    assert [type(l) for l in stripped.layers] == [type(l) for l in model.layers]
    assert [w.shape for w in stripped.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize("name", ["resnet20", "densenet22"])
def test_tflite_conversion(build_once, name):
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(build_once(name)).convert()
    assert flatbuffer[4:8] == b"TFL3"  # the TFLite flatbuffer file identifier
