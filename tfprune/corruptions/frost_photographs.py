"""The reference's frost photographs: finding them, checking them, and scaling them as
its recipes do.

The reference (hendrycks/robustness, make_cifar_c.py) blends crops of photographs of
frosted glass into images. They are not in this repository. The PyPI package
`imagecorruptions` ships the same files (its maintained fork `imagecorruptions-imaug`
installs under the same name), or a folder holding them is configured. Checksums prove
they are the reference's own: other textures change the corruption's strength (the
generated stand-ins of weather.py make frost 15-33% stronger on CIFAR-10).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import os

import numpy as np
from PIL import Image

from tfprune import storage
from tfprune.corruptions.parameters import CIFAR10
from tfprune.errors import DataError

# SHA-256 of the reference's files (ImageNet-C/create_c/frost*.{png,jpg}).
FROST_PHOTOGRAPHS: dict[str, str] = {
    "frost1.png": "ff9f907860bd7a835d459e32f9d588062b7f61ee267343cc7222b56753a14755",
    "frost2.png": "fe211a89b336999c207a852ce05818d4545d0b57c5beadd824b4cc9d9a9b6137",
    "frost3.png": "2d0d50b4a9bb213f38b024ef7768731bb83cc08d2f26b5766bbc167cdfa0e504",
    "frost4.jpg": "3f8b91ca1a9fa7167b09e773da53f5ae60d0a1fd88f02a783f6e328a72887f6e",
    "frost5.jpg": "5fc6a19df4a429ba68abdcc8f8a4278d4c9f81c9ccafd2c92ab0c8cf8992ebd2",
    "frost6.jpg": "1f92b2f48408748085b68dd81d816ef239f42cef3029c25d041fcb6760fb4f25",
}
# The CIFAR recipe draws one of the first five (randint(5)); frost6 never.
DRAWN: tuple[str, ...] = tuple(FROST_PHOTOGRAPHS)[:5]
# Import names of the packages that ship them; the fork installs as `imagecorruptions`
# today, the second name is for a release under its own.
_PACKAGES = ("imagecorruptions", "imagecorruptions_imaug")
_FIX = ("set eval.frost_dir to a folder holding frost1.png ... frost5.jpg of "
        "hendrycks/robustness (as in the imagecorruptions package: pip download "
        "imagecorruptions --no-deps, folder imagecorruptions/frost), or to '' to use an "
        "installed imagecorruptions")


def _problem(folder: str) -> str | None:
    """What keeps `folder` from being the reference's photographs (one line), or None."""
    for name in DRAWN:
        path = os.path.join(folder, name)
        if not storage.exists(path):
            return f"frost photograph {path} is missing"
        try:
            digest = hashlib.sha256(storage.read_bytes(path)).hexdigest()
        except OSError as error:
            return f"frost photograph {path} cannot be read ({error})"
        if digest != FROST_PHOTOGRAPHS[name]:
            return (f"frost photograph {path} has SHA-256 {digest[:12]}..., not the "
                    f"reference's {FROST_PHOTOGRAPHS[name][:12]}...")
    return None


def _check(folder: str) -> None:
    problem = _problem(folder) if folder else "no frost photographs folder given"
    if problem:
        raise DataError(f"{problem}; {_FIX}")


def _package_folders(package: str) -> list[str]:
    """Folders inside an installed `package` that hold frost1.png, found without
    importing it (importing imagecorruptions would pull in its OpenCV and scikit-image)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):  # a broken install or a half-imported module
        return []
    if spec is None:
        return []
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [os.path.dirname(spec.origin)]
    found = []
    for root in roots:
        for folder, _, files in os.walk(root):
            if DRAWN[0] in files:
                found.append(folder)
    return found


def find_frost_photographs(folder: str = "") -> str | None:
    """The folder of the reference's frost photographs: `folder` itself, checked (a
    DataError naming the fix when a file is missing or not the reference's), or with
    `folder` empty, that of an installed imagecorruptions whose files check out, else None.
    """
    if folder:
        _check(folder)
        return os.path.abspath(folder) if storage.is_local(folder) else folder
    for package in _PACKAGES:
        for candidate in _package_folders(package):
            if _problem(candidate) is None:
                return candidate
    return None


def frost_texture_source(frost_photographs: str | None) -> str:
    """What frost blended in, for results.json: the photographs (first checksum, folder),
    or the generated stand-ins."""
    if frost_photographs is None:
        return "generated (procedural stand-ins, not the reference's)"
    return f"photographs (sha256 {FROST_PHOTOGRAPHS[DRAWN[0]][:8]}..., {frost_photographs})"


def _linear_axis(source: int, factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cv2.resize INTER_LINEAR along one axis: round(source*factor) samples, sample d at
    (d + 1/2)/factor - 1/2 (pixel centres), clamped to the edge pixels, no antialiasing.
    Returns the two source indices of each sample and the weight of the second."""
    side = int(round(source * factor))
    position = (np.arange(side) + 0.5) * (1 / factor) - 0.5
    low = np.floor(position)
    weight = position - low
    weight[(low < 0) | (low >= source - 1)] = 0
    low = np.clip(low.astype(int), 0, source - 1)
    return low, np.minimum(low + 1, source - 1), weight


def _resize_as_opencv(photo: np.ndarray, factor: float) -> np.ndarray:
    """The reference's cv2.resize(photo, (0, 0), fx=factor, fy=factor) of a uint8 photo.

    At factor 0.2 every sample lands on a pixel centre (row and column 5d+2), so the
    result is that subsample exactly; Pillow's bilinear, which averages over the
    reduction, is smoother by 7-16 grey levels on average.
    """
    (rows_low, rows_high, row_weight), (cols_low, cols_high, col_weight) = (
        _linear_axis(photo.shape[0], factor), _linear_axis(photo.shape[1], factor))
    x = photo.astype(np.float64)
    x = x[rows_low] + (x[rows_high] - x[rows_low]) * row_weight[:, None, None]
    x = x[:, cols_low] + (x[:, cols_high] - x[:, cols_low]) * col_weight[None, :, None]
    return np.rint(x).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def photograph_textures(folder: str, size: int, per_pixel: float = CIFAR10.frost_per_pixel,
                        fit: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, ...]:
    """frost1..frost5 of `folder` (checked), as the reference's recipes read them for
    images of side `size`: RGB uint8 with any alpha dropped (cv2.imread), scaled by
    per_pixel*size (the CIFAR recipe's 0.2 at 32 px by default), or by the least factor
    that leaves every photo larger than `fit` (H, W), so that a crop of that size fits.

    For the CIFAR recipe at size 32 that is the reference's 180x120, 112x63, 112x63,
    105x70 and 132x99 (W x H); other sides keep the frost's detail the same fraction of
    the image.
    """
    _check(folder)
    photos = []
    for name in DRAWN:
        with Image.open(io.BytesIO(storage.read_bytes(os.path.join(folder, name)))) as photo:
            photos.append(np.asarray(photo.convert("RGB")))
    factor = max(per_pixel * size, *((least + 1) / photo.shape[axis]
                                     for photo in photos for axis, least in enumerate(fit)))
    return tuple(_resize_as_opencv(photo, factor) for photo in photos)
