"""Every TFLite variant converts and runs in ai-edge-litert; full-integer int8 agrees with
Keras on the quickstart CNN trained briefly on digits; damaged files of each kind fail
clearly."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from export import evaluation, litert, variants
from tfprune import config as config_lib
from tfprune import data, models
from tfprune import errors

# Lowest top-1 agreement with Keras on the digits test set: float files compute the same
# function; quantized ones may flip a few borderline images. pqat_int8 converts the plain
# network here as int8 does (tests/test_pqat.py fine-tunes it first).
AGREEMENT = dict(float32=0.99, float16=0.99, sparse=0.99, dynamic_int8=0.95, int8=0.95,
                 sparse_int8=0.95, pqat_int8=0.95)


@pytest.fixture(scope="module")
def digits():
    return data.load(config_lib.base().data, seed=0)


@pytest.fixture(scope="module")
def trained(digits):
    """The quickstart CNN after a few epochs on digits (about 95% test accuracy)."""
    model = models.build("cnn_small", digits.train_images.shape[1:], digits.num_classes,
                         digits.mean, digits.std, seed=0)
    model.compile(tf.keras.optimizers.Adam(3e-3),
                  tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(digits.train_images.astype(np.float32), digits.train_labels, batch_size=64,
              epochs=8, verbose=0)
    return model


@pytest.fixture(scope="module")
def files(trained, digits):
    representative = evaluation.representative_images(digits.train_images, seed=0)
    return {variant: variants.convert(trained, variant, representative)
            for variant in variants.VARIANTS}


@pytest.mark.parametrize("variant", list(variants.VARIANTS))
def test_variant_converts_runs_and_agrees_with_keras(trained, digits, files, variant):
    images = digits.test_images
    keras_predictions = trained.predict(images.astype(np.float32), verbose=0).argmax(-1)
    runner = litert.TFLiteModel(files[variant], threads=2, batch_size=64)
    predictions = runner.predict(images)
    assert predictions.shape == keras_predictions.shape
    assert np.mean(predictions == keras_predictions) >= AGREEMENT[variant]
    assert np.mean(keras_predictions == digits.test_labels) >= 0.9  # a trained network
    assert runner.delegate.startswith(("default (XNNPACK)", "builtin without default"))


@pytest.mark.parametrize("variant", [v.name for v in variants.VARIANTS.values() if v.integer])
def test_full_integer_files_take_and_give_int8(files, variant):
    runner = litert.TFLiteModel(files[variant])
    details = (runner._input, runner._output)
    assert [d["dtype"] for d in details] == [np.int8, np.int8]
    scale, zero_point = runner._input["quantization"]
    # The calibration pixels span 0..255: they map onto the int8 range one to one.
    assert scale == pytest.approx(1.0, abs=0.02) and zero_point == -128


def test_quantized_files_are_smaller(files):
    size = {variant: len(content) for variant, content in files.items()}
    assert size["float16"] < 0.7 * size["float32"]
    for variant in ("dynamic_int8", "int8"):
        assert size[variant] < 0.45 * size["float32"]


@pytest.mark.parametrize("variant", ["int8", "sparse"])
@pytest.mark.parametrize("damage", ["truncate_tail", "flip_header"])
def test_damaged_variant_gives_a_clear_error(files, tmp_path, variant, damage):
    content = files[variant]
    broken = {"truncate_tail": content[: len(content) - 200],
              "flip_header": content[:4] + b"XXXX" + content[8:]}[damage]
    path = tmp_path / f"broken.{variant}.tflite"
    path.write_bytes(broken)
    with pytest.raises(litert.TFLiteError, match="export it again"):
        litert.TFLiteModel(str(path))


def test_unknown_variant_is_refused_in_one_line():
    with pytest.raises(errors.ConfigError) as error:
        variants.parse("float32,int4", "--variants")
    message = str(error.value)
    assert "\n" not in message and "'int4'" in message
    assert all(variant in message for variant in variants.VARIANTS)
    assert variants.parse("all") == tuple(variants.VARIANTS)
    assert variants.parse(("int8", "float32")) == ("float32", "int8")
    assert variants.parse(("int8,float32",)) == ("float32", "int8")  # a flag's tuple of one
