"""Batched crop and flip (data.batch_augment): every image is a crop of its zero-padded
source, flipped or not, drawn per image; a stream resumed at a batch boundary repeats
the uninterrupted one; both augmentation paths crop and flip alike."""
import itertools

import numpy as np
import pytest

from tfprune import data

PAD = data.CROP_PADDING


def _images(count=48, size=12):
    rng = np.random.default_rng(0)
    return (rng.integers(1, 256, (count, size, size, 3)).astype(np.uint8),
            np.arange(count, dtype=np.int32))  # label = index of the source image


def _batches(stream, count):
    return [(x.numpy(), y.numpy()) for x, y in itertools.islice(stream, count)]


def _crop_and_flip(image, source):
    """The (row, column, flipped) that turn `source` into `image`, or None."""
    size = source.shape[0]
    padded = np.pad(source, [(PAD, PAD), (PAD, PAD), (0, 0)])
    for row, column, flipped in itertools.product(range(2 * PAD + 1), range(2 * PAD + 1),
                                                  (False, True)):
        crop = padded[row:row + size, column:column + size]
        if np.array_equal(image, crop[:, ::-1] if flipped else crop):
            return row, column, flipped
    return None


@pytest.mark.parametrize("batch_augment", [True, False])
def test_every_image_is_a_crop_of_its_padded_source_flipped_or_not(batch_augment):
    images, labels = _images()
    draws = []
    for batch, indices in _batches(data.train_pipeline(
            images, labels, 16, "crop_flip", seed=3, batch_augment=batch_augment), 3):
        assert batch.shape == (16, 12, 12, 3) and batch.dtype == np.float32
        for image, index in zip(batch, indices):
            draw = _crop_and_flip(image, images[index])
            assert draw is not None
            draws.append(draw)
    rows, columns, flips = zip(*draws)
    assert len(set(rows)) > 4 and len(set(columns)) > 4  # offsets drawn per image
    assert 0.25 < np.mean(flips) < 0.75


def test_stream_resumed_at_a_batch_boundary_is_the_tail_of_the_whole_stream():
    images, labels = _images()
    whole = _batches(data.train_pipeline(images, labels, 16, "crop_flip", seed=5), 7)
    resumed = _batches(data.train_pipeline(images, labels, 16, "crop_flip", seed=5,
                                           start=4 * 16), 3)
    for (x, y), (x_resumed, y_resumed) in zip(whole[4:], resumed):
        np.testing.assert_array_equal(x, x_resumed)
        np.testing.assert_array_equal(y, y_resumed)


def test_same_order_either_path_and_other_seed_other_crops():
    images, labels = _images()
    batched = _batches(data.train_pipeline(images, labels, 16, "crop_flip", seed=1), 3)
    per_image = _batches(data.train_pipeline(images, labels, 16, "crop_flip", seed=1,
                                             batch_augment=False), 3)
    other_seed = _batches(data.train_pipeline(images, labels, 16, "crop_flip", seed=2), 3)
    for (x, y), (_, y_per_image), (x_other, _) in zip(batched, per_image, other_seed):
        np.testing.assert_array_equal(y, y_per_image)  # shuffling is shared
        assert not np.array_equal(x, x_other)


def test_no_augmentation_passes_pixels_through():
    images, labels = _images()
    for batch, indices in _batches(data.train_pipeline(images, labels, 16, "none", seed=0), 2):
        np.testing.assert_array_equal(batch, images[indices].astype(np.float32))


def test_start_inside_a_batch_is_refused():
    images, labels = _images()
    with pytest.raises(ValueError, match="multiple of batch_size"):
        data.train_pipeline(images, labels, 16, "crop_flip", seed=0, start=8)
