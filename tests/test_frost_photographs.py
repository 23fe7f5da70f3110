"""Frost with the reference's photographs (the shared copy in ../shared/data/frost):
finding and checking them, and the CIFAR recipe of make_cifar_c.py rebuilt here from
its description: one of frost1..frost5, read as RGB, cv2.resize by 0.2 (bilinear at
pixel centres), a 32x32 crop, clip(a*img + b*crop, 0, 255) truncated to uint8."""
import importlib.util
import os
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import CIFAR_DIR
from tfprune import corruptions as C
from tfprune.corruptions import frost_photographs
from tfprune.errors import DataError

DRAWN = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")
BLEND = ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))
# (H, W) after the 0.2 rescale, from /work/shared/docs/cifar10c.md.
SIZES = ((120, 180), (63, 112), (63, 112), (70, 105), (99, 132))


@pytest.fixture(scope="module")
def cifar():
    path = os.path.join(CIFAR_DIR, "test_batch.bin")
    if not os.path.exists(path):
        pytest.skip(f"CIFAR-10 test batch not found at {path}")
    records = np.fromfile(path, np.uint8, count=100 * 3073).reshape(100, 3073)
    return records[:, 1:].reshape(100, 3, 32, 32).transpose(0, 2, 3, 1).copy()


@pytest.fixture(scope="module")
def reference_textures(frost_dir):
    """The photos as the reference's cv2.imread + cv2.resize(fx=fy=0.2) leave them: at
    scale 1/5 output pixel d samples (d + 0.5) * 5 - 0.5 = 5d + 2, a whole pixel, so
    bilinear interpolation returns that pixel."""
    textures = []
    for name, (h, w) in zip(DRAWN, SIZES):
        photo = np.asarray(Image.open(os.path.join(frost_dir, name)).convert("RGB"))
        assert (round(photo.shape[0] * 0.2), round(photo.shape[1] * 0.2)) == (h, w)
        textures.append(photo[2::5, 2::5][:h, :w])
    return textures


def copy_photographs(frost_dir, folder):
    os.makedirs(folder)
    for name in DRAWN:
        shutil.copy(os.path.join(frost_dir, name), folder)
    return folder


def blend(clean, crop, a, b):
    return np.clip(a * clean.astype(np.float64) + b * crop.astype(np.float64), 0, 255).astype(
        np.uint8)


def matching_crops(clean, out, texture, a, b):
    """Every (top, left) whose 32x32 crop of `texture`, blended into `clean`, gives `out`:
    candidates narrowed pixel by pixel along the diagonal, then checked whole."""
    tops, lefts = np.mgrid[: texture.shape[0] - 31, : texture.shape[1] - 31].reshape(2, -1)
    for i in range(32):
        keep = (blend(clean[i, i], texture[tops + i, lefts + i], a, b) == out[i, i]).all(-1)
        tops, lefts = tops[keep], lefts[keep]
    span = np.arange(32)
    crops = texture[(tops[:, None] + span)[:, :, None], (lefts[:, None] + span)[:, None, :]]
    whole = (blend(clean, crops, a, b) == out).all(axis=(1, 2, 3))
    return list(zip(tops[whole], lefts[whole]))


def test_checksums_are_those_of_the_shared_copy(frost_dir):
    with open(os.path.join(frost_dir, "SHA256SUMS")) as stream:
        listed = dict(reversed(line.split()) for line in stream if line.strip())
    assert C.FROST_PHOTOGRAPHS == listed
    assert tuple(C.FROST_PHOTOGRAPHS)[:5] == DRAWN


def test_a_checked_folder_is_returned(frost_dir):
    assert C.find_frost_photographs(frost_dir) == os.path.abspath(frost_dir)


def test_a_missing_photograph_names_the_file_and_the_fix(frost_dir, tmp_path):
    folder = copy_photographs(frost_dir, str(tmp_path / "frost"))
    os.remove(os.path.join(folder, "frost3.png"))
    with pytest.raises(DataError) as error:
        C.find_frost_photographs(folder)
    message = str(error.value)
    assert "\n" not in message and "frost3.png is missing" in message
    assert "set eval.frost_dir to a folder holding frost1.png" in message


