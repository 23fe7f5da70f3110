"""Motion blur rounds as the reference's ImageMagick round trip does: the weighted sum
of 16-bit quanta (257 per grey level) is rounded to 16 bits, then writing the 8-bit PNG
truncates. Two constructed rows, worked out by hand, tell this rule from rounding the
8-bit sum (the old behaviour) and from truncating it."""
import math

import numpy as np

from tfprune import corruptions as C
from tfprune.corruptions import _ops

# Radius 6, sigma 1 (severity 1): 13 taps, weight of tap i = exp(-i^2/2) / sum over
# i = 0..12 of exp(-i^2/2) = exp(-i^2/2) / 1.7533141...
TOTAL = sum(math.exp(-i * i / 2) for i in range(13))
W0, W1 = 1 / TOTAL, math.exp(-0.5) / TOTAL


def blur_row(row):
    """Motion blur at angle 0 (tap i reads column + i) of an image whose rows all equal
    `row`; returns the first row."""
    image = np.tile(np.asarray(row, np.uint8), (1, 4, 1))  # (1, 4, width)
    return _ops.magick_motion_blur(image, 6, 1, np.array([0.0]))[0, 0]


def test_the_weights_used_below():
    assert abs(TOTAL - 1.7533141) < 1e-7
    assert abs(W0 - 0.5703484) < 1e-7 and abs(W1 - 0.3459338) < 1e-7


def test_a_line_one_pixel_ahead_truncates():
    # Column 0 sees the line (100) only through tap 1: 100 * W1 = 34.593 grey levels.
    # Rounding the 8-bit sum gives 35. ImageMagick: 257 * 34.593 = 8890.499 quanta ->
    # 8890 (16-bit rounding) -> 8890 / 257 = 34.59 -> 34 (truncation).
    row = np.zeros(16)
    row[1] = 100
    out = blur_row(row)
    assert 100 * W1 * 257 < 8890.5
    assert out[1] == 57  # 100 * W0 = 57.03: 14657.96 -> 14658 -> 57.03 -> 57
    assert out[0] == 34


def test_the_16_bit_rounding_comes_first():
    # Columns 0 and 1 black, 215 from column 2 on: column 0 sees 215 through taps 2-12,
    # 215 * (1 - W0 - W1) = 17.99931 grey levels. Truncating that gives 17, but in
    # quanta it is 4625.823 -> 4626 (16-bit rounding) = 257 * 18 exactly -> 18.
    row = np.full(16, 215)
    row[:2] = 0
    assert abs(215 * (1 - W0 - W1) - 17.99931) < 1e-5
    assert blur_row(row)[0] == 18


def test_flat_images_stay_flat():
    # The weights sum to 1 up to rounding; in quanta any shortfall is far below half
    # a quantum, so every grey level comes back as it went in.
    levels = np.arange(256, dtype=np.uint8)
    flat = np.broadcast_to(levels[:, None, None, None], (256, 12, 12, 3)).copy()
    for severity in range(1, 6):
        assert np.array_equal(C.corrupt(flat, "motion_blur", severity, seed=0), flat)


def test_trail_follows_the_angle():
    # Angle 90 degrees: tap i reads row + i (ImageMagick's offsets ceil(i sin - 1/2)),
    # so a bright row spreads upwards only.
    image = np.zeros((1, 16, 16), np.uint8)
    image[0, 10] = 255
    out = _ops.magick_motion_blur(image, 6, 1, np.array([90.0]))[0].astype(int)
    assert (out[11:] == 0).all() and (out[10] == 145).all()  # 255 * W0 = 145.44 -> 145
    assert (out[9] == 88).all()  # 255 * W1 = 88.21: 22670.6 -> 22671 -> 88.21 -> 88
    assert (np.diff(out[:11, 0]) >= 0).all()
