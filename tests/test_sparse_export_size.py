"""The sparse TFLite format makes a 90%-sparse network's file smaller: after gzip for
ResNet20 in float32, and raw for both the float and the int8 sparse variants.

Measured here: ResNet20 90% sparse, float32 1095 KB (139 KB gzipped) vs sparse 164 KB
(133 KB gzipped). gzip alone already squeezes most zeros out of a dense file, so after
gzip the sparse format gains little; for int8 it loses (58.5 vs 66.8 KB gzipped), and
on the tiny quickstart CNN float sparse loses too (its rows of 16-32 input channels hold
2-3 non-zeros each, and the per-row index overhead outweighs gzip's zero runs).
"""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from export import evaluation, litert, variants
from tfprune import models


def _sparse90(name):
    """Network `name` (random weights: sizes do not depend on training) with the 90%
    smallest weights of every kernel set to zero."""
    model = models.build(name, (32, 32, 3), 10, (120.0,) * 3, (60.0,) * 3, seed=1)
    for layer in model.layers:
        if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense)):
            kernel, *rest = layer.get_weights()
            threshold = np.quantile(np.abs(kernel), 0.9)
            layer.set_weights([np.where(np.abs(kernel) > threshold, kernel, 0.0), *rest])
    return model


def test_sparse_float_file_is_smaller_than_dense_after_gzip():
    model = _sparse90("resnet20")
    dense, sparse = (variants.convert(model, variant) for variant in ("float32", "sparse"))
    assert evaluation.gzip_size(sparse) < evaluation.gzip_size(dense)
    assert len(sparse) < 0.25 * len(dense)
    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_allclose(litert.TFLiteModel(sparse).predict_logits(images),
                               litert.TFLiteModel(dense).predict_logits(images), atol=1e-3)


def test_sparse_int8_file_is_smaller_than_int8_raw():
    model = _sparse90("cnn_small")
    images = np.random.default_rng(0).integers(0, 256, (32, 32, 32, 3)).astype(np.float32)
    dense, sparse = (variants.convert(model, variant, images)
                     for variant in ("int8", "sparse_int8"))
    assert len(sparse) < 0.75 * len(dense)
    runner = litert.TFLiteModel(sparse)
    assert runner.predict(images).shape == (32,)
    assert runner.delegate.startswith(("default (XNNPACK)", "builtin without default"))


@pytest.mark.parametrize("variant", ["sparse", "sparse_int8"])
def test_sparse_variant_of_a_dense_network_still_converts(variant):
    model = models.build("cnn_small", (32, 32, 3), 10, (120.0,) * 3, (60.0,) * 3, seed=1)
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3)).astype(np.float32)
    runner = litert.TFLiteModel(variants.convert(model, variant, images))
    assert runner.predict(images).shape == (8,)