def test_a_changed_photograph_is_refused(frost_dir, tmp_path):
    folder = copy_photographs(frost_dir, str(tmp_path / "frost"))
    with open(os.path.join(folder, "frost4.jpg"), "ab") as stream:
        stream.write(b"\0")
    with pytest.raises(DataError) as error:
        C.corrupt(np.zeros((1, 32, 32, 3), np.uint8), "frost", 1, 0, frost_photographs=folder)
    message = str(error.value)
    assert "\n" not in message and "frost4.jpg has SHA-256" in message
    assert C.FROST_PHOTOGRAPHS["frost4.jpg"][:12] in message


def test_no_installed_package_in_this_venv():
    if importlib.util.find_spec("imagecorruptions") is not None:
        pytest.skip("imagecorruptions is installed here")
    assert C.find_frost_photographs("") is None


def test_an_installed_package_is_found_without_importing_it(frost_dir, tmp_path, monkeypatch):
    package = tmp_path / "site" / "imagecorruptions"
    copy_photographs(frost_dir, str(package / "frost"))
    (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    assert C.find_frost_photographs("") == str(package / "frost")
    assert "imagecorruptions" not in sys.modules


def test_source_labels():
    assert C.frost_texture_source(None).startswith("generated")
    label = C.frost_texture_source("/data/frost")
    assert label.startswith("photographs") and "ff9f9078" in label and "/data/frost" in label


def test_frost_is_the_reference_recipe(cifar, frost_dir, reference_textures):
    """Every output image is the blend of one crop of one of frost1..frost5, exactly;
    crops never start at the last offset (the reference's randint leaves it out)."""
    folder = C.find_frost_photographs(frost_dir)
    used = set()
    for severity, (a, b) in enumerate(BLEND, 1):
        out = C.corrupt(cifar, "frost", severity, seed=severity, frost_photographs=folder)
        for clean, image in zip(cifar, out):
            found = [(k, top, left) for k, texture in enumerate(reference_textures)
                     for top, left in matching_crops(clean, image, texture, a, b)]
            assert found, severity
            used.update(k for k, _, _ in found)
            k, top, left = found[0]
            assert top < SIZES[k][0] - 32 and left < SIZES[k][1] - 32
    assert used == {0, 1, 2, 3, 4}


def test_photographs_are_milder_than_generated_textures(cifar, frost_dir):
    folder = C.find_frost_photographs(frost_dir)
    for severity in range(1, 6):
        change = {
            source: np.abs(C.corrupt(cifar, "frost", severity, 0, frost_photographs=source)
                           .astype(float) - cifar).mean()
            for source in (None, folder)}
        assert change[folder] < change[None] * 0.95, (severity, change)


def test_other_sizes_scale_the_photographs(frost_dir):
    folder = C.find_frost_photographs(frost_dir)
    # 0.2 * 48/32 = 0.3: frost1 (900x600) becomes 270x180.
    assert frost_photographs.photograph_textures(folder, 48)[0].shape == (180, 270, 3)
    for size in (8, 48):
        x = np.random.default_rng(size).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
        out = C.corrupt(x, "frost", 5, 0, frost_photographs=folder)
        assert out.shape == x.shape and out.dtype == np.uint8
        assert np.array_equal(out, C.corrupt(x, "frost", 5, 0, frost_photographs=folder))


def test_the_folder_matters_only_to_frost(frost_dir):
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    folder = C.find_frost_photographs(frost_dir)
    assert np.array_equal(C.corrupt(x, "fog", 3, 0, frost_photographs=folder),
                          C.corrupt(x, "fog", 3, 0))
    with pytest.raises(ValueError, match="folder or None"):
        C.corrupt(x, "frost", 3, 0, frost_photographs="")
