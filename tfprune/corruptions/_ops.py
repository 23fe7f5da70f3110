"""Array helpers shared by more than one corruption family.

Images travel as float32 in [0, 1] with shape (N, S, S, 3); single-channel layers as
(N, S, S). The module is private, so its names carry no underscore.
"""
from __future__ import annotations

import functools

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
def zoom_operator(size: int, zooms: tuple[float, ...]) -> sparse.csr_array:
    """Mean of the clipped zooms by each factor, as one sparse (S*S, S*S) matrix on
    flattened images: each zoom is linear and separable, i.e. kron(M, M)."""
    total = sum(sparse.kron(*[sparse.csr_array(_zoom_matrix(size, z))] * 2) for z in zooms)
    return sparse.csr_array(total / len(zooms), dtype=np.float32)


def apply_spatial(op: sparse.csr_array, x: np.ndarray) -> np.ndarray:
    """Apply a (S*S, S*S) operator to every image (and channel) of x (N, S, S, ...)."""
    n, h, w = x.shape[:3]
    flat = np.moveaxis(x.reshape(n, h * w, -1), 0, 1).reshape(h * w, -1)
    return np.moveaxis((op @ flat).reshape(h * w, n, -1), 1, 0).reshape(x.shape)


def gather(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """x[i, rows[i], cols[i]] for each image i (rows, cols broadcast to (N, h, w)) as
    one flat `np.take`, several times faster than three-array fancy indexing."""
    n, h, w = x.shape[:3]
    index = (np.arange(n).reshape(-1, 1, 1) * h + rows) * w + cols
    return np.take(x.reshape(n * h * w, *x.shape[3:]), index, axis=0)


def magick_motion_blur(x: np.ndarray, radius: float, sigma: float, angles: np.ndarray) -> np.ndarray:
    """ImageMagick `MotionBlurImage` on 0..255 values, one angle (degrees) per image.

    The kernel is one-sided: 2*ceil(radius)+1 taps, weight exp(-i^2 / 2 sigma^2) at
    offset i along the angle, borders replicated; the result is rounded to 8 bits.
    """
    h, w = x.shape[1:3]
    taps = np.arange(2 * int(np.ceil(radius)) + 1)
    weights = np.exp(-(taps**2) / (2.0 * sigma**2))
    weights = (weights / weights.sum()).astype(np.float32)
    theta = np.deg2rad(angles)[:, None]
    col_shift = np.rint(taps * np.cos(theta)).astype(int)  # (N, taps)
    row_shift = np.rint(taps * np.sin(theta)).astype(int)
    out = np.zeros(x.shape, np.float32)
    for t, weight in enumerate(weights):
        rows = np.clip(np.arange(h) + row_shift[:, t, None], 0, h - 1)[:, :, None]
        cols = np.clip(np.arange(w) + col_shift[:, t, None], 0, w - 1)[:, None, :]
        out += gather(x, rows, cols) * weight
    return np.rint(out, out=out)
