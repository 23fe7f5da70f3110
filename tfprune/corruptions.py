"""CIFAR-10-C corruptions (Hendrycks & Dietterich 2019) in NumPy, SciPy and Pillow.

Written from /work/shared/docs/cifar10c.md (CIFAR parameters of the reference
`make_cifar_c.py`) so that corrupted test sets can be made on machines without
TensorFlow, OpenCV, scikit-image or ImageMagick. Every corruption works on a whole
uint8 batch (N, S, S, 3) at once and returns uint8 values truncated like the
reference's `np.uint8(...)`. `corrupt` feeds them pieces of about 2**20 pixels from
one seeded generator, so a result depends on the seed and the image's place in the
batch.

Where this differs from the reference, and why:
- frost: the reference photos (frost1-5) are not shipped, so five ice textures are
  generated procedurally from fixed seeds, at the reference's rescaled sizes and with
  its mean colours (texture 1 teal, about (78, 149, 166); textures 2-5 frosted white,
  about (201, 205, 215); the means of frost4/5 are not known, so they copy frost2/3).
  They are needle-filled ice grains under a haze, not photographs, so the fine
  structure differs.
- Arithmetic is float32 (the reference mixes float32 and float64) to halve memory
  traffic, and the OpenCV, scikit-image and ImageMagick steps are re-implemented:
  warpAffine interpolates exactly instead of in 1/32-pixel steps, and the Canny,
  chamfer distance, histogram equalisation and box filters follow OpenCV's rules
  without its fixed-point arithmetic. Outputs can differ by a grey level.
- Randomness comes from `np.random.default_rng(seed)`, not the reference's unseeded
  global state, so results are reproducible. Frost crops may start at every valid
  offset (the reference's randint leaves out the last one).
- spatter with no liquid at all leaves the image unchanged (the reference divides
  0 by 0).
Other square sizes work: the zoom, fog map, frost textures and elastic points scale
with the side; the remaining parameters stay the CIFAR ones.
"""
from __future__ import annotations

import functools
import io
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage, sparse, spatial

# ---------------------------------------------------------------------------
# Shared helpers. Images travel as float32 in [0, 1] with shape (N, S, S, 3);
# single-channel layers as (N, S, S).


