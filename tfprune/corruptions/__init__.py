"""CIFAR-10-C corruptions (Hendrycks & Dietterich 2019) in NumPy, SciPy and Pillow.

Written from /work/shared/docs/cifar10c.md (CIFAR parameters of the reference
`make_cifar_c.py`) so that corrupted test sets can be made on machines without
TensorFlow, OpenCV, scikit-image or ImageMagick. Every corruption works on a whole
uint8 batch (N, S, S, 3) at once and returns uint8 values truncated like the
reference's `np.uint8(...)`. `corrupt` feeds them pieces of about 2**20 pixels from
one seeded generator, so a result depends on the seed and the image's place in the
batch. The corruptions live in one module per family of the benchmark: noise, blur,
weather, digital.

Where this differs from the reference, and why (weather.py and digital.py list
their own further points):
- Arithmetic is mostly float32 (the reference mixes float32 and float64) to halve
  memory traffic, and the OpenCV, scikit-image and ImageMagick steps are re-implemented.
  Outputs can differ by a grey level. Motion blur and snow follow ImageMagick's integer
  steps and the reference's float64 and are bit-exact with it; so is frost with the
  photographs.
- Frost needs the reference's photographs (`find_frost_photographs`, passed to
  `corrupt`); without them it uses generated stand-ins, stronger than the reference's.
  `frost_texture_source` labels which one a result used.
- Randomness comes from `np.random.default_rng(seed)`, not the reference's unseeded
  global state, so results are reproducible.
Other square sizes work: the zoom, fog map, frost textures (photos scaled by 0.2*S/32)
and elastic points scale with the side; the remaining parameters stay the CIFAR ones.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from tfprune.corruptions.blur import (
    defocus_blur, gaussian_blur, glass_blur, motion_blur, zoom_blur,
)
from tfprune.corruptions.digital import (
    brightness, contrast, elastic_transform, jpeg_compression, pixelate, saturate,
)
from tfprune.corruptions.frost_photographs import (
    FROST_PHOTOGRAPHS, find_frost_photographs, frost_texture_source,
)
from tfprune.corruptions.noise import gaussian_noise, impulse_noise, shot_noise, speckle_noise
from tfprune.corruptions.weather import fog, frost, snow, spatter

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
# Raised whenever a corruption's output changes, so that sets cached by an earlier version
# are made again (2: ImageMagick's rounding in motion blur and snow).
VERSION = 2


def corrupt(images: np.ndarray, name: str, severity: int, seed: int,
            frost_photographs: str | None = None) -> np.ndarray:
    """Apply corruption `name` at `severity` (1-5) to uint8 images (N, S, S, 3), S >= 8.

    Deterministic for a given seed; returns a new uint8 array of the same shape.
    `frost_photographs`: the folder `find_frost_photographs` returned, for frost to blend
    the reference's photographs; None: frost falls back to generated textures.
    """
    if frost_photographs is not None and not (isinstance(frost_photographs, str)
                                              and frost_photographs):
        raise ValueError(f"frost_photographs must be a folder or None, got {frost_photographs!r}")
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; allowed: {', '.join(NAMES)}")
    integer = isinstance(severity, (int, np.integer)) and not isinstance(severity, bool)
    if not integer or not 1 <= severity <= 5:
        raise ValueError(f"severity must be an integer in 1..5, got {severity!r}")
    images = np.asarray(images)
    square = images.ndim == 4 and images.shape[3] == 3 and images.shape[1] == images.shape[2] >= 8
    if images.dtype != np.uint8 or not square:
        raise ValueError("images must be uint8 of shape (N, S, S, 3) with S >= 8, "
                         f"got {images.dtype} {images.shape}")
    rng = np.random.default_rng(seed)
    # Pieces of about 2**20 pixels bound memory and keep temporaries small enough for
    # the allocator to reuse (several times faster than 10,000-image arrays).
    step = max(1, 2**20 // images.shape[1] ** 2)
    function = CORRUPTIONS[name]
    if name == "frost" and frost_photographs is not None:
        function = functools.partial(frost, photographs=frost_photographs)
    pieces = [function(images[i : i + step], int(severity), rng)
              for i in range(0, len(images), step)]
    return np.concatenate(pieces) if pieces else images.copy()
