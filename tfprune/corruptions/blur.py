"""Blur corruptions: gaussian, glass, defocus, motion and zoom blur."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from tfprune.corruptions._ops import (
    apply_spatial, gauss, magick_motion_blur, to_uint8, unit, zoom_operator,
)
from tfprune.corruptions.parameters import CIFAR10


def gaussian_blur(images, severity, rng, params=CIFAR10):
    """Gaussian blur per channel."""
    return to_uint8(gauss(unit(images), params.row("gaussian_blur", severity)))


def _glass_pass(n: int, height: int, width: int, delta: int,
                rng: np.random.Generator) -> np.ndarray:
    """(N, H*W): per pixel, the flat index whose value one pass of the reference's loop
    leaves there.

    The loop runs h from H-delta down to delta+1 and, inside, w likewise, 'swapping'
    each pixel with the one at offsets dy, dx in [-delta, delta); NumPy view aliasing
    makes each swap a copy from the source. A source the loop has already written (one
    later in row-major order, as the loop runs backwards) passes on what it was given,
    so each pixel follows its sources back until one was still untouched: pointer
    doubling over the whole pass at once. With delta 1 every source is untouched.
    """
    rows = np.arange(delta + 1, height - delta + 1)
    cols = np.arange(delta + 1, width - delta + 1)
    dx, dy = rng.integers(-delta, delta, size=(2, n, len(rows), len(cols)))
    targets = (rows[:, None] * width + cols).ravel()
    source_rows, source_cols = rows[:, None] + dy, cols + dx
    sources = (source_rows * width + source_cols).reshape(n, -1)
    looped = ((source_rows > delta) & (source_rows <= height - delta)
              & (source_cols > delta) & (source_cols <= width - delta)).reshape(n, -1)
    pixels = np.broadcast_to(np.arange(height * width), (n, height * width))
    source = pixels.copy()
    source[:, targets] = sources
    link = pixels.copy()
    link[:, targets] = np.where(looped & (sources > targets), sources, targets)
    while True:
        jumped = np.take_along_axis(link, link, axis=1)
        if np.array_equal(jumped, link):
            return np.take_along_axis(source, link, axis=1)
        link = jumped


def glass_blur(images, severity, rng, params=CIFAR10):
    """Blur, shuffle pixels locally (the reference's loop, _glass_pass), blur again."""
    sigma, delta, iterations = params.row("glass_blur", severity)
    y = to_uint8(gauss(unit(images), sigma))
    n, h, w = y.shape[:3]
    for _ in range(iterations):
        origin = _glass_pass(n, h, w, delta, rng)
        y = np.take_along_axis(y.reshape(n, h * w, -1), origin[..., None], axis=1)
        y = y.reshape(images.shape)
    return to_uint8(gauss(unit(y), sigma))


def _defocus_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """Disk of the given radius on the reference's grid (offsets -8..8, beyond radius 8
    -radius..radius), normalised, smoothed by OpenCV's GaussianBlur (3x3, beyond radius
    8 5x5), cropped to its non-zero support."""
    offsets = np.arange(-8, 9) if radius <= 8 else np.arange(-radius, radius + 1)
    half = 1 if radius <= 8 else 2
    disk = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    g = np.exp(-np.arange(-half, half + 1) ** 2 / (2.0 * alias_sigma**2))
    kernel = ndimage.correlate(disk, np.outer(g, g) / g.sum() ** 2, mode="mirror")
    rows, cols = np.nonzero(kernel)
    return kernel[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def defocus_blur(images, severity, rng, params=CIFAR10):
    """Out-of-focus blur: anti-aliased disk kernel (OpenCV filter2D, reflect-101)."""
    kernel = _defocus_kernel(*params.row("defocus_blur", severity))
    return to_uint8(ndimage.correlate(unit(images), kernel[None, :, :, None], mode="mirror"))


def motion_blur(images, severity, rng, params=CIFAR10):
    """Camera shake: one-sided Gaussian trail at a random angle in [-45, 45) degrees."""
    radius, sigma = params.row("motion_blur", severity)
    angles = rng.uniform(-45, 45, len(images))
    return magick_motion_blur(images, radius, sigma, angles)


def zoom_blur(images, severity, rng, params=CIFAR10):
    """Average of the image and its zooms np.arange(1, end, step) (the reference's)."""
    end, step = params.row("zoom_blur", severity)
    # The clean image counts as one more zoom, by 1.
    zooms = (1.0, *np.arange(1, end, step))
    return to_uint8(apply_spatial(zoom_operator(images.shape[1:3], zooms), unit(images)))
