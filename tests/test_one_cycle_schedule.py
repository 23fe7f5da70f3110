"""train.lr_schedule=one_cycle: triangular, from lr/25 up to lr at one_cycle_peak of the
epochs and down to 0 at the end; rescaled or kept for retraining like the others; and
learning rates that cannot train are refused before any work."""
import math

import numpy as np
import pytest

from tfprune import config as config_lib
from tfprune import errors, train


def _one_cycle(**keys):
    config = config_lib.base()
    config.train.update(dict(dict(lr_schedule="one_cycle", lr=0.4, epochs=10), **keys))
    return config


def test_one_cycle_rises_to_the_peak_then_falls_to_zero():
    config = _one_cycle(one_cycle_peak=0.3)
    config_lib.validate(config)
    schedule = train.lr_schedule(config.train, 10, steps_per_epoch=100)
    values = np.array([float(schedule(step)) for step in range(0, 1001, 50)])
    assert values[0] == pytest.approx(0.4 / 25)
    assert float(schedule(300)) == pytest.approx(0.4)
    assert values.argmax() == 6  # step 300
    assert np.all(np.diff(values[:7]) > 0) and np.all(np.diff(values[6:]) < 0)
    assert float(schedule(1000)) == pytest.approx(0.0, abs=1e-9)
    assert float(schedule(650)) == pytest.approx(0.4 * 350 / 700)


def test_retraining_rescales_or_keeps_the_cycle():
    config = _one_cycle(one_cycle_peak=0.5)
    rescaled = train.lr_schedule(config.train, 2, steps_per_epoch=100, rescale=True)
    assert float(rescaled(100)) == pytest.approx(0.4)  # the peak at half of 2 epochs
    kept = train.lr_schedule(config.train, 2, steps_per_epoch=100, rescale=False)
    assert float(kept(200)) < 0.4 * 0.5  # still rising at the end of 2 of 10 epochs


@pytest.mark.parametrize("keys, message", [
    (dict(lr=math.nan), "train.lr.*not a finite number"),
    (dict(lr=math.inf), "train.lr.*not a finite number"),
    (dict(lr=0.0), "train.lr.*out of range"),
    (dict(lr=-0.1), "train.lr.*out of range"),
    (dict(one_cycle_peak=1.0), "train.one_cycle_peak.*out of range"),
    (dict(warmup_epochs=2), "train.warmup_epochs.*set train.warmup_epochs=0"),
])
def test_learning_rates_that_cannot_train_are_refused(keys, message):
    with pytest.raises(errors.ConfigError, match=message):
        config_lib.validate(_one_cycle(**keys))
