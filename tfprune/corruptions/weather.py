"""Weather corruptions: snow, frost, fog and spatter.

Where these differ from the reference beyond the package-wide points, and why:
- frost: given the reference's photographs (frost_photographs.py), it is the reference's
  recipe. Without them it falls back to five ice textures generated from fixed seeds,
  at the photos' rescaled sizes and with mean colours from the first three (texture 1
  teal, about (78, 149, 166); textures 2-5 frosted white, about (201, 205, 215)). The
  photos have far less contrast and frost4/5 are darker, so this frost changes CIFAR
  images 15-33% more than the reference's. They are needle-filled ice grains under a
  haze, not photographs. Their crops may start at every valid offset (the reference's
  randint leaves out the last one; with the photos, so does this).
- spatter: the Canny, chamfer distance, histogram equalisation and box filters follow
  OpenCV's rules without its fixed-point arithmetic. With no liquid at all the image
  is left unchanged (the reference divides 0 by 0).
"""
from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage, spatial

from tfprune.corruptions._ops import (
    apply_spatial, gauss, magick_motion_blur, to_uint8, unit, zoom_operator,
)
from tfprune.corruptions.frost_photographs import photograph_textures
from tfprune.corruptions.parameters import CIFAR10


def snow(images, severity, rng, params=CIFAR10):
    """Snowflakes streaked by motion blur (and its 180-degree copy) over a brightened image."""
    mean, sd, zoom, threshold, radius, sigma, keep = params.row("snow", severity)
    x = unit(images)
    n, h, w = x.shape[:3]
    # The layer stays float64 up to its 8 bits, as the reference's, so that it crosses
    # the threshold and the integer steps where the reference's does.
    flakes = rng.normal(mean, sd, (n, h, w))
    flakes = apply_spatial(zoom_operator((h, w), (zoom,), np.float64), flakes)
    flakes[flakes < threshold] = 0
    layer = (np.clip(flakes, 0, 1) * 255).astype(np.uint8)  # ImageMagick gets 8 bits
    flakes = magick_motion_blur(layer, radius, sigma, rng.uniform(-135, -45, n))[..., None] / 255
    grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = keep * x + (1 - keep) * np.maximum(x, 1.5 * grey[..., None] + 0.5)
    return to_uint8(x + flakes + flakes[:, ::-1, ::-1])


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
def _frost_texture(index: int, size: int, per_pixel: float = CIFAR10.frost_per_pixel,
                   fit: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Procedural stand-in for the reference frost photo `index`, resized as the photo
    by per_pixel*size (CIFAR's 0.2 at 32 px by default; features scale with it), and
    larger than `fit` (H, W) on both axes; fixed seed, as the reference textures are files."""
    rng = np.random.default_rng(20190 + index)
    scale = per_pixel * size / CIFAR10.frost_resize
    shape = tuple(max(int(round(d * scale)), least + 1)
                  for d, least in zip(_FROST_SHAPES[index], fit))
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


def _blend_crops(images, a, b, texture, rng, dtype, last_offset: bool):
    """a*image + b*(random crop of texture(k), k uniform in 0..4), clipped and truncated.

    Arithmetic is in `dtype` (the reference's float64 with the photos); `last_offset`
    says whether a crop may start at the last offset that fits.
    """
    n, h, w = images.shape[:3]
    pick = rng.integers(0, len(_FROST_SHAPES), n)
    out = a * images.astype(dtype)
    spare = 1 if last_offset else 0
    for k in np.unique(pick):
        idx = np.flatnonzero(pick == k)
        chosen = texture(int(k))
        top = rng.integers(0, chosen.shape[0] - h + spare, len(idx))
        left = rng.integers(0, chosen.shape[1] - w + spare, len(idx))
        rows, cols = top[:, None, None] + np.arange(h)[:, None], left[:, None, None] + np.arange(w)
        out[idx] += b * chosen[rows, cols].astype(dtype)
    return np.clip(out, 0, 255).astype(np.uint8)


def frost(images, severity, rng, photographs=None, params=CIFAR10):
    """a*image + b*(random crop of a random frost texture), on the 0..255 scale.

    `photographs`: a folder of the reference's photos (find_frost_photographs), blended
    as the reference's recipe does; None falls back to the generated ice textures,
    stand-ins that make frost stronger than the reference's. Either is resized by the
    set's factor per pixel of the shorter side (CIFAR-10-C 0.2 at 32 px, Tiny-ImageNet-C
    0.3 at 64, ImageNet-C 1 at 224), more where a crop of the image's size would not fit.
    """
    a, b = params.row("frost", severity)
    h, w = images.shape[1:3]
    resize = dict(size=min(h, w), per_pixel=params.frost_per_pixel, fit=(h, w))
    if photographs is None:
        return _blend_crops(images, a, b, lambda k: _frost_texture(k, **resize), rng,
                            np.float32, last_offset=True)
    photos = photograph_textures(photographs, **resize)
    return _blend_crops(images, a, b, photos.__getitem__, rng, np.float64, last_offset=False)


def _plasma(n: int, shape: tuple[int, int], decay: float,
            rng: np.random.Generator) -> np.ndarray:
    """Diamond-square plasma fractal on a wrap-around grid (one per image), in [0, 1].

    Each new point is the mean of its 4 neighbours + w*U(-w, w); w starts at 100 and
    is divided by `decay` after each square+diamond pass. The grid side is the power of
    two that covers the longer side (the reference's: 32 for CIFAR, 64 for Tiny-ImageNet,
    256 for ImageNet), cropped to `shape` (H, W).
    """
    side = 1 << (max(shape) - 1).bit_length()
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
    m = m[:, : shape[0], : shape[1]]
    m -= m.min(axis=(1, 2), keepdims=True)
    return (m / m.max(axis=(1, 2), keepdims=True)).astype(np.float32)


def fog(images, severity, rng, params=CIFAR10):
    """Add a plasma cloud (shared by the channels), then rescale so the image max is kept."""
    a, decay = params.row("fog", severity)
    x = unit(images)
    cloud = _plasma(len(x), x.shape[1:3], decay, rng)[..., None]
    top = x.max(axis=(1, 2, 3), keepdims=True)
    return to_uint8((x + a * cloud) * top / (top + a))


def _canny(u8: np.ndarray, low: int, high: int) -> np.ndarray:
    """OpenCV Canny (aperture 3, L1 magnitude) on a (N, H, W) uint8 batch.

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


def _box3(x: np.ndarray) -> np.ndarray:
    """OpenCV `blur(x, (3, 3))`: 3x3 mean with reflect-101 borders (scipy 'mirror')."""
    return ndimage.uniform_filter(x.astype(np.float32), 3, mode="mirror", axes=(1, 2))


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


def spatter(images, severity, rng, params=CIFAR10):
    """Water droplets (severities 1-3) or mud (4-5) from a thresholded blurry noise layer."""
    mean, sd, sigma, threshold, k, mud = params.row("spatter", severity)
    x = unit(images)
    liquid = gauss(rng.normal(mean, sd, x.shape[:3]), sigma)
    liquid[liquid < threshold] = 0
    if mud:
        m = gauss((liquid > threshold).astype(np.float64), k)
        m[m < 0.8] = 0
        m = m[..., None]
        return to_uint8(x * (1 - m) + m * (np.array([63, 42, 20], np.float32) / 255))
    m = _water_mask(liquid)
    top = m.max(axis=(1, 2), keepdims=True)
    m = k * m / np.where(top > 0, top, 1)
    return to_uint8(x + m[..., None] * (np.array([175, 238, 238], np.float32) / 255))
