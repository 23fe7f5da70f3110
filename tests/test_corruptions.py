"""Tests for tfprune.corruptions: CIFAR-10-C corruptions in NumPy/SciPy/Pillow.

No TensorFlow here: the module is meant to run without it.
"""
import colorsys
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from tfprune import corruptions as C
from tfprune.corruptions import _ops, digital, weather

ROOT = pathlib.Path(__file__).resolve().parents[1]
CIFAR_TEST = ROOT.parent / "shared" / "data" / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin"
ALL = [(name, s) for name in C.NAMES for s in range(1, 6)]
# No randomness in these; every other corruption draws noise, angles, crops or maps.
DETERMINISTIC = {
    "brightness", "contrast", "defocus_blur", "gaussian_blur", "jpeg_compression", "pixelate",
    "saturate",
    "zoom_blur",
}

# Chains of severities along which the mean absolute change from the clean image must
# not decrease. Whole 1..5 where every parameter moves the same way; otherwise only
# the orderings the spec's parameters imply.
FULL = (1, 2, 3, 4, 5)
ORDERINGS = {name: [FULL] for name in C.NAMES}
ORDERINGS.update({
    # (sigma, iterations) = (.05,1) (.25,1) (.4,1) (.25,2) (.4,2): two shuffling passes
    # move pixels further than one, but a wider blur also smooths the shuffle away,
    # so sigma gives no order.
    "glass_blur": [(one, two) for one in (1, 2, 3) for two in (4, 5)],
    # S scaled by .3, .1 (desaturate) then 1.5, 2, 2.5 (oversaturate): two directions.
    "saturate": [(1, 2), (3, 4, 5)],
    # (a, b) = (1,.2) (1,.3) (.9,.4) (.85,.4) (.75,.45): from 3 on, image loss and
    # texture gain pull against each other.
    "frost": [(1, 2), (1, 5)],
    # Water (1-3) and mud (4-5) are different effects; within mud the threshold
    # drops and the field sharpens, so more mud.
    "spatter": [(1, 5), (4, 5)],
    # Threshold and zoom go up and down between severities; flake mean, blur length
    # and brightening all grow.
    "snow": [(1, 2), (1, 3, 5)],
    # Affine jitter shrinks (2.56 -> .96 px) while the elastic field grows: no
    # ordering holds; each severity must still move pixels (checked below).
    "elastic_transform": [],
})
# Slack for ties broken by rounding, e.g. motion_blur 3 -> 4 only adds taps of weight < 0.3%.
SLACK = 0.01


