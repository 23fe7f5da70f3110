"""The reference's three parameter sets: CIFAR-10-C (32 px), Tiny-ImageNet-C (64 px) and
ImageNet-C (224 px), and the rule that picks one by image size.

Facts of hendrycks/robustness (ImageNet-C/create_c/make_cifar_c.py,
make_tinyimagenet_c.py and make_imagenet_c.py, HEAD 8190fe3): per corruption one row per
severity 1-5, and the two quantities each script ties to its image side (frost's
photograph resize, elastic_transform's pixel unit). A set made for one side is used at
others: the corruptions scale what the reference derives from the side (crops, maps,
zooms, the frost resize, elastic's unit) and keep the rest in pixels, as the reference
does when it moves from one script to the next.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping

# Shorter sides at which the automatic choice moves on: CIFAR-10-C up to 32*sqrt(2)
# (the geometric midpoint of 32 and 64), Tiny-ImageNet-C up to 127, ImageNet-C from 128.
TINYIMAGENET_FROM = math.ceil(32 * math.sqrt(2))  # 46
IMAGENET_FROM = 128


@dataclasses.dataclass(frozen=True)
class ParameterSet:
    name: str
    side: int  # the image side the reference's script made the set for
    frost_resize: float  # cv2.resize factor of the frost photographs at that side
    elastic_unit: float  # elastic_transform's pixel unit at that side (the script's IMSIZE)
    rows: Mapping[str, tuple]  # corruption -> its parameters at severities 1..5

    def row(self, corruption: str, severity: int):
        return self.rows[corruption][severity - 1]

    @property
    def frost_per_pixel(self) -> float:
        """The photographs' resize per pixel of the image side."""
        return self.frost_resize / self.side

    def elastic_scale(self, height: int, width: int) -> float:
        """elastic_transform's unit for an image: the set's, scaled with the shorter side."""
        return self.elastic_unit * min(height, width) / self.side


