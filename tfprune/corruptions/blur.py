"""Blur corruptions: gaussian, glass, defocus, motion and zoom blur."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from tfprune.corruptions._ops import (
    apply_spatial, gather, gauss, magick_motion_blur, to_uint8, unit, zoom_operator,
)


def gaussian_blur(images, severity, rng):
    """Gaussian blur per channel."""
    sigma = (0.4, 0.6, 0.7, 0.8, 1.0)[severity - 1]
    return to_uint8(gauss(unit(images), sigma))


def glass_blur(images, severity, rng):
    """Blur, shuffle pixels locally, blur again (frosted glass).

    The reference loops h, w from S-1 down to 2 and 'swaps' each pixel with an
    up/left neighbour (offsets in {-1, 0}); NumPy view aliasing turns each swap into
    a copy, and the source is always still untouched, so a pass is one gather.
    The neighbour range delta is 1 at every severity.
    """
    sigma, iterations = ((0.05, 1), (0.25, 1), (0.4, 1), (0.25, 2), (0.4, 2))[severity - 1]
    y = to_uint8(gauss(unit(images), sigma))
    n, h, w = y.shape[:3]
    for _ in range(iterations):
        dx, dy = rng.integers(-1, 1, size=(2, n, h - 2, w - 2))
        y[:, 2:, 2:] = gather(y, np.arange(2, h)[:, None] + dy, np.arange(2, w) + dx)
    return to_uint8(gauss(unit(y), sigma))


def _defocus_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """Disk of the given radius on the reference's 17x17 grid, normalised, smoothed by
    a 3x3 Gaussian (OpenCV GaussianBlur), cropped to its non-zero support."""
    offsets = np.arange(-8, 9)
    disk = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    g = np.exp(-np.arange(-1, 2) ** 2 / (2.0 * alias_sigma**2))
    kernel = ndimage.correlate(disk, np.outer(g, g) / g.sum() ** 2, mode="mirror")
    rows, cols = np.nonzero(kernel)
    return kernel[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def defocus_blur(images, severity, rng):
    """Out-of-focus blur: anti-aliased disk kernel (OpenCV filter2D, reflect-101)."""
    radius, alias_sigma = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))[severity - 1]
    kernel = _defocus_kernel(radius, alias_sigma)
    return to_uint8(ndimage.correlate(unit(images), kernel[None, :, :, None], mode="mirror"))


def motion_blur(images, severity, rng):
    """Camera shake: one-sided Gaussian trail at a random angle in [-45, 45) degrees."""
    radius, sigma = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))[severity - 1]
    angles = rng.uniform(-45, 45, len(images))
    return magick_motion_blur(images, radius, sigma, angles)


def zoom_blur(images, severity, rng):
    """Average of the image and its zooms 1.00, 1.01, ... (the reference's arange)."""
    end = (1.06, 1.11, 1.16, 1.21, 1.26)[severity - 1]
    # The clean image counts as one more zoom, by 1.
    zooms = (1.0, *np.arange(1, end, 0.01))
    return to_uint8(apply_spatial(zoom_operator(images.shape[1], zooms), unit(images)))
