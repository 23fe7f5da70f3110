"""Array helpers shared by more than one corruption family.

Images travel as float32 in [0, 1] with shape (N, H, W, 3); single-channel layers as
(N, H, W). The module is private, so its names carry no underscore.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage, sparse


def unit(images: np.ndarray) -> np.ndarray:
    return images / np.float32(255)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1], scale to 0..255 and truncate, as the reference's uint8 cast.
    Works in place on x (always a temporary here) to save a large allocation."""
    np.clip(x, 0, 1, out=x)
    x *= 255
    return x.astype(np.uint8, order="C")


def gauss(x: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    """scikit-image `gaussian` per channel: blur the two spatial axes only."""
    return ndimage.gaussian_filter(x, sigma, mode=mode, truncate=truncate, axes=(1, 2))


def _zoom_matrix(size: int, zoom: float) -> np.ndarray:
    """Linear map of one axis for the reference's clipped zoom.

    Centre crop of side ceil(size/zoom), `scipy.ndimage.zoom` order 1 (corner
    aligned, output side round(crop*zoom)), then the centre `size` samples. Being
    linear and separable, it becomes a (size, size) matrix applied to rows and columns.
    """
    crop = int(np.ceil(size / zoom))
    top = (size - crop) // 2
    side = int(round(crop * zoom))
    trim = (side - size) // 2
    src = np.arange(trim, trim + size) * ((crop - 1) / (side - 1))
    low = np.minimum(np.floor(src).astype(int), crop - 1)
    frac = src - low
    high = np.minimum(low + 1, crop - 1)
    rows = np.arange(size)
    matrix = np.zeros((size, size))
    np.add.at(matrix, (rows, top + low), 1.0 - frac)
    np.add.at(matrix, (rows, top + high), frac)
    return matrix


@functools.lru_cache(maxsize=None)
def zoom_operator(shape: int | tuple[int, int], zooms: tuple[float, ...],
                  dtype=np.float32) -> sparse.csr_array:
    """Mean of the clipped zooms by each factor, as one sparse (H*W, H*W) matrix on
    flattened images of `shape` (H, W), or of side `shape`: each zoom is linear and
    separable, i.e. kron(M_H, M_W); each axis is cropped by the factor on its own (the
    reference's square images crop both by the height). `dtype` is that of the
    reference's images (float32 for zoom blur, float64 for the snow layer)."""
    height, width = (shape, shape) if isinstance(shape, int) else shape
    total = sum(sparse.kron(sparse.csr_array(_zoom_matrix(height, z)),
                            sparse.csr_array(_zoom_matrix(width, z))) for z in zooms)
    return sparse.csr_array(total / len(zooms), dtype=dtype)


def apply_spatial(op: sparse.csr_array, x: np.ndarray) -> np.ndarray:
    """Apply a (H*W, H*W) operator to every image (and channel) of x (N, H, W, ...)."""
    n, h, w = x.shape[:3]
    flat = np.moveaxis(x.reshape(n, h * w, -1), 0, 1).reshape(h * w, -1)
    return np.moveaxis((op @ flat).reshape(h * w, n, -1), 1, 0).reshape(x.shape)


def gather(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """x[i, rows[i], cols[i]] for each image i (rows, cols broadcast to (N, h, w)) as
    one flat `np.take`, several times faster than three-array fancy indexing."""
    n, h, w = x.shape[:3]
    index = (np.arange(n).reshape(-1, 1, 1) * h + rows) * w + cols
    return np.take(x.reshape(n * h * w, *x.shape[3:]), index, axis=0)


def _motion_kernel(radius: float, sigma: float) -> list[float]:
    """ImageMagick's one-sided Gaussian: 2*ceil(radius)+1 taps exp(-i^2 / 2 sigma^2) /
    (sqrt(2 pi) sigma), summed in order and divided by the sum, in double with the C
    library's exp (math, not numpy's vectorised one), so every weight is ImageMagick's."""
    taps = [math.exp(-(i * i) / (2.0 * sigma * sigma)) / (math.sqrt(2 * math.pi) * sigma)
            for i in range(2 * int(math.ceil(radius)) + 1)]
    total = 0.0
    for weight in taps:
        total += weight
    return [weight / total for weight in taps]


def magick_motion_blur(x: np.ndarray, radius: float, sigma: float,
                       angles: np.ndarray) -> np.ndarray:
    """The reference's motion blur: 8-bit PNG into ImageMagick 6 (Q16, no HDRI)
    `MotionBlurImage` and out as 8-bit PNG, on 0..255 values x (N, H, W[, C]), one angle
    (degrees) per image; returns uint8.

    Tap i samples offset (ceil(i cos - 1/2), ceil(i sin - 1/2)) (ImageMagick rounds half
    down), borders replicated. Pixels enter as 16-bit quanta 257*v, the weighted sum (double,
    tap order) is rounded to 16 bits (ClampToQuantum), and the PNG writer's reduction to
    depth 8 truncates (SetImageDepth: ScaleQuantumToAny casts 255*q/65535), i.e. q // 257.
    Rounding the 8-bit sum instead is one level too high for about half the pixels.
    """
    h, w = x.shape[1:3]
    weights = _motion_kernel(radius, sigma)
    taps = np.arange(len(weights))
    theta = np.pi * np.asarray(angles, np.float64)[:, None] / 180.0
    # ImageMagick's own steps: a vector of length `taps` along the angle, normalised again.
    run, rise = len(taps) * np.cos(theta), len(taps) * np.sin(theta)
    length = np.hypot(rise, run)
    col_shift = np.ceil(taps * run / length - 0.5).astype(int)  # (N, taps)
    row_shift = np.ceil(taps * rise / length - 0.5).astype(int)
    quanta = x.astype(np.float64) * 257
    total = np.zeros(x.shape, np.float64)
    for t, weight in enumerate(weights):
        rows = np.clip(np.arange(h) + row_shift[:, t, None], 0, h - 1)[:, :, None]
        cols = np.clip(np.arange(w) + col_shift[:, t, None], 0, w - 1)[:, None, :]
        total += gather(quanta, rows, cols) * weight
    quantum = np.clip(np.floor(total + 0.5, out=total), 0, 65535, out=total).astype(np.int32)
    return (quantum // 257).astype(np.uint8)
