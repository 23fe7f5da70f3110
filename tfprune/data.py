"""Data sets by name, as uint8 image arrays, and the tf.data pipelines that train on them.

Every data set is held in memory as uint8 (N, H, W, 3) arrays, at its own size or at
data.image_size: CIFAR-10 is 180 MB that way, and corruptions, TFLite evaluation and the
on-device kit all want raw pixels. Normalisation is the first layer of every model (or
the model's own, data.normalization=model), so exported models take pixels too. Besides
the registry's sets, a user's images come from a folder, an .npz file or any
tensorflow-datasets image-classification set (tfprune.image_sources, docs/data.md).
"""
import dataclasses
import glob
import itertools
import os
import socket
import typing

import numpy as np

import tfprune  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf

from tfprune import corruptions, errors, image_sources

AUGMENTATIONS = ("crop_flip", "crop", "none")
# Zero pixels on each side before the random crop, as the study at 32 px; larger images
# pad in proportion (an eighth of the side), smaller ones keep 4 (crop_padding).
CROP_PADDING = 4
TRAIN_SHIFTS = ("none", "corruptions", "augmix")
# The study's robust-training arm corrupts training images with these nine; the other
# ten CIFAR-10-C corruptions stay held out for testing.
ROBUST_CORRUPTIONS = ("contrast", "elastic_transform", "gaussian_blur", "impulse_noise",
                      "motion_blur", "pixelate", "shot_noise", "snow", "zoom_blur")
CIFAR10_CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                       "horse", "ship", "truck")
CIFAR10_CLASSES = len(CIFAR10_CLASS_NAMES)
_CIFAR_RECORD = 1 + 32 * 32 * 3
_CIFAR_RECORDS_PER_FILE = 10000
_CIFAR_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
# Per-channel (mean, std) on the 0..1 scale, fixed: the reference's CIFAR-10 constants
# (torchprune's training/cifar/common.yaml). The noise study's eps is in these units.
CIFAR10_NORMALIZATION = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
# data.normalization: auto = the data set's fixed constants where it declares them, else
# the training split's statistics | train_split = the training split's statistics |
# explicit = data.mean and data.std | model = none added: the model normalises its inputs.
NORMALIZATIONS = ("auto", "train_split", "explicit", "model")
# tensorflow-datasets' own storage, which tells offline from online for a set by name.
TFDS_HOST = "storage.googleapis.com"


@dataclasses.dataclass(frozen=True)
class Source:
    """A data set of the registry: its loader, and the normalisation its models use."""
    # (data_config, seed) -> train x, y, test x, y, class names, source; images uint8
    # (N, H, W[, C]) of one size, at data.image_size where the loader fits them itself
    load: typing.Callable
    normalization: tuple = None  # fixed (mean, std) per channel, 0..1 scale; None: none


@dataclasses.dataclass
class Dataset:
    name: str
    source: str  # where the images came from, for results.json
    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    num_classes: int
    mean: tuple  # per channel, on the 0..255 scale (data.normalization)
    std: tuple
    class_names: tuple = ()

    @property
    def image_shape(self):
        """(height, width, channels) of every image."""
        return tuple(self.train_images.shape[1:])

    def summary(self):
        return dict(name=self.name, source=self.source, num_classes=self.num_classes,
                    class_names=list(self.class_names), image_shape=list(self.image_shape),
                    num_train=len(self.train_labels), num_val=len(self.val_labels),
                    num_test=len(self.test_labels), mean=list(self.mean), std=list(self.std))