def _unit(images: np.ndarray) -> np.ndarray:
    return images / np.float32(255)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1], scale to 0..255 and truncate, as the reference's uint8 cast.
    Works in place on x (always a temporary here) to save a large allocation."""
    np.clip(x, 0, 1, out=x)
    x *= 255
    return x.astype(np.uint8, order="C")


def _gauss(x: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    """scikit-image `gaussian` per channel: blur the two spatial axes only."""
    return ndimage.gaussian_filter(x, sigma, mode=mode, truncate=truncate, axes=(1, 2))


def _box3(x: np.ndarray) -> np.ndarray:
    """OpenCV `blur(x, (3, 3))`: 3x3 mean with reflect-101 borders (scipy 'mirror')."""
    return ndimage.uniform_filter(x.astype(np.float32), 3, mode="mirror", axes=(1, 2))


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
def _zoom_operator(size: int, zooms: tuple[float, ...]) -> sparse.csr_array:
    """Mean of the clipped zooms by each factor, as one sparse (S*S, S*S) matrix on
    flattened images: each zoom is linear and separable, i.e. kron(M, M)."""
    total = sum(sparse.kron(*[sparse.csr_array(_zoom_matrix(size, z))] * 2) for z in zooms)
    return sparse.csr_array(total / len(zooms), dtype=np.float32)


def _apply_spatial(op: sparse.csr_array, x: np.ndarray) -> np.ndarray:
    """Apply a (S*S, S*S) operator to every image (and channel) of x (N, S, S, ...)."""
    n, h, w = x.shape[:3]
    flat = np.moveaxis(x.reshape(n, h * w, -1), 0, 1).reshape(h * w, -1)
    return np.moveaxis((op @ flat).reshape(h * w, n, -1), 1, 0).reshape(x.shape)


def _gather(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """x[i, rows[i], cols[i]] for each image i (rows, cols broadcast to (N, h, w)) as
    one flat `np.take`, several times faster than three-array fancy indexing."""
    n, h, w = x.shape[:3]
    index = (np.arange(n).reshape(-1, 1, 1) * h + rows) * w + cols
    return np.take(x.reshape(n * h * w, *x.shape[3:]), index, axis=0)


def _motion_blur(x: np.ndarray, radius: float, sigma: float, angles: np.ndarray) -> np.ndarray:
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
        out += _gather(x, rows, cols) * weight
    return np.rint(out, out=out)


def _bilinear(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, fold: Callable) -> np.ndarray:
    """Sample each image of x (N, S, S, C) at float positions (N, S, S); `fold` maps
    out-of-range integer indices back inside (the border rule)."""
    h, w = x.shape[1:3]
    r0, c0 = np.floor(rows), np.floor(cols)
    fr = (rows - r0).astype(x.dtype)[..., None]
    fc = (cols - c0).astype(x.dtype)[..., None]
    r0, c0 = r0.astype(np.intp), c0.astype(np.intp)
    top, bottom = fold(r0, h), fold(r0 + 1, h)
    left, right = fold(c0, w), fold(c0 + 1, w)
    upper = _gather(x, top, left) * (1 - fc) + _gather(x, top, right) * fc
    lower = _gather(x, bottom, left) * (1 - fc) + _gather(x, bottom, right) * fc
    return upper + (lower - upper) * fr


def _reflect101(i: np.ndarray, n: int) -> np.ndarray:
    """OpenCV BORDER_REFLECT_101 (scipy 'mirror'): ... c b | a b c | b a ..."""
    period = 2 * (n - 1)
    i = np.mod(i, period)
    return np.where(i < n, i, period - i)


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    """scipy 'reflect' (half-sample symmetric): ... b a | a b c | c b ..."""
    i = np.mod(i, 2 * n)
    return np.where(i < n, i, 2 * n - 1 - i)


def _rgb_to_hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-image rgb2hsv; where channels tie for the maximum, blue wins over green
    over red in the hue formula, as there."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = np.maximum(np.maximum(r, g), b)
    delta = v - np.minimum(np.minimum(r, g), b)
    grey = delta == 0
    s = delta / np.where(v > 0, v, 1)
    d = np.where(grey, 1, delta)
    h = np.where(b == v, 4 + (r - g) / d, np.where(g == v, 2 + (b - r) / d, (g - b) / d))
    h = np.where(grey, 0, (h / 6) % 1)
    return h, s, v


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """scikit-image hsv2rgb's six hue sectors in closed form: channel n (R, G, B =
    5, 3, 1) is v * (1 - s * clip(min(k, 4 - k), 0, 1)) with k = (n + 6h) mod 6."""
    k = (np.array([5, 3, 1], h.dtype) + 6 * h[..., None]) % 6
    return v[..., None] * (1 - s[..., None] * np.clip(np.minimum(k, 4 - k), 0, 1))


def _adjust_hsv(images: np.ndarray, channel: int, scale: float, shift: float) -> np.ndarray:
    """Set one HSV channel to clip(scale*channel + shift) and convert back."""
    hsv = list(_rgb_to_hsv(_unit(images)))
    hsv[channel] = np.clip(scale * hsv[channel] + shift, 0.0, 1.0)
    return _to_uint8(_hsv_to_rgb(*hsv))


# ---------------------------------------------------------------------------
# Noise


def gaussian_noise(images, severity, rng):
    """x + N(0, c^2) per pixel and channel."""
    c = (0.04, 0.06, 0.08, 0.09, 0.10)[severity - 1]
    x = _unit(images)
    return _to_uint8(x + c * rng.standard_normal(x.shape, np.float32))


def shot_noise(images, severity, rng):
    """Poisson photon noise: Poisson(x*c)/c."""
    c = (500, 250, 100, 75, 50)[severity - 1]
    return _to_uint8(rng.poisson(_unit(images) * c) / c)


def impulse_noise(images, severity, rng):
    """Salt and pepper: a fraction c of the values becomes 0 or 1 with equal odds."""
    c = (0.01, 0.02, 0.03, 0.05, 0.07)[severity - 1]
    x = _unit(images)
    flipped = rng.random(x.shape, np.float32) < c
    salt = rng.random(x.shape, np.float32) < 0.5
    return _to_uint8(np.where(flipped, salt, x))


def speckle_noise(images, severity, rng):
    """Multiplicative noise: x + x*N(0, c^2)."""
    c = (0.06, 0.1, 0.12, 0.16, 0.2)[severity - 1]
    x = _unit(images)
    return _to_uint8(x + x * (c * rng.standard_normal(x.shape, np.float32)))


# ---------------------------------------------------------------------------
# Blur


def gaussian_blur(images, severity, rng):
    """Gaussian blur per channel."""
    sigma = (0.4, 0.6, 0.7, 0.8, 1.0)[severity - 1]
    return _to_uint8(_gauss(_unit(images), sigma))


def glass_blur(images, severity, rng):
    """Blur, shuffle pixels locally, blur again (frosted glass).

    The reference loops h, w from S-1 down to 2 and 'swaps' each pixel with an
    up/left neighbour (offsets in {-1, 0}); NumPy view aliasing turns each swap into
    a copy, and the source is always still untouched, so a pass is one gather.
    The neighbour range delta is 1 at every severity.
    """
    sigma, iterations = ((0.05, 1), (0.25, 1), (0.4, 1), (0.25, 2), (0.4, 2))[severity - 1]
    y = _to_uint8(_gauss(_unit(images), sigma))
    n, h, w = y.shape[:3]
    for _ in range(iterations):
        dx, dy = rng.integers(-1, 1, size=(2, n, h - 2, w - 2))
        y[:, 2:, 2:] = _gather(y, np.arange(2, h)[:, None] + dy, np.arange(2, w) + dx)
    return _to_uint8(_gauss(_unit(y), sigma))


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
    return _to_uint8(ndimage.correlate(_unit(images), kernel[None, :, :, None], mode="mirror"))


def motion_blur(images, severity, rng):
    """Camera shake: one-sided Gaussian trail at a random angle in [-45, 45) degrees."""
    radius, sigma = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))[severity - 1]
    angles = rng.uniform(-45, 45, len(images))
    return _motion_blur(images, radius, sigma, angles).astype(np.uint8)


def zoom_blur(images, severity, rng):
    """Average of the image and its zooms 1.00, 1.01, ... (the reference's arange)."""
    end = (1.06, 1.11, 1.16, 1.21, 1.26)[severity - 1]
    # The clean image counts as one more zoom, by 1.
    zooms = (1.0, *np.arange(1, end, 0.01))
    return _to_uint8(_apply_spatial(_zoom_operator(images.shape[1], zooms), _unit(images)))


# ---------------------------------------------------------------------------
# Weather


def snow(images, severity, rng):
    """Snowflakes streaked by motion blur (and its 180-degree copy) over a brightened image."""
    mean, sd, zoom, threshold, radius, sigma, keep = (
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    )[severity - 1]
    x = _unit(images)
    n, size = x.shape[:2]
    flakes = rng.normal(mean, sd, (n, size, size)).astype(np.float32)
    flakes = _apply_spatial(_zoom_operator(size, (zoom,)), flakes)
    flakes[flakes < threshold] = 0
    flakes = np.floor(np.clip(flakes, 0, 1) * 255)  # the reference hands ImageMagick 8 bits
    flakes = _motion_blur(flakes, radius, sigma, rng.uniform(-135, -45, n))[..., None] / 255
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = keep * x + (1 - keep) * np.maximum(x, 1.5 * grey[..., None] + 0.5)
    return _to_uint8(x + flakes + flakes[:, ::-1, ::-1])


# Size (H, W) of each reference texture after its 0.2 rescale, and its mean RGB.
_FROST_SHAPES = ((120, 180), (63, 112), (63, 112), (70, 105), (99, 132))
_FROST_MEANS = ((78, 149, 166),) + ((201, 205, 215),) * 4
# Colours of clear glass and of thick ice; the texture runs between them.
_FROST_COLOURS = (((0, 60, 90), (215, 250, 255)),) + (((40, 50, 75), (255, 255, 255)),) * 4


def _ice(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Grey frost pattern in [0, 1] for a window pane.

    Frost grows as grains (Voronoi cells, borders slightly warped), each filled with
    parallel needles at its own angle and spacing (stripes with noisy phase, broken
    by noise), brightest where a smooth haze says the ice is thick.
    """
    h, w = shape

    def fractal(sigma):
        noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma * scale, mode="wrap")
        return noise / noise.std()

    grains = max(int(h * w / (180 * scale**2)), 2)
    seeds = rng.uniform(0, 1, (grains, 2)) * (h, w)
    y, x = np.mgrid[:h, :w].astype(np.float64)
    y += 3 * scale * fractal(4)
    x += 3 * scale * fractal(4)
    dist, cell = spatial.cKDTree(seeds).query(np.stack([y, x], axis=-1), k=2)
    border = np.exp(-(dist[..., 1] - dist[..., 0]) / (0.8 * scale))
    theta = rng.uniform(0, np.pi, grains)[cell[..., 0]]
    spacing = rng.uniform(1.6, 3.0, grains)[cell[..., 0]] * scale
    across = y * np.cos(theta) - x * np.sin(theta)
    needles = (0.5 + 0.5 * np.cos(2 * np.pi * across / spacing + fractal(4))) ** 3
    needles *= np.clip(0.6 + 0.6 * fractal(1.2), 0, 1)
    haze = sum(a * fractal(s) for s, a in ((12, 1), (6, 0.6), (3, 0.4)))
    haze = (haze - haze.min()) / np.ptp(haze)
    thick = np.clip(1.6 * haze - 0.3, 0, 1)
    return np.clip(0.35 * haze + thick * (0.55 * needles + 0.5 * border), 0, 1)


@functools.lru_cache(maxsize=None)
def _frost_texture(index: int, size: int) -> np.ndarray:
    """Procedural stand-in for the reference frost photo `index`, for images of side
    `size` (features scale with it); fixed seed, as the reference textures are files."""
    rng = np.random.default_rng(20190 + index)
    scale = size / 32
    shape = tuple(max(int(round(d * scale)), size + 1) for d in _FROST_SHAPES[index])
    clear, thick = (np.array(c, np.float64) for c in _FROST_COLOURS[index])
    mean = np.array(_FROST_MEANS[index], np.float64)
    ice = _ice(shape, scale, rng)
    # Equalise the pattern, then push it apart into ice and clear glass with a
    # logistic curve whose centre brings the mean to the reference brightness;
    # a final shift matches each channel's mean.
    ice = np.argsort(np.argsort(ice, axis=None)).reshape(shape) / (ice.size - 1)
    goal = np.mean((mean - clear) / (thick - clear))
    low, high = -1.0, 2.0
    for _ in range(40):
        centre = (low + high) / 2
        level = 1 / (1 + np.exp(-8 * (ice - centre)))
        low, high = (low, centre) if level.mean() < goal else (centre, high)
    texture = clear + level[..., None] * (thick - clear)
    for _ in range(10):  # clipping needs a few rounds
        texture = np.clip(texture + mean - texture.mean(axis=(0, 1)), 0, 255)
    return texture.astype(np.float32)


def frost(images, severity, rng):
    """a*image + b*(random crop of a random ice texture), on the 0..255 scale."""
    a, b = ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))[severity - 1]
    n, size = images.shape[:2]
    pick = rng.integers(0, len(_FROST_SHAPES), n)
    out = a * images.astype(np.float32)
    span = np.arange(size)
    for k in np.unique(pick):
        idx = np.flatnonzero(pick == k)
        texture = _frost_texture(int(k), size)
        top = rng.integers(0, texture.shape[0] - size + 1, len(idx))
        left = rng.integers(0, texture.shape[1] - size + 1, len(idx))
        rows, cols = top[:, None, None] + span[:, None], left[:, None, None] + span
        out[idx] += b * texture[rows, cols]
    return np.clip(out, 0, 255).astype(np.uint8)


def _plasma(n: int, size: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """Diamond-square plasma fractal on a wrap-around grid (one per image), in [0, 1].

    Each new point is the mean of its 4 neighbours + w*U(-w, w); w starts at 100 and
    is divided by `decay` after each square+diamond pass. The grid side is the next
    power of two (32 for CIFAR), cropped to `size`.
    """
    side = 1 << (size - 1).bit_length()
    m = np.zeros((n, side, side))
    step, wibble = side, 100.0

    def wibbled(four):
        return four / 4 + wibble * rng.uniform(-wibble, wibble, four.shape)

    while step >= 2:
        half = step // 2
        corners = m[:, ::step, ::step]
        around = corners + np.roll(corners, -1, axis=1)
        m[:, half::step, half::step] = wibbled(around + np.roll(around, -1, axis=2))
        centres = m[:, half::step, half::step]
        # Edge midpoints between two corners on a row / column, and two centres across it.
        on_rows = corners + np.roll(corners, -1, axis=2) + centres + np.roll(centres, 1, axis=1)
        on_cols = corners + np.roll(corners, -1, axis=1) + centres + np.roll(centres, 1, axis=2)
        m[:, ::step, half::step], m[:, half::step, ::step] = wibbled(on_rows), wibbled(on_cols)
        step, wibble = half, wibble / decay
    m = m[:, :size, :size]
    m -= m.min(axis=(1, 2), keepdims=True)
    return (m / m.max(axis=(1, 2), keepdims=True)).astype(np.float32)


def fog(images, severity, rng):
    """Add a plasma cloud (shared by the channels), then rescale so the image max is kept."""
    a, decay = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))[severity - 1]
    x = _unit(images)
    cloud = _plasma(len(x), x.shape[1], decay, rng)[..., None]
    top = x.max(axis=(1, 2, 3), keepdims=True)
    return _to_uint8((x + a * cloud) * top / (top + a))


def _canny(u8: np.ndarray, low: int, high: int) -> np.ndarray:
    """OpenCV Canny (aperture 3, L1 magnitude) on a (N, S, S) uint8 batch.

    Sobel with replicated borders, non-maximum suppression in 4 directions
    (tan 22.5 and tan 67.5 sectors, OpenCV's strict/non-strict comparisons,
    zero magnitude outside), then hysteresis: weak pixels 8-connected to a strong one.
    """
    img = u8.astype(np.int64)
    smooth = ndimage.correlate1d(img, [1, 2, 1], axis=2, mode="nearest")
    gy = ndimage.correlate1d(smooth, [-1, 0, 1], axis=1, mode="nearest")
    smooth = ndimage.correlate1d(img, [1, 2, 1], axis=1, mode="nearest")
    gx = ndimage.correlate1d(smooth, [-1, 0, 1], axis=2, mode="nearest")
    mag = np.abs(gx) + np.abs(gy)
    p = np.pad(mag, ((0, 0), (1, 1), (1, 1)))
    h, w = mag.shape[1:]

    def nb(dr, dc):
        return p[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    ax, ay = np.abs(gx), np.abs(gy) << 15
    tg22 = ax * 13573  # int(tan(22.5 deg) * 2**15 + 0.5)
    tg67 = tg22 + (ax << 16)
    s = np.where((gx ^ gy) < 0, -1, 1)
    diag_a = np.where(s < 0, nb(-1, 1), nb(-1, -1))  # previous row, column - s
    diag_b = np.where(s < 0, nb(1, -1), nb(1, 1))  # next row, column + s
    peak = np.where(
        ay < tg22,
        (mag > nb(0, -1)) & (mag >= nb(0, 1)),
        np.where(ay > tg67, (mag > nb(-1, 0)) & (mag >= nb(1, 0)), (mag > diag_a) & (mag > diag_b)),
    )
    candidate = peak & (mag > low)
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = True  # 8-connectivity within each image, never across the batch
    labels, count = ndimage.label(candidate, structure)
    strong = np.zeros(count + 1, bool)
    strong[labels[candidate & (mag > high)]] = True
    strong[0] = False
    return strong[labels]


def _chamfer_distance(zero: np.ndarray) -> np.ndarray:
    """OpenCV distanceTransform(DIST_L2, mask 5) to the nearest `zero` pixel.

    Two raster passes of the 5x5 chamfer mask (1, 1.4, 2.1969). Within a row a pass
    only adds steps of 1 from the left, i.e. d[j] = j + cummin(t[k] - k), so each
    row is one vectorised step; the backward pass is the forward one on the array
    rotated by 180 degrees.
    """
    a, b, c = 1.0, 1.4, 2.1969
    n, h, w = zero.shape
    d = np.full((n, h + 4, w + 4), np.inf)
    d[:, 2:-2, 2:-2][zero] = 0.0
    ramp = a * np.arange(w)
    for view in (d, d[:, ::-1, ::-1]):
        for r in range(2, h + 2):
            up1, up2 = view[:, r - 1], view[:, r - 2]
            t = np.minimum.reduce([
                view[:, r, 2:-2],
                up2[:, 1:-3] + c, up2[:, 3:-1] + c,
                up1[:, :-4] + c, up1[:, 4:] + c,
                up1[:, 1:-3] + b, up1[:, 3:-1] + b,
                up1[:, 2:-2] + a,
            ])
            view[:, r, 2:-2] = ramp + np.minimum.accumulate(t - ramp, axis=1)
    return d[:, 2:-2, 2:-2]


def _equalize_hist(u8: np.ndarray) -> np.ndarray:
    """OpenCV equalizeHist per image: the lowest present level maps to 0, the rest by
    the rounded cumulative histogram; a one-level image is left as it is."""
    n = len(u8)
    flat = u8.reshape(n, -1).astype(np.int64)
    levels = flat + 256 * np.arange(n)[:, None]  # a separate range of bins per image
    hist = np.bincount(levels.ravel(), minlength=256 * n).reshape(n, 256)
    lowest = hist[np.arange(n), (hist > 0).argmax(axis=1)][:, None]
    rest = flat.shape[1] - lowest
    lut = np.rint((np.cumsum(hist, axis=1) - lowest) * 255 / np.maximum(rest, 1))
    lut = np.where(rest > 0, np.clip(lut, 0, 255), np.arange(256))
    return np.take_along_axis(lut, flat, axis=1).reshape(u8.shape).astype(np.uint8)


def _water_mask(liquid: np.ndarray) -> np.ndarray:
    """Shaded water droplets: liquid * (embossed, equalised distance to the Canny edges
    of the liquid), the reference's OpenCV pipeline."""
    u = (liquid * 255).astype(np.uint8)
    dist = np.minimum(_chamfer_distance(_canny(u, 50, 150)), 20)
    dist = _equalize_hist(_box3(dist).astype(np.uint8))
    emboss = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
    dist = np.clip(ndimage.correlate(dist.astype(np.float64), emboss[None], mode="mirror"), 0, 255)
    dist = np.rint(_box3(dist))  # OpenCV blur of uint8 rounds
    return u * dist


def spatter(images, severity, rng):
    """Water droplets (severities 1-3) or mud (4-5) from a thresholded blurry noise layer."""
    mean, sd, sigma, threshold, k, mud = (
        (0.62, 0.1, 0.7, 0.7, 0.5, False),
        (0.65, 0.1, 0.8, 0.7, 0.5, False),
        (0.65, 0.3, 1, 0.69, 0.5, False),
        (0.65, 0.1, 0.7, 0.69, 0.6, True),
        (0.65, 0.1, 0.5, 0.68, 0.6, True),
    )[severity - 1]
    x = _unit(images)
    n, size = x.shape[:2]
    liquid = _gauss(rng.normal(mean, sd, (n, size, size)), sigma)
    liquid[liquid < threshold] = 0
    if mud:
        m = _gauss((liquid > threshold).astype(np.float64), k)
        m[m < 0.8] = 0
        m = m[..., None]
        return _to_uint8(x * (1 - m) + m * (np.array([63, 42, 20], np.float32) / 255))
    m = _water_mask(liquid)
    top = m.max(axis=(1, 2), keepdims=True)
    m = k * m / np.where(top > 0, top, 1)
    return _to_uint8(x + m[..., None] * (np.array([175, 238, 238], np.float32) / 255))


# ---------------------------------------------------------------------------
# Digital


def contrast(images, severity, rng):
    """Pull every channel towards its mean."""
    c = (0.75, 0.5, 0.4, 0.3, 0.15)[severity - 1]
    x = _unit(images)
    mean = x.mean(axis=(1, 2), keepdims=True)
    return _to_uint8((x - mean) * c + mean)


def brightness(images, severity, rng):
    """Raise the HSV value."""
    return _adjust_hsv(images, 2, 1.0, (0.05, 0.1, 0.15, 0.2, 0.3)[severity - 1])


def saturate(images, severity, rng):
    """Scale (and shift) the HSV saturation: severities 1-2 desaturate, 3-5 oversaturate."""
    scale, shift = ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2))[severity - 1]
    return _adjust_hsv(images, 1, scale, shift)