def natural_images(n=12, size=32, seed=0):
    """Seeded stand-ins for photos: a colour gradient, an ellipse and a rectangle,
    softened, with a little sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / (size - 1)
    out = np.empty((n, size, size, 3))
    for img in out:
        a, b = rng.uniform(20, 235, (2, 3))
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * xx + np.sin(angle) * yy
        img[:] = a + ((t - t.min()) / np.ptp(t))[..., None] * (b - a)
        cy, cx, ry, rx = rng.uniform([0.3, 0.3, 0.1, 0.1], [0.7, 0.7, 0.3, 0.3])
        img[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = rng.uniform(0, 255, 3)
        top, left = rng.integers(0, size // 2, 2)
        img[top : top + size // 3, left : left + size // 4] = rng.uniform(0, 255, 3)
        img[:] = ndimage.gaussian_filter(img, (0.8, 0.8, 0)) + rng.normal(0, 3, img.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def images():
    return natural_images()


@pytest.fixture(scope="module")
def cifar():
    if not CIFAR_TEST.exists():
        pytest.skip(f"CIFAR-10 test batch not found at {CIFAR_TEST}")
    records = np.fromfile(CIFAR_TEST, np.uint8, count=64 * 3073).reshape(64, 3073)
    return records[:, 1:].reshape(64, 3, 32, 32).transpose(0, 2, 3, 1).copy()


def mean_change(images, name, severities, seed=0):
    return {s: np.abs(C.corrupt(images, name, s, seed).astype(float) - images).mean()
            for s in severities}


def check_orderings(images, name):
    change = mean_change(images, name, FULL)
    for chain in ORDERINGS[name]:
        for lo, hi in zip(chain, chain[1:]):
            assert change[hi] >= change[lo] * (1 - SLACK), (name, change)
    assert all(v > 0 for v in change.values()), (name, change)
    return change


def test_registry():
    assert len(C.NAMES) == 19 and list(C.NAMES) == sorted(C.CORRUPTIONS)
    assert set(C.NAMES) == {
        "brightness", "contrast", "defocus_blur", "elastic_transform", "fog", "frost",
        "gaussian_blur", "gaussian_noise", "glass_blur", "impulse_noise", "jpeg_compression",
        "motion_blur", "pixelate", "saturate", "shot_noise", "snow", "spatter",
        "speckle_noise", "zoom_blur",
    }


def test_imports_without_tensorflow():
    code = "import sys, tfprune.corruptions; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("name,severity", ALL)
def test_shape_dtype_and_determinism(images, name, severity):
    before = images.copy()
    out = C.corrupt(images, name, severity, seed=1)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert np.array_equal(images, before), "input must not be modified"
    assert np.array_equal(out, C.corrupt(images, name, severity, seed=1))
    other = C.corrupt(images, name, severity, seed=2)
    assert np.array_equal(out, other) == (name in DETERMINISTIC)


@pytest.mark.parametrize("name", C.NAMES)
def test_severity_orderings(images, name):
    check_orderings(images, name)


def test_severity_orderings_hold_for_other_seeds(images):
    for seed in (3, 4):
        for name in C.NAMES:
            if name not in DETERMINISTIC:
                change = mean_change(images, name, FULL, seed)
                for chain in ORDERINGS[name]:
                    for lo, hi in zip(chain, chain[1:]):
                        assert change[hi] >= change[lo] * (1 - SLACK), (name, seed, change)


def test_cifar_images(cifar):
    for name in C.NAMES:
        check_orderings(cifar, name)


@pytest.mark.parametrize("size", [8, 48])
def test_other_sizes(size):
    x = natural_images(2, size, seed=5)
    for name in C.NAMES:
        out = C.corrupt(x, name, 5, seed=0)
        assert out.shape == x.shape and out.dtype == np.uint8, name


def test_batches_larger_than_a_piece():
    # corrupt() works in pieces of 2**20 pixels (1024 CIFAR images); the noise must
    # go on across pieces rather than restart.
    x = np.repeat(natural_images(1), 1100, axis=0)
    out = C.corrupt(x, "gaussian_noise", 3, seed=0)
    assert out.shape == x.shape and not np.array_equal(out[0], out[1024])
    assert (out != x).any(axis=(1, 2, 3)).all()


def test_validation(images):
    with pytest.raises(ValueError, match="allowed: brightness, contrast") as err:
        C.corrupt(images, "blur", 1, 0)
    assert "\n" not in str(err.value) and all(n in str(err.value) for n in C.NAMES)
    for severity in (0, 6, 2.5, True):
        with pytest.raises(ValueError, match=r"1\.\.5"):
            C.corrupt(images, "fog", severity, 0)
    for bad in (images.astype(np.float32), images[0], images[..., :2], images[:, :7],
                images[:, :4, :4]):
        with pytest.raises(ValueError, match="uint8 of shape"):
            C.corrupt(bad, "fog", 1, 0)
    assert C.corrupt(images[:0], "fog", 1, 0).shape == (0, 32, 32, 3)


# --- helpers against the libraries the reference used ------------------------------


def test_zoom_matches_scipy_clipped_zoom():
    x = natural_images(2).astype(np.float32) / 255
    for z in (1.0, 1.07, 1.25, 1.75, 2.25):
        crop = int(np.ceil(32 / z))
        top = (32 - crop) // 2
        expected = []
        for img in x:
            big = ndimage.zoom(img[top : top + crop, top : top + crop], (z, z, 1), order=1)
            trim = (big.shape[0] - 32) // 2
            expected.append(big[trim : trim + 32, trim : trim + 32])
        got = _ops.apply_spatial(_ops.zoom_operator(32, (z,)), x)
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_zoom_blur_uses_the_reference_zoom_counts():
    # np.arange(1, e, .01): 7, 12, 16, 21, 26 factors (float rounding drops 1.16 etc.).
    counts = [len(np.arange(1, e, 0.01)) for e in (1.06, 1.11, 1.16, 1.21, 1.26)]
    assert counts == [7, 12, 16, 21, 26]


@pytest.mark.parametrize("fold,mode",
                         [(digital._reflect, "reflect"), (digital._reflect101, "mirror")])
def test_bilinear_matches_map_coordinates(fold, mode):
    rng = np.random.default_rng(0)
    x = rng.random((2, 16, 16, 3)).astype(np.float32)
    rows = np.arange(16)[:, None] + rng.uniform(-5, 5, (2, 16, 16))
    cols = np.arange(16) + rng.uniform(-5, 5, (2, 16, 16))
    got = digital._bilinear(x, rows, cols, fold)
    for i in range(2):
        for c in range(3):
            want = ndimage.map_coordinates(x[i, ..., c], [rows[i], cols[i]], order=1, mode=mode)
            np.testing.assert_allclose(got[i, ..., c], want, atol=1e-5)


def test_hsv_matches_colorsys():
    rgb = np.random.default_rng(0).random((500, 3))
    h, s, v = digital._rgb_to_hsv(rgb)
    np.testing.assert_allclose(np.stack([h, s, v], 1), [colorsys.rgb_to_hsv(*p) for p in rgb],
                               atol=1e-12)
    np.testing.assert_allclose(digital._hsv_to_rgb(h, s, v), rgb, atol=1e-12)


def test_motion_blur_trail_is_one_sided():
    x = np.zeros((1, 16, 16), np.uint8)
    x[0, 8, 8] = 255
    out = _ops.magick_motion_blur(x, 6, 2, np.array([0.0]))[0].astype(int)
    # out(col) sums in(col + i): the dot spreads to the left only, weights falling; each
    # tap truncates, so up to one level per tap is lost.
    assert out[8, 9:].sum() == 0 and out[:8].sum() == 0 and out[9:].sum() == 0
    assert np.all(np.diff(out[8, 2:9]) >= 0) and 255 - 7 <= out.sum() <= 255


def test_glass_blur_matches_reference_loop():
    """The reference's per-pixel swap loop, run with the same neighbour draws."""

    def blur(images):  # skimage gaussian(sigma=.4) per channel, then the uint8 cast
        smooth = ndimage.gaussian_filter(images / 255, (0, 0.4, 0.4, 0), mode="nearest")
        return (np.clip(smooth, 0, 1) * 255).astype(np.uint8)

    x = natural_images(2)
    got = C.glass_blur(x, 3, np.random.default_rng(7))
    draws = np.random.default_rng(7).integers(-1, 1, size=(2, 2, 30, 30))
    y = blur(x)
    for n in range(2):
        for h in range(31, 1, -1):
            for w in range(31, 1, -1):
                dx, dy = draws[0, n, h - 2, w - 2], draws[1, n, h - 2, w - 2]
                y[n, h, w], y[n, h + dy, w + dx] = y[n, h + dy, w + dx], y[n, h, w]
    assert np.abs(got.astype(int) - blur(y)).max() <= 1