def load_digits(data_config, seed):
    """scikit-learn's 8x8 digits, upsampled to 32x32x3 so the CIFAR pipeline applies.

    The set ships with scikit-learn, so the quickstart needs no download. It has no
    test split: a seeded 25% of it is the test set.
    """
    from sklearn import datasets

    digits = datasets.load_digits()
    images = (digits.images * (255.0 / 16.0)).astype(np.float32)[..., None]
    images = tf.image.resize(images, (32, 32), method="bilinear").numpy()
    images = np.repeat(np.clip(np.round(images), 0, 255).astype(np.uint8), 3, axis=-1)
    labels = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(labels))
    test = order[: len(order) // 4]
    train = order[len(order) // 4:]
    return (images[train], labels[train], images[test], labels[test],
            tuple(str(digit) for digit in range(10)),
            "scikit-learn digits (8x8 upsampled to 32x32x3), seeded 25% test split")


def _unreadable(path, error):
    return errors.DataError(f"{path}: cannot read it ({error.strerror or error}); make it a "
                            "readable file (data.dir holds the official CIFAR-10 binary "
                            "version), then rerun")


def _check_cifar_size(path):
    try:
        with open(path, "rb"):  # a folder or a file without read permission fails here
            pass
    except OSError as error:
        raise _unreadable(path, error) from error
    size = os.path.getsize(path)
    if size == 0 or size % _CIFAR_RECORD:
        raise errors.DataError(f"{path}: {size} bytes is not a whole number of CIFAR-10 "
                               f"records ({_CIFAR_RECORD} bytes each); replace the file with an "
                               "intact copy")


def _read_cifar_binary(path):
    size = os.path.getsize(path)
    if size != _CIFAR_RECORD * _CIFAR_RECORDS_PER_FILE:
        raise errors.DataError(f"{path}: {size // _CIFAR_RECORD} records; an official CIFAR-10 "
                               f"binary file holds {_CIFAR_RECORDS_PER_FILE}, replace it with an "
                               "intact copy")
    try:
        raw = np.fromfile(path, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    except OSError as error:
        raise _unreadable(path, error) from error
    labels = raw[:, 0].astype(np.int32)
    if labels.max() >= CIFAR10_CLASSES:
        raise errors.DataError(f"{path}: label {labels.max()} is not a CIFAR-10 class; "
                               "the file is not CIFAR-10 binary data")
    images = raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _load_cifar10_folder(folder):
    if not os.path.isdir(folder):
        raise errors.DataError(f"data.dir={folder!r} is not a folder; point it at the folder "
                               "holding data_batch_*.bin and test_batch.bin")
    train_files = sorted(glob.glob(os.path.join(folder, "data_batch_*.bin")))
    test_file = os.path.join(folder, "test_batch.bin")
    if not train_files or not os.path.exists(test_file):
        raise errors.DataError(f"data.dir={folder!r} lacks data_batch_*.bin or test_batch.bin "
                               "(the official CIFAR-10 binary version)")
    for path in [*train_files, test_file]:  # a cut download, the usual damage, first
        _check_cifar_size(path)
    parts = [_read_cifar_binary(f) for f in train_files]
    test_images, test_labels = _read_cifar_binary(test_file)
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            test_images, test_labels, CIFAR10_CLASS_NAMES,
            f"CIFAR-10 binary folder {os.path.abspath(folder)} ({len(train_files)} train files)")


def _reachable(host, port=443, timeout=3.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tfds_builder(name, data_dir, download_host, offline_hint):
    """The tensorflow-datasets builder of `name`, prepared or downloaded.

    Offline, tfds hangs for minutes before it fails; this fails at once, with
    `offline_hint` saying what to do instead.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir or None)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise errors.DataError(f"{name!r} is neither a tensorflow-datasets set nor prepared in "
                               f"data.tfds_data_dir={data_dir!r}; check the name against the "
                               "tensorflow-datasets catalogue, or the folder") from error
    prepared = tf.io.gfile.exists(os.path.join(builder.data_dir, "dataset_info.json"))
    if not prepared and not _reachable(download_host):
        raise errors.DataError(f"{name}: offline and not prepared in tensorflow-datasets "
                               f"({builder.data_dir}); {offline_hint}")
    builder.download_and_prepare()
    return builder


def load_tfds(name, splits, data_dir, download_host, offline_hint):
    """{split: (images, labels)} of a tensorflow-datasets set, prepared or downloaded."""
    builder = _tfds_builder(name, data_dir, download_host, offline_hint)
    arrays = {split: image_sources.read_tfds_split(builder, split) for split in splits}
    return arrays, builder.data_dir


def load_tfds_by_name(data_config, seed):
    """Any tensorflow-datasets image-classification set (data.tfds_name), prepared or
    downloaded (tfprune.image_sources.read_tfds)."""
    builder = _tfds_builder(
        data_config.tfds_name, data_config.tfds_data_dir, TFDS_HOST,
        "prepare it with tensorflow-datasets where it is online, then set "
        "--config.data.tfds_data_dir=PATH to that data_dir")
    return image_sources.read_tfds(builder, data_config.tfds_name,
                                   _image_size(data_config), data_config.fit,
                                   data_config.test_fraction, seed)


def _load_cifar10_tfds(data_dir):
    splits, location = load_tfds(
        "cifar10", ("train", "test"), data_dir, "www.cs.toronto.edu",
        "set --config.data.dir=PATH to a folder with the CIFAR-10 binary files "
        "(data_batch_*.bin, test_batch.bin)")
    return (*splits["train"], *splits["test"], CIFAR10_CLASS_NAMES,
            f"tensorflow-datasets cifar10 ({location})")


def load_cifar10(data_config, seed):
    del seed  # CIFAR-10 has its own test split
    if data_config.dir:
        return _load_cifar10_folder(data_config.dir)
    return _load_cifar10_tfds(data_config.tfds_data_dir)


def _image_size(data_config):
    """data.image_size as (height, width), or None: the images' own."""
    return tuple(int(side) for side in data_config.image_size) or None


def load_folder(data_config, seed):
    return image_sources.read_folder(data_config.dir, _image_size(data_config),
                                     data_config.fit, data_config.test_fraction, seed)


def load_npz(data_config, seed):
    return image_sources.read_npz(data_config.file, data_config.test_fraction, seed)


DATASETS = {"digits": Source(load_digits),
            "cifar10": Source(load_cifar10, CIFAR10_NORMALIZATION),
            "folder": Source(load_folder),  # data.dir: a folder of class subfolders
            "npz": Source(load_npz),  # data.file: an .npz file of arrays
            "tfds": Source(load_tfds_by_name)}  # data.tfds_name: any image-classification set


def _normalization(source, data_config, train_images):
    """(mean, std) per channel on the 0..255 scale, per `data.normalization`; `model`: 0
    and 1, the identity, as the model normalises its inputs itself."""
    if data_config.normalization == "model":
        return (0.0,) * 3, (1.0,) * 3
    fixed = dict(auto=source.normalization, explicit=(data_config.mean, data_config.std))
    if fixed.get(data_config.normalization):
        return tuple(tuple(255.0 * v for v in values)
                     for values in fixed[data_config.normalization])
    return _pixel_statistics(train_images)


def _pixel_statistics(images, chunk=1024):
    """Per-channel mean and std of uint8 images, two passes over float64 chunks: a float64
    copy of a large training set at once would take 8 times its memory."""
    def pixels(start):
        return images[start:start + chunk].reshape(-1, 3).astype(np.float64)

    starts, count = range(0, len(images), chunk), images.size // 3
    mean = sum(pixels(start).sum(0) for start in starts) / count
    variance = sum(((pixels(start) - mean) ** 2).sum(0) for start in starts) / count
    return (tuple(float(v) for v in mean), tuple(float(v) for v in np.sqrt(variance) + 1e-6))


def load(data_config, seed):
    """The named data set with a seeded validation split held out of training."""
    registered = DATASETS[data_config.name]
    train_x, train_y, test_x, test_y, class_names, source = registered.load(data_config, seed)
    size, what = _image_size(data_config), f"data.name={data_config.name}"
    train_x = image_sources.fit_images(train_x, size, data_config.fit, what)
    test_x = image_sources.fit_images(test_x, size, data_config.fit, what)
    if train_x.shape[1:] != test_x.shape[1:]:
        raise errors.DataError(f"{what}: training images are {_pixels(train_x.shape[1:])}, test "
                               f"images {_pixels(test_x.shape[1:])}; set --config.data."
                               "image_size=(height, width) to bring both to one size")
    order = np.random.default_rng(seed).permutation(len(train_y))
    num_val = max(1, int(round(len(order) * data_config.val_fraction)))
    val, train = order[:num_val], np.sort(order[num_val:])
    if data_config.max_train_examples:
        train = train[: data_config.max_train_examples]
    train_images = train_x[train]
    mean, std = _normalization(registered, data_config, train_images)
    return Dataset(
        name=data_config.name, source=source,
        train_images=train_images, train_labels=train_y[train],
        val_images=train_x[np.sort(val)], val_labels=train_y[np.sort(val)],
        test_images=test_x, test_labels=test_y, num_classes=len(class_names),
        mean=mean, std=std, class_names=tuple(class_names))


def _pixels(shape):
    return "x".join("any" if side is None else str(side) for side in shape)


def check_classes(dataset, num_classes, what):
    """Refuse a network (`what`) with another number of outputs than the data's classes:
    it would train, or be pruned, against labels it cannot mean."""
    if num_classes != dataset.num_classes:
        raise errors.ConfigError(
            f"{what} outputs {num_classes} classes, data.name={dataset.name} has "
            f"{dataset.num_classes} ({dataset.source}); give the model {dataset.num_classes} "
            "outputs or point the data at the classes it was made for")


def check_network(dataset, network, what):
    """Refuse a Keras network (`what`) that cannot take the data's images or whose output
    is not one score per class of the data."""
    expected = tuple(network.input_shape)[1:]
    if len(expected) != 3 or any(side not in (None, actual)
                                 for side, actual in zip(expected, dataset.image_shape)):
        raise errors.ConfigError(
            f"{what} takes {_pixels(expected)} images, the data's are "
            f"{_pixels(dataset.image_shape)}; set --config.data.image_size=(height, width) "
            "to the model's input size")
    check_classes(dataset, network.output_shape[-1], what)


def crop_padding(height, width):
    """(rows, columns) of zero padding before the random crop: the study's 4 pixels at
    32 px and below, an eighth of each side above."""
    return tuple(max(CROP_PADDING, round(side * CROP_PADDING / 32)) for side in (height, width))


def _augment(image, label, augment, seed):
    """Crop and flip drawn from `seed` alone (stateless), so parallel calls and a resumed
    stream give every example the same augmentation."""
    crop_seed, flip_seed = tf.unstack(tf.random.split(seed, 2))
    if augment in ("crop", "crop_flip"):
        height, width, channels = image.shape
        rows, columns = crop_padding(height, width)
        image = tf.image.pad_to_bounding_box(image, rows, columns,
                                             height + 2 * rows, width + 2 * columns)
        image = tf.image.stateless_random_crop(image, (height, width, channels), seed=crop_seed)
    if augment == "crop_flip":
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return tf.cast(image, tf.float32), label


def _augment_batch(images, labels, augment, seed):
    """`_augment` for a whole batch in two gathers: per-image crop offsets and flips are
    stateless draws from `seed` (the batch's), so a resumed stream repeats them. It costs
    a sixth of the per-image map's CPU time (16 vs 100 us per CIFAR image here), which
    the training steps get back on a small CPU."""
    if augment != "none":
        count, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
        crop_seed, flip_seed = tf.unstack(tf.random.split(seed, 2))
        offsets = tf.zeros((count, 2), tf.int32)
        if augment in ("crop", "crop_flip"):
            padding = crop_padding(height, width)
            images = tf.pad(images, [[0, 0], [padding[0]] * 2, [padding[1]] * 2, [0, 0]])
            offsets = _crop_offsets(count, crop_seed, padding)
        rows = offsets[:, :1] + tf.range(height)
        columns = offsets[:, 1:] + tf.range(width)
        if augment == "crop_flip":
            flip = tf.random.stateless_uniform((count, 1), flip_seed, maxval=2, dtype=tf.int32)
            columns = tf.where(flip > 0, tf.reverse(columns, [1]), columns)
        images = tf.gather(tf.gather(images, rows, axis=1, batch_dims=1), columns,
                           axis=2, batch_dims=1)
    return tf.cast(images, tf.float32), labels


def _crop_offsets(count, seed, padding):
    """(count, 2) crop offsets, row and column, each uniform in [0, 2 * padding]: one draw
    for square padding (as at 32 px before other sizes), one per axis otherwise."""
    if padding[0] == padding[1]:
        return tf.random.stateless_uniform((count, 2), seed, maxval=2 * padding[0] + 1,
                                           dtype=tf.int32)
    seeds = tf.unstack(tf.random.split(seed, 2))
    return tf.concat([tf.random.stateless_uniform((count, 1), axis_seed, maxval=2 * pad + 1,
                                                  dtype=tf.int32)
                      for axis_seed, pad in zip(seeds, padding)], axis=1)


def corruption_mixture(images, rng):
    """Each image gets a random corruption of ROBUST_CORRUPTIONS at a severity drawn
    uniformly from 0..5 (0 = left clean), as the study's robust training.

    Returns the mixed images and, per image, the corruption index and the severity.
    """
    choice = rng.integers(len(ROBUST_CORRUPTIONS), size=len(images))
    severity = rng.integers(0, 6, size=len(images))
    mixed = images.copy()
    for index, name in enumerate(ROBUST_CORRUPTIONS):
        for level in range(1, 6):
            members = np.flatnonzero((choice == index) & (severity == level))
            if members.size:
                mixed[members] = corruptions.corrupt(images[members], name, level,
                                                     int(rng.integers(2**31)))
    return mixed, choice, severity


def _corrupted_epochs(images, labels, seed, start):
    """An endless stream of (image, label) from element `start` on: every epoch a fresh
    seeded mixture, shuffled."""
    first_epoch, offset = divmod(start, len(labels))

    def examples():
        for epoch in itertools.count(first_epoch):
            rng = np.random.default_rng([seed, epoch])
            mixed, _, _ = corruption_mixture(images, rng)
            order = rng.permutation(len(labels))
            for i in order[offset if epoch == first_epoch else 0:]:
                yield mixed[i], labels[i]
    return tf.data.Dataset.from_generator(examples, output_signature=(
        tf.TensorSpec(images.shape[1:], tf.uint8), tf.TensorSpec((), tf.int32)))


def _shuffled_examples(images, labels, seed, start):
    """An endless stream of (image, label) from element `start` on: every pass over the
    set visits each example once, in an order drawn from (seed, pass) alone."""
    first_pass, offset = divmod(start, len(labels))
    indices = tf.range(len(labels), dtype=tf.int64)
    order = tf.data.Dataset.counter(first_pass).flat_map(
        lambda p: tf.data.Dataset.from_tensor_slices(tf.random.experimental.stateless_shuffle(
            indices, seed=tf.stack([tf.constant(seed, tf.int64), p]))))
    pixels, classes = tf.constant(images), tf.constant(labels)
    return order.skip(offset).map(lambda i: (tf.gather(pixels, i), tf.gather(classes, i)))


def train_pipeline(images, labels, batch_size, augment, seed, shift="none", start=0,
                   batch_augment=True):
    """An endless stream of shuffled, augmented float batches of 0..255 pixels, for
    Keras `fit` with steps_per_epoch; "augmix" applies keras-cv's AugMix after the crop
    and flip, "corruptions" the study's robust-training mixture.

    Endless, because Keras recreates a finite dataset's iterator every epoch, which
    cost ResNet20 about 30% of its training throughput here (382 vs 545 images/s).
    Order and augmentation depend on `seed` and each example's position in the stream
    alone, so the stream from example `start` on is the tail of the stream from 0: a
    resumed training stage sees the batches an uninterrupted one does (except AugMix,
    whose keras-cv layer draws from its own state). `batch_augment` crops and flips
    whole batches (`_augment_batch`, drawn per batch position; `start` must then be a
    multiple of `batch_size`), else each image alone (drawn per image position).
    """
    examples = (_corrupted_epochs(images, labels, seed, start) if shift == "corruptions"
                else _shuffled_examples(images, labels, seed, start))
    if batch_augment:
        if start % batch_size:
            raise ValueError(f"start {start} is not a multiple of batch_size {batch_size}")
        dataset, augment_fn = examples.batch(batch_size), _augment_batch
        positions = tf.data.Dataset.counter(start // batch_size)
    else:
        dataset, augment_fn = examples, _augment
        positions = tf.data.Dataset.counter(start)
    dataset = tf.data.Dataset.zip((dataset, positions)).map(
        lambda example, position: augment_fn(*example, augment,
                                             tf.stack([tf.constant(seed, tf.int64), position])),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if not batch_augment:
        dataset = dataset.batch(batch_size)
    if shift == "augmix":
        import keras_cv

        augmix = keras_cv.layers.AugMix(value_range=(0, 255), seed=seed)
        dataset = dataset.map(lambda x, y: (augmix(x, training=True), y),
                              num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def eval_pipeline(images, labels, batch_size):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    return dataset.map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(tf.data.AUTOTUNE)