def jpeg_compression(images, severity, rng):
    """PIL JPEG round trip (default 4:2:0 subsampling); one encode per image is inherent."""
    quality = (80, 65, 58, 50, 40)[severity - 1]
    out = np.empty_like(images)
    for i, img in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, "JPEG", quality=quality)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def pixelate(images, severity, rng):
    """PIL BOX downsampling to int(S*c) and BOX upsampling back, per image."""
    c = (0.95, 0.9, 0.85, 0.75, 0.65)[severity - 1]
    size = images.shape[1]
    small = (int(size * c),) * 2
    out = np.empty_like(images)
    for i, img in enumerate(images):
        small_image = Image.fromarray(img).resize(small, Image.BOX)
        out[i] = np.asarray(small_image.resize((size, size), Image.BOX))
    return out


def elastic_transform(images, severity, rng):
    """Random affine warp (OpenCV warpAffine, reflect-101) then a smooth random
    displacement field (scipy map_coordinates, 'reflect'), both bilinear."""
    n, size = images.shape[:2]
    fractions = ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))
    alpha, sigma, jitter = np.float32(size) * np.array(fractions[severity - 1], np.float32)
    # Jitter three (x, y) points around the centre. warpAffine samples the source at
    # the affine map that takes the jittered points back to the original ones.
    c, d = size // 2, size // 3
    points = np.array([[c + d, c + d], [c + d, c - d], [c - d, c - d]], np.float64)
    moved = points + rng.uniform(-jitter, jitter, (n, 3, 2)).astype(np.float32)
    moved_xy1 = np.concatenate([moved, np.ones((n, 3, 1))], axis=2)
    back = np.linalg.solve(moved_xy1, np.broadcast_to(points, (n, 3, 2)))  # (N, 3, 2)
    xy1 = np.stack([*np.meshgrid(np.arange(size), np.arange(size)), np.ones((size, size))], axis=-1)
    source = (xy1.reshape(-1, 3) @ back).reshape(n, size, size, 2)
    x = _bilinear(_unit(images), source[..., 1], source[..., 0], _reflect101)

    def displacement():
        return alpha * _gauss(rng.uniform(-1, 1, (n, size, size)), sigma, mode="reflect", truncate=3)

    dx, dy = displacement(), displacement()
    return _to_uint8(_bilinear(x, np.arange(size)[:, None] + dy, np.arange(size) + dx, _reflect))


