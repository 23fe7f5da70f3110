"""The TFLite path: real conversion, real ai-edge-litert interpreter, clear errors."""
import numpy as np
import pytest

import tfprune  # noqa: F401

from export import litert, variants
from tfprune import models


@pytest.fixture(scope="module")
def model_and_file(tmp_path_factory):
    model = models.build("cnn_small", (32, 32, 3), 10, (120.0,) * 3, (60.0,) * 3, seed=1)
    path = tmp_path_factory.mktemp("tflite") / "model.tflite"
    path.write_bytes(variants.convert(model))
    return model, path


def test_interpreter_matches_keras_in_float32(model_and_file):
    model, path = model_and_file
    images = np.random.default_rng(0).integers(0, 256, (150, 32, 32, 3), dtype=np.uint8)
    interpreter = litert.TFLiteModel(str(path), threads=2, batch_size=64)  # 150 = 2 full + 1 padded
    keras_logits = model.predict(images.astype(np.float32), verbose=0)
    tflite_logits = interpreter.predict_logits(images)
    assert tflite_logits.shape == keras_logits.shape
    np.testing.assert_allclose(tflite_logits, keras_logits, atol=1e-3)
    assert np.mean(interpreter.predict(images) == keras_logits.argmax(-1)) >= 0.99


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_tflite_gives_a_clear_error(model_and_file, tmp_path, damage):
    content = model_and_file[1].read_bytes()
    broken = {"truncate": content[: len(content) // 3], "garbage": b"\x00" * 64,
              "empty": b""}[damage]
    path = tmp_path / "broken.tflite"
    path.write_bytes(broken)
    with pytest.raises(litert.TFLiteError) as error:
        litert.TFLiteModel(str(path)).predict(np.zeros((1, 32, 32, 3), np.uint8))
    assert str(path) in str(error.value) and "export it again" in str(error.value)


def test_missing_tflite_file_names_the_fix(tmp_path):
    with pytest.raises(litert.TFLiteError, match="export it again"):
        litert.TFLiteModel(str(tmp_path / "absent.tflite"))
