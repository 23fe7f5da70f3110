"""Training's SGD applies weight decay as the reference's PyTorch SGD does: coupled to the
gradient before momentum, not decoupled as tf.keras' `weight_decay` (10x weaker)."""
import numpy as np
import pytest

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import config as config_lib
from tfprune import train

LR, MOMENTUM, DECAY = 0.1, 0.9, 1e-4


def _steps(optimizer, start, gradients):
    """The variable after applying `gradients` (one per step) from `start`."""
    variable = tf.Variable(np.asarray(start, np.float32))
    for gradient in gradients:
        optimizer.apply_gradients([(tf.constant(gradient, tf.float32), variable)])
    return variable.numpy()


def _by_hand(start, gradients, nesterov=False):
    """torch.optim.SGD's rule (dampening 0), in numpy float64."""
    weight, buffer = np.asarray(start, np.float64), None
    for gradient in gradients:
        gradient = np.asarray(gradient, np.float64) + DECAY * weight
        buffer = gradient if buffer is None else MOMENTUM * buffer + gradient
        weight = weight - LR * (gradient + MOMENTUM * buffer if nesterov else buffer)
    return weight


@pytest.mark.parametrize("nesterov", [False, True])
def test_steps_follow_the_coupled_rule_computed_by_hand(nesterov):
    start, gradients = [0.5, -2.0, 3.0], [[0.1, 0.2, -0.3], [-0.4, 0.0, 0.25], [1.0, -1, 0]]
    optimizer = train.CoupledSGD(LR, momentum=MOMENTUM, nesterov=nesterov, l2=DECAY)
    np.testing.assert_allclose(_steps(optimizer, start, gradients),
                               _by_hand(start, gradients, nesterov), rtol=1e-6)


def test_a_thousand_zero_gradient_steps_decay_a_weight_to_0_906_not_0_990():
    """The issue's figure: lr 0.1, momentum 0.9, wd 1e-4; decoupled decay leaves 0.990."""
    zeros = [[0.0]] * 1000
    coupled = _steps(train.CoupledSGD(LR, momentum=MOMENTUM, l2=DECAY), [1.0], zeros)[0]
    decoupled = _steps(tf.keras.optimizers.SGD(LR, momentum=MOMENTUM, weight_decay=DECAY),
                       [1.0], zeros)[0]
    assert coupled == pytest.approx(_by_hand([1.0], zeros)[0], rel=1e-5)
    assert coupled == pytest.approx(0.906, abs=1e-3)
    assert decoupled == pytest.approx(0.990, abs=1e-3)


def test_training_compiles_the_coupled_optimizer_with_the_configured_decay():
    config = config_lib.base()
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    train.compile_model(model, config.train, epochs=2, steps_per_epoch=5)
    assert isinstance(model.optimizer, train.CoupledSGD)
    assert model.optimizer.l2 == config.train.weight_decay


def test_retraining_keeps_the_step_length_in_epochs_as_the_reference():
    """VGG16: lr halves every 30 epochs; a 150-epoch retraining of a 300-epoch schedule
    keeps the 30 (at 30, 60, 90, 120), where rescaling would halve every 15."""
    config = config_lib.base()
    config.train.update(epochs=300, lr=0.05, lr_schedule="step", lr_step_epochs=30,
                        lr_gamma=0.5, warmup_epochs=10)
    kept = train.lr_schedule(config.train, 150, steps_per_epoch=1, rescale=False)
    rescaled = train.lr_schedule(config.train, 150, steps_per_epoch=1)
    assert kept.boundaries == [30, 60, 90, 120]
    assert rescaled.boundaries == list(range(15, 150, 15))
    assert kept.warmup_steps == 10
    assert float(kept(0)) == 0.0 and float(kept(5)) == pytest.approx(0.025)