# ---------------------------------------------------------------------------
# Public API

CORRUPTIONS: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    f.__name__: f
    for f in (
        gaussian_noise, shot_noise, impulse_noise, speckle_noise,
        gaussian_blur, glass_blur, defocus_blur, motion_blur, zoom_blur,
        snow, frost, fog, spatter,
        contrast, brightness, saturate, jpeg_compression, pixelate, elastic_transform,
    )
}
NAMES: tuple[str, ...] = tuple(sorted(CORRUPTIONS))


def corrupt(images: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """Apply corruption `name` at `severity` (1-5) to uint8 images (N, S, S, 3), S >= 8.

    Deterministic for a given seed; returns a new uint8 array of the same shape.
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; allowed: {', '.join(NAMES)}")
    if not isinstance(severity, (int, np.integer)) or isinstance(severity, bool) or not 1 <= severity <= 5:
        raise ValueError(f"severity must be an integer in 1..5, got {severity!r}")
    images = np.asarray(images)
    square = images.ndim == 4 and images.shape[3] == 3 and images.shape[1] == images.shape[2] >= 8
    if images.dtype != np.uint8 or not square:
        raise ValueError(
            f"images must be uint8 of shape (N, S, S, 3) with S >= 8, got {images.dtype} {images.shape}"
        )
    rng = np.random.default_rng(seed)
    # Pieces of about 2**20 pixels bound memory and keep temporaries small enough for
    # the allocator to reuse (several times faster than 10,000-image arrays).
    step = max(1, 2**20 // images.shape[1] ** 2)
    function = CORRUPTIONS[name]
    pieces = [function(images[i : i + step], int(severity), rng) for i in range(0, len(images), step)]
    return np.concatenate(pieces) if pieces else images.copy()


def sample_grid(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """One uint8 RGB picture to eyeball the corruptions: a row per corruption (in NAMES
    order), columns clean then severities 1-5, with 2-pixel white gaps."""
    image = np.asarray(image)
    gap = 2
    size = image.shape[0]
    cell = size + gap
    grid = np.full((len(NAMES) * cell + gap, 6 * cell + gap, 3), 255, np.uint8)
    for row, name in enumerate(NAMES):
        tiles = [image] + [corrupt(image[None], name, s, seed)[0] for s in range(1, 6)]
        for col, tile in enumerate(tiles):
            top, left = gap + row * cell, gap + col * cell
            grid[top : top + size, left : left + size] = tile
    return grid
