"""The 19 corruptions of CIFAR-10-C, Tiny-ImageNet-C and ImageNet-C (Hendrycks &
Dietterich 2019) in NumPy, SciPy and Pillow.

Written from /work/shared/docs/cifar10c.md and the reference's three scripts (their
parameter sets: parameters.py, chosen by image size or forced) so that corrupted test
sets can be made on machines without TensorFlow, OpenCV, scikit-image or ImageMagick.
Every corruption works on a whole uint8 batch (N, H, W, 3) at once and returns uint8
values truncated like the reference's `np.uint8(...)`. `corrupt` feeds them pieces of
about 2**20 pixels from one seeded generator, so a result depends on the seed and the
image's place in the batch. The corruptions live in one module per family of the
benchmark: noise, blur, weather, digital.

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
- Any H x W works, non-square too: each axis is zoomed and cropped on its own, fog's
  plasma map is the power of two covering the longer side, the frost photographs are
  resized by the set's factor per pixel of the shorter side (more where a crop would not
  fit) and elastic's unit scales with the shorter side; every other parameter is the
  set's, in pixels. Glass blur follows the reference's sequential loop for any neighbour
  range (blur._glass_pass).
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
from tfprune.corruptions.parameters import CHOICES as PARAMETER_CHOICES
from tfprune.corruptions.parameters import resolve as resolve_parameters
from tfprune.corruptions.weather import fog, frost, snow, spatter

# name -> function(images, severity, rng, params=parameters.CIFAR10)
CORRUPTIONS: dict[str, Callable[..., np.ndarray]] = {
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
            frost_photographs: str | None = None, params: str = "auto") -> np.ndarray:
    """Apply corruption `name` at `severity` (1-5) to uint8 images (N, H, W, 3), H, W >= 8.

    Deterministic for a given seed; returns a new uint8 array of the same shape.
    `frost_photographs`: the folder `find_frost_photographs` returned, for frost to blend
    the reference's photographs; None: frost falls back to generated textures.
    `params`: the parameter set (PARAMETER_CHOICES): "auto" picks it by the images' size
    (parameters.for_size), "cifar10", "tinyimagenet" or "imagenet" force one.
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
    shaped = images.ndim == 4 and images.shape[3] == 3 and min(images.shape[1:3]) >= 8
    if images.dtype != np.uint8 or not shaped:
        raise ValueError("images must be uint8 of shape (N, H, W, 3) with H, W >= 8, "
                         f"got {images.dtype} {images.shape}")
    chosen = resolve_parameters(params, *images.shape[1:3])
    rng = np.random.default_rng(seed)
    # Pieces of about 2**20 pixels bound memory and keep temporaries small enough for
    # the allocator to reuse (several times faster than 10,000-image arrays).
    step = max(1, 2**20 // (images.shape[1] * images.shape[2]))
    function = functools.partial(CORRUPTIONS[name], params=chosen)
    if name == "frost" and frost_photographs is not None:
        function = functools.partial(function, photographs=frost_photographs)
    pieces = [function(images[i : i + step], int(severity), rng)
              for i in range(0, len(images), step)]
    return np.concatenate(pieces) if pieces else images.copy()