def test_frost_textures_match_reference_means():
    for index, mean in enumerate(weather._FROST_MEANS):
        texture = weather._frost_texture(index, 32)
        assert texture.shape[:2] == weather._FROST_SHAPES[index]
        np.testing.assert_allclose(texture.mean(axis=(0, 1)), mean, atol=0.5)
        assert texture.std() > 30  # visible ice structure, not a flat tint


def test_water_mask_on_a_disk():
    """Canny edges of a liquid disk, the distance map and the emboss give a droplet
    that is non-zero only on the liquid."""
    yy, xx = np.mgrid[:32, :32]
    liquid = np.where((yy - 16) ** 2 + (xx - 16) ** 2 <= 36, 0.9, 0.0)[None]
    edges = weather._canny((liquid * 255).astype(np.uint8), 50, 150)[0]
    assert edges.any() and not edges[0].any() and edges[16, 16] == 0
    m = weather._water_mask(liquid)[0]
    assert m.max() > 0 and np.all(m[liquid[0] == 0] == 0)


def test_chamfer_distance_is_close_to_euclidean():
    zero = np.zeros((1, 32, 32), bool)
    zero[0, 5, 7] = zero[0, 25, 20] = True
    got = weather._chamfer_distance(zero)[0]
    exact = ndimage.distance_transform_edt(~zero[0])
    assert np.all(np.abs(got - exact) <= 0.03 * exact + 1e-9)
