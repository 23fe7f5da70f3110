"""Digital corruptions: contrast, brightness, saturate, JPEG, pixelate and elastic.

elastic_transform's warpAffine interpolates exactly, not in OpenCV's 1/32-pixel steps.
"""
from __future__ import annotations

import io
from typing import Callable

import numpy as np
from PIL import Image

from tfprune.corruptions._ops import gather, gauss, to_uint8, unit
from tfprune.corruptions.parameters import CIFAR10


def _bilinear(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, fold: Callable) -> np.ndarray:
    """Sample each image of x (N, H, W, C) at float positions (N, H, W); `fold` maps
    out-of-range integer indices back inside (the border rule)."""
    h, w = x.shape[1:3]
    r0, c0 = np.floor(rows), np.floor(cols)
    fr = (rows - r0).astype(x.dtype)[..., None]
    fc = (cols - c0).astype(x.dtype)[..., None]
    r0, c0 = r0.astype(np.intp), c0.astype(np.intp)
    top, bottom = fold(r0, h), fold(r0 + 1, h)
    left, right = fold(c0, w), fold(c0 + 1, w)
    upper = gather(x, top, left) * (1 - fc) + gather(x, top, right) * fc
    lower = gather(x, bottom, left) * (1 - fc) + gather(x, bottom, right) * fc
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
    hsv = list(_rgb_to_hsv(unit(images)))
    hsv[channel] = np.clip(scale * hsv[channel] + shift, 0.0, 1.0)
    return to_uint8(_hsv_to_rgb(*hsv))


def contrast(images, severity, rng, params=CIFAR10):
    """Pull every channel towards its mean."""
    c = params.row("contrast", severity)
    x = unit(images)
    mean = x.mean(axis=(1, 2), keepdims=True)
    return to_uint8((x - mean) * c + mean)


def brightness(images, severity, rng, params=CIFAR10):
    """Raise the HSV value."""
    return _adjust_hsv(images, 2, 1.0, params.row("brightness", severity))


def saturate(images, severity, rng, params=CIFAR10):
    """Scale (and shift) the HSV saturation: severities 1-2 desaturate, 3-5 oversaturate."""
    return _adjust_hsv(images, 1, *params.row("saturate", severity))


def jpeg_compression(images, severity, rng, params=CIFAR10):
    """PIL JPEG round trip (default 4:2:0 subsampling); one encode per image is inherent."""
    quality = params.row("jpeg_compression", severity)
    out = np.empty_like(images)
    for i, img in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, "JPEG", quality=quality)
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def pixelate(images, severity, rng, params=CIFAR10):
    """PIL BOX downsampling of each side S to int(S*c) and BOX upsampling back, per image."""
    c = params.row("pixelate", severity)
    height, width = images.shape[1:3]
    small = (int(width * c), int(height * c))  # PIL sizes are (W, H)
    out = np.empty_like(images)
    for i, img in enumerate(images):
        small_image = Image.fromarray(img).resize(small, Image.BOX)
        out[i] = np.asarray(small_image.resize((width, height), Image.BOX))
    return out


def elastic_transform(images, severity, rng, params=CIFAR10):
    """Random affine warp (OpenCV warpAffine, reflect-101) then a smooth random
    displacement field (scipy map_coordinates, 'reflect'), both bilinear.

    Amounts are fractions of the set's unit, scaled with the shorter side. The three
    points sit around the image centre (x = W//2, y = H//2) at min(H, W)//3; the
    reference's code takes (H//2, W//2) as (x, y), the same on its square images.
    """
    n, h, w = images.shape[:3]
    fractions = np.array(params.row("elastic_transform", severity), np.float32)
    alpha, sigma, jitter = np.float32(params.elastic_scale(h, w)) * fractions
    # Jitter three (x, y) points around the centre. warpAffine samples the source at
    # the affine map that takes the jittered points back to the original ones.
    cx, cy, d = w // 2, h // 2, min(h, w) // 3
    points = np.array([[cx + d, cy + d], [cx + d, cy - d], [cx - d, cy - d]], np.float64)
    moved = points + rng.uniform(-jitter, jitter, (n, 3, 2)).astype(np.float32)
    moved_xy1 = np.concatenate([moved, np.ones((n, 3, 1))], axis=2)
    back = np.linalg.solve(moved_xy1, np.broadcast_to(points, (n, 3, 2)))  # (N, 3, 2)
    xy1 = np.stack([*np.meshgrid(np.arange(w), np.arange(h)), np.ones((h, w))], axis=-1)
    source = (xy1.reshape(-1, 3) @ back).reshape(n, h, w, 2)
    x = _bilinear(unit(images), source[..., 1], source[..., 0], _reflect101)

    def displacement():
        return alpha * gauss(rng.uniform(-1, 1, (n, h, w)), sigma, mode="reflect", truncate=3)

    dx, dy = displacement(), displacement()
    return to_uint8(_bilinear(x, np.arange(h)[:, None] + dy, np.arange(w) + dx, _reflect))