CIFAR10 = ParameterSet("cifar10", 32, frost_resize=0.2, elastic_unit=32, rows=dict(
    gaussian_noise=(0.04, 0.06, 0.08, 0.09, 0.10),
    shot_noise=(500, 250, 100, 75, 50),
    impulse_noise=(0.01, 0.02, 0.03, 0.05, 0.07),
    speckle_noise=(0.06, 0.1, 0.12, 0.16, 0.2),
    gaussian_blur=(0.4, 0.6, 0.7, 0.8, 1.0),
    # (sigma, max_delta, iterations)
    glass_blur=((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
    defocus_blur=((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),  # (radius, alias)
    motion_blur=((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),  # (radius, sigma)
    zoom_blur=((1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)),  # arange
    # (mean, sd, zoom, threshold, blur radius, blur sigma, kept brightness)
    snow=((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
          (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
          (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)),
    frost=((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),  # (image, texture)
    fog=((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),  # (amount, wibble decay)
    # (mean, sd, sigma, threshold, k, mud)
    spatter=((0.62, 0.1, 0.7, 0.7, 0.5, False), (0.65, 0.1, 0.8, 0.7, 0.5, False),
             (0.65, 0.3, 1, 0.69, 0.5, False), (0.65, 0.1, 0.7, 0.69, 0.6, True),
             (0.65, 0.1, 0.5, 0.68, 0.6, True)),
    contrast=(0.75, 0.5, 0.4, 0.3, 0.15),
    brightness=(0.05, 0.1, 0.15, 0.2, 0.3),
    saturate=((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),  # (scale, shift)
    jpeg_compression=(80, 65, 58, 50, 40),
    pixelate=(0.95, 0.9, 0.85, 0.75, 0.65),
    # (alpha, sigma, jitter) in units of elastic_unit
    elastic_transform=((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                       (0.1, 0.03, 0.03)),
))

TINYIMAGENET = ParameterSet("tinyimagenet", 64, frost_resize=0.3, elastic_unit=64, rows=dict(
    gaussian_noise=(0.04, 0.08, 0.12, 0.15, 0.18),
    shot_noise=(250, 100, 50, 30, 15),
    impulse_noise=(0.01, 0.02, 0.05, 0.08, 0.14),
    speckle_noise=(0.15, 0.2, 0.25, 0.3, 0.35),
    gaussian_blur=(0.5, 0.75, 1, 1.25, 1.5),
    glass_blur=((0.1, 1, 1), (0.5, 1, 1), (0.6, 1, 2), (0.7, 2, 1), (0.9, 2, 2)),
    defocus_blur=((0.5, 0.6), (1, 0.1), (1.5, 0.1), (2.5, 0.01), (3, 0.1)),
    motion_blur=((10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)),
    zoom_blur=((1.06, 0.01), (1.11, 0.01), (1.16, 0.01), (1.21, 0.01), (1.26, 0.01)),
    snow=((0.1, 0.2, 1, 0.6, 8, 3, 0.8), (0.1, 0.2, 1, 0.5, 10, 4, 0.8),
          (0.15, 0.3, 1.75, 0.55, 10, 4, 0.7), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.65),
          (0.3, 0.3, 1.25, 0.65, 14, 12, 0.6)),
    frost=((1, 0.3), (0.9, 0.4), (0.8, 0.45), (0.75, 0.5), (0.7, 0.55)),
    fog=((0.4, 3), (0.7, 3), (1, 2.5), (1.5, 2), (2, 1.75)),
    spatter=((0.62, 0.1, 0.7, 0.7, 0.6, False), (0.65, 0.1, 0.8, 0.7, 0.6, False),
             (0.65, 0.3, 1, 0.69, 0.6, False), (0.65, 0.1, 0.7, 0.68, 0.6, True),
             (0.65, 0.1, 0.5, 0.67, 0.6, True)),
    contrast=(0.4, 0.3, 0.2, 0.1, 0.05),
    brightness=(0.1, 0.2, 0.3, 0.4, 0.5),
    saturate=((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (30, 0.2)),
    jpeg_compression=(65, 58, 50, 40, 25),
    pixelate=(0.9, 0.8, 0.7, 0.6, 0.5),
    elastic_transform=((0, 0, 0.08), (0.05, 0.3, 0.06), (0.1, 0.08, 0.06), (0.1, 0.03, 0.03),
                       (0.16, 0.03, 0.02)),
))

# make_imagenet_c.py does not resize the photographs, and its elastic unit is 244 at
# 224 px (its comment: "244 should have been 224, but ultimately nothing is incorrect").
IMAGENET = ParameterSet("imagenet", 224, frost_resize=1.0, elastic_unit=244, rows=dict(
    gaussian_noise=(0.08, 0.12, 0.18, 0.26, 0.38),
    shot_noise=(60, 25, 12, 5, 3),
    impulse_noise=(0.03, 0.06, 0.09, 0.17, 0.27),
    speckle_noise=(0.15, 0.2, 0.35, 0.45, 0.6),
    gaussian_blur=(1, 2, 3, 4, 6),
    glass_blur=((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
    defocus_blur=((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
    motion_blur=((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
    zoom_blur=((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)),
    snow=((0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
          (0.55, 0.3, 4, 0.9, 12, 8, 0.7), (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
          (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)),
    frost=((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
    fog=((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)),
    spatter=((0.65, 0.3, 4, 0.69, 0.6, False), (0.65, 0.3, 3, 0.68, 0.6, False),
             (0.65, 0.3, 2, 0.68, 0.5, False), (0.65, 0.3, 1, 0.65, 1.5, True),
             (0.67, 0.4, 1, 0.65, 1.5, True)),
    contrast=(0.4, 0.3, 0.2, 0.1, 0.05),
    brightness=(0.1, 0.2, 0.3, 0.4, 0.5),
    saturate=((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)),
    jpeg_compression=(25, 18, 15, 10, 7),
    pixelate=(0.6, 0.5, 0.4, 0.3, 0.25),
    elastic_transform=((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02),
                       (0.12, 0.01, 0.02)),
))

SETS: dict[str, ParameterSet] = {s.name: s for s in (CIFAR10, TINYIMAGENET, IMAGENET)}
# eval.corruption_params: "auto" picks by size (for_size), a set's name forces it.
CHOICES: tuple[str, ...] = ("auto", *SETS)


def for_size(height: int, width: int) -> ParameterSet:
    """The set made for images like these, by the shorter side: CIFAR-10-C up to 45 px,
    Tiny-ImageNet-C from 46 to 127 px, ImageNet-C from 128 px."""
    side = min(height, width)
    if side >= IMAGENET_FROM:
        return IMAGENET
    return TINYIMAGENET if side >= TINYIMAGENET_FROM else CIFAR10


def resolve(choice: str, height: int, width: int) -> ParameterSet:
    """The set `choice` names, or with "auto" the one for images of this size."""
    if choice not in CHOICES:
        raise ValueError(f"unknown corruption parameter set {choice!r}; "
                         f"allowed: {', '.join(CHOICES)}")
    return for_size(height, width) if choice == "auto" else SETS[choice]
