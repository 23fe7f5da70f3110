"""Noise corruptions: gaussian, shot, impulse and speckle noise."""
import numpy as np

from tfprune.corruptions._ops import to_uint8, unit
from tfprune.corruptions.parameters import CIFAR10


def gaussian_noise(images, severity, rng, params=CIFAR10):
    """x + N(0, c^2) per pixel and channel."""
    c = params.row("gaussian_noise", severity)
    x = unit(images)
    return to_uint8(x + c * rng.standard_normal(x.shape, np.float32))


def shot_noise(images, severity, rng, params=CIFAR10):
    """Poisson photon noise: Poisson(x*c)/c."""
    c = params.row("shot_noise", severity)
    return to_uint8(rng.poisson(unit(images) * c) / c)


def impulse_noise(images, severity, rng, params=CIFAR10):
    """Salt and pepper: a fraction c of the values becomes 0 or 1 with equal odds."""
    c = params.row("impulse_noise", severity)
    x = unit(images)
    flipped = rng.random(x.shape, np.float32) < c
    salt = rng.random(x.shape, np.float32) < 0.5
    return to_uint8(np.where(flipped, salt, x))


def speckle_noise(images, severity, rng, params=CIFAR10):
    """Multiplicative noise: x + x*N(0, c^2)."""
    c = params.row("speckle_noise", severity)
    x = unit(images)
    return to_uint8(x + x * (c * rng.standard_normal(x.shape, np.float32)))
