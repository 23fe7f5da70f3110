"""Noise corruptions: gaussian, shot, impulse and speckle noise."""
import numpy as np

from tfprune.corruptions._ops import to_uint8, unit


def gaussian_noise(images, severity, rng):
    """x + N(0, c^2) per pixel and channel."""
    c = (0.04, 0.06, 0.08, 0.09, 0.10)[severity - 1]
    x = unit(images)
    return to_uint8(x + c * rng.standard_normal(x.shape, np.float32))


def shot_noise(images, severity, rng):
    """Poisson photon noise: Poisson(x*c)/c."""
    c = (500, 250, 100, 75, 50)[severity - 1]
    return to_uint8(rng.poisson(unit(images) * c) / c)


def impulse_noise(images, severity, rng):
    """Salt and pepper: a fraction c of the values becomes 0 or 1 with equal odds."""
    c = (0.01, 0.02, 0.03, 0.05, 0.07)[severity - 1]
    x = unit(images)
    flipped = rng.random(x.shape, np.float32) < c
    salt = rng.random(x.shape, np.float32) < 0.5
    return to_uint8(np.where(flipped, salt, x))


def speckle_noise(images, severity, rng):
    """Multiplicative noise: x + x*N(0, c^2)."""
    c = (0.06, 0.1, 0.12, 0.16, 0.2)[severity - 1]
    x = unit(images)
    return to_uint8(x + x * (c * rng.standard_normal(x.shape, np.float32)))
