"""Noise similarity: the same seeded noise for every network, scaled to the input's std."""
import numpy as np

from tfprune import config as config_lib, evaluate


def _eval_config(images=6, draws=3, steps=4):
    config = config_lib.base().eval
    config.update(dict(noise_images=images, noise_draws=draws, noise_steps=steps,
                       noise_eps_max=0.6))
    return config


def _brightness_classifier(images):
    """A stand-in network: class = whether the mean pixel is above 128 (logits)."""
    above = images.reshape(len(images), -1).mean(axis=1) > 128
    return np.stack([~above, above], axis=1).astype(np.float32)


def test_shapes_levels_and_determinism():
    images = np.full((10, 32, 32, 3), 127, np.uint8)
    config = _eval_config()
    first = evaluate.noise_predictions(_brightness_classifier, images, (60.0,) * 3, config, seed=3)
    again = evaluate.noise_predictions(_brightness_classifier, images, (60.0,) * 3, config, seed=3)
    assert first.shape == (4, 3, 6)  # levels x draws x images
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(evaluate.noise_levels(config), [0.0, 0.2, 0.4, 0.6])
    assert np.all(first[0] == 0)  # eps = 0: the clean prediction for every draw


def test_noise_is_eps_times_std_in_pixel_units():
    """A std of 0 leaves the input clean at every eps; a large std moves it."""
    images = np.full((10, 32, 32, 3), 127, np.uint8)
    seen = []

    def record(batch):
        seen.append(batch.copy())
        return _brightness_classifier(batch)

    evaluate.noise_predictions(record, images, (0.0,) * 3, _eval_config(), seed=0)
    assert all(np.all(batch == 127) for batch in seen)
    seen.clear()
    evaluate.noise_predictions(record, images, (50.0,) * 3, _eval_config(), seed=0)
    spread = np.abs(seen[-1] - 127).max()
    assert 25 < spread <= 0.6 * 50 + 1e-3
