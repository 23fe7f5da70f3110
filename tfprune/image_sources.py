"""A user's own images as the uint8 RGB arrays every data set is held in: an image folder
(a subfolder per class), an .npz file of arrays, a tensorflow-datasets image-classification
set, and the fitting of any image to the run's size (data.image_size, data.fit).

Images become RGB (grey repeated, alpha dropped) so that corruptions, the normalisation
layer and the TFLite files see three channels whatever the files held. Errors name the
file or folder and the fix: a bad image found after minutes of decoding is one line too.
"""
import functools
import io
import os
import zipfile

import numpy as np
from PIL import Image, ImageOps

from tfprune import errors, storage

FITS = ("resize", "center_crop")  # data.fit
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")  # class_names optional
SPLIT_FOLDERS = ("train", "test")


def fit_image(image, size, fit):
    """One image (H x W, or H x W x 1, 3 or 4 channels, uint8) as H' x W' x 3 at `size`
    (height, width; None: its own): `resize` stretches it, `center_crop` scales it to
    cover `size` keeping its aspect ratio and cuts the centre."""
    picture = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1
                              else image).convert("RGB")
    if size and picture.size != (size[1], size[0]):
        if fit == "center_crop":
            picture = ImageOps.fit(picture, (size[1], size[0]), Image.BILINEAR)
        else:
            picture = picture.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(picture, np.uint8)


def fit_images(images, size, fit, what):
    """An (N, H, W[, C]) uint8 array as (N, H', W', 3) RGB at `size` (None: as it is)."""
    if images.dtype != np.uint8:
        raise errors.DataError(f"{what}: images are {images.dtype}, not uint8; store 0..255 "
                               "pixels as uint8 (e.g. np.round(x * 255).astype(np.uint8))")
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
        raise errors.DataError(f"{what}: images of shape {images.shape}; store them as "
                               "(N, height, width) or (N, height, width, 1, 3 or 4 channels)")
    if images.ndim == 3:
        images = images[..., None]
    if not size or tuple(size) == images.shape[1:3]:
        if images.shape[-1] == 1:
            return np.repeat(images, 3, axis=-1)
        return np.ascontiguousarray(images[..., :3])
    fitted = np.empty((len(images), *size, 3), np.uint8)
    for index, image in enumerate(images):
        fitted[index] = fit_image(image, size, fit)
    return fitted


def held_out_split(labels, fraction, seed):
    """(train, test) indices: a seeded `fraction` of every class held out (at least one
    image, and never a class's last one), so that each class is tested."""
    rng = np.random.default_rng(seed)
    test = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(max(1, int(round(len(members) * fraction))), len(members) - 1)
        test.extend(members[:count])
    test = np.sort(np.asarray(test, np.int64))
    return np.setdiff1d(np.arange(len(labels)), test), test


def _class_folders(folder, what):
    """{class name: [image paths]} of a folder holding one subfolder per class."""
    names = storage.listdir(folder)
    classes = [name for name in names if not name.startswith(".")
               and storage.isdir(os.path.join(folder, name))]
    loose = [name for name in names if name.lower().endswith(IMAGE_EXTENSIONS)]
    if loose:
        raise errors.DataError(f"{what}: {os.path.join(folder, loose[0])} is not in a class "
                               "subfolder; move every image into the subfolder of its class")
    if not classes:
        raise errors.DataError(f"{what}: no class subfolders in {folder}; put each class's "
                               "images in a subfolder named after it")
    if len(classes) == 1:
        raise errors.DataError(f"{what}: {folder} has one class ({classes[0]}); a classifier "
                               "needs two or more, add a subfolder per class")
    images = {}
    for name in classes:
        files = [os.path.join(folder, name, f) for f in storage.listdir(os.path.join(folder, name))
                 if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
        if not files:
            raise errors.DataError(f"{what}: {os.path.join(folder, name)} holds no image "
                                   f"({', '.join(IMAGE_EXTENSIONS)}); add its images or "
                                   "remove the folder")
        images[name] = files
    return images


def _decode(path, size, fit, stored_size):
    """The file's pixels fitted to `size`; `stored_size` (a one-item list) holds the first
    image's size when `size` is None, which every other image must share."""
    try:
        with Image.open(io.BytesIO(storage.read_bytes(path))) as picture:
            picture.load()
            pixels = np.asarray(picture.convert("RGB"), np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise errors.DataError(f"{path}: cannot read it as an image ({storage.reason(error)}); "
                               "replace or remove the file, then rerun") from error
    if not size:
        stored_size = stored_size or [pixels.shape[:2]]
        if pixels.shape[:2] != stored_size[0]:
            raise errors.DataError(
                f"{path} is {pixels.shape[0]}x{pixels.shape[1]} px, other images "
                f"{stored_size[0][0]}x{stored_size[0][1]}; set --config.data.image_size="
                "(height, width) to bring them to one size (data.fit: resize | center_crop)")
        return pixels, stored_size
    return fit_image(pixels, size, fit), stored_size


def _read(paths, size, fit, stored_size=None):
    pixels = []
    for path in paths:
        image, stored_size = _decode(path, size, fit, stored_size)
        pixels.append(image)
    return np.stack(pixels), stored_size


def _listed(images, class_names):
    paths = [path for name in class_names for path in images[name]]
    labels = [index for index, name in enumerate(class_names) for _ in images[name]]
    return paths, np.asarray(labels, np.int32)


def read_folder(folder, size, fit, test_fraction, seed):
    """An image folder: train/ and test/ of class subfolders, or class subfolders alone (a
    seeded `test_fraction` of each class is then the test set). Classes in sorted order.

    Returns (train images, labels, test images, labels, class names, source)."""
    what = f"data.dir={folder!r}"
    if not storage.isdir(folder):
        raise errors.DataError(f"{what} is not a folder; point it at the folder of class "
                               "subfolders (or of train/ and test/ ones)")
    split = all(storage.isdir(os.path.join(folder, name)) for name in SPLIT_FOLDERS)
    if split:
        train, test = (_class_folders(os.path.join(folder, name), what)
                       for name in SPLIT_FOLDERS)
        if sorted(train) != sorted(test):
            differ = sorted(set(train) ^ set(test))
            raise errors.DataError(f"{what}: train/ and test/ differ in classes "
                                   f"({', '.join(differ[:3])}); give both the same subfolders")
        class_names = tuple(sorted(train))
        train_paths, train_labels = _listed(train, class_names)
        test_paths, test_labels = _listed(test, class_names)
    else:
        images = _class_folders(folder, what)
        class_names = tuple(sorted(images))
        paths, labels = _listed(images, class_names)
        train_index, test_index = held_out_split(labels, test_fraction, seed)
        train_paths, test_paths = [paths[i] for i in train_index], [paths[i] for i in test_index]
        train_labels, test_labels = labels[train_index], labels[test_index]
    train_images, stored_size = _read(train_paths, size, fit)
    test_images, _ = _read(test_paths, size, fit, stored_size)
    layout = ("train/ and test/" if split
              else f"one folder, seeded {test_fraction:.0%} of each class as test")
    return (train_images, train_labels, test_images, test_labels, class_names,
            f"image folder {folder} ({len(class_names)} classes, {layout})")


def _integer_labels(labels, what, key):
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise errors.DataError(f"{what}: {key} is {labels.dtype} of shape {labels.shape}; store "
                               "class indices as whole numbers of shape (N,)")
    return labels.astype(np.int64)


def read_npz(path, test_fraction, seed):
    """Arrays in an .npz file: x_train, y_train, x_test, y_test (the test pair may both be
    left out: a seeded `test_fraction` of each class is then the test set), and optional
    class_names. Images as `fit_images` takes them; labels class indices.

    Returns (train images, labels, test images, labels, class names, source)."""
    what = f"data.file={path!r}"
    try:
        with np.load(io.BytesIO(storage.read_bytes(path)), allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise errors.DataError(f"{what}: cannot read it as an .npz file of arrays "
                               f"({storage.reason(error)}); write it with numpy.savez of "
                               "uint8 images and integer labels") from error
    required = NPZ_KEYS if "x_test" in arrays or "y_test" in arrays else NPZ_KEYS[:2]
    missing = [key for key in required if key not in arrays]
    if missing:
        raise errors.DataError(f"{what} lacks {', '.join(missing)} (it holds "
                               f"{', '.join(sorted(arrays)) or 'nothing'}); save "
                               f"{', '.join(NPZ_KEYS)} (the test pair optional)")
    pairs = [(fit_images(arrays[x], None, FITS[0], f"{what}: {x}"),
              _integer_labels(arrays[y], what, y), x, y)
             for x, y in zip(required[::2], required[1::2])]
    for images, labels, x, y in pairs:
        if len(images) != len(labels):
            raise errors.DataError(f"{what}: {x} holds {len(images)} images, {y} "
                                   f"{len(labels)} labels; give every image one label")
    if not len(pairs[0][1]):
        raise errors.DataError(f"{what}: x_train holds no images; save the training images")
    labels = np.concatenate([pair[1] for pair in pairs])
    names = arrays.get("class_names")
    low, high = int(labels.min()), int(labels.max())
    count = len(names) if names is not None else high + 1
    if low < 0 or high >= count:
        raise errors.DataError(f"{what}: label {low if low < 0 else high} is out of range "
                               f"[0, {count})" + (f" of its {count} class_names"
                                                  if names is not None else "")
                               + "; labels must index the classes from 0")
    if count < 2:
        raise errors.DataError(f"{what}: the labels name {count} class; a classifier needs "
                               "two or more, label the images of at least two classes")
    class_names = tuple(str(n) for n in names) if names is not None else tuple(
        str(i) for i in range(count))
    (train_x, train_y, *_), test = pairs[0], pairs[1:]
    if test:
        test_x, test_y = test[0][:2]
    else:
        train_index, test_index = held_out_split(train_y, test_fraction, seed)
        train_x, test_x = train_x[train_index], train_x[test_index]
        train_y, test_y = train_y[train_index], train_y[test_index]
    layout = "its test split" if test else f"seeded {test_fraction:.0%} of each class as test"
    return (train_x, train_y.astype(np.int32), test_x, test_y.astype(np.int32), class_names,
            f"arrays {path} ({layout})")


def read_tfds_split(builder, split, keys=("image", "label"), fit_image=None):
    """(images, labels) of one split of a prepared tensorflow-datasets builder; `fit_image`
    fits each image as it is read (a set of many image sizes), else it is read in batches."""
    import tensorflow_datasets as tfds

    image_key, label_key = keys
    examples = builder.as_dataset(split=split, shuffle_files=False)
    if fit_image:
        pairs = [(fit_image(e[image_key]), e[label_key]) for e in tfds.as_numpy(examples)]
        return (np.stack([image for image, _ in pairs]),
                np.asarray([label for _, label in pairs], np.int32))
    batches = list(tfds.as_numpy(examples.batch(4096)))
    return (np.concatenate([b[image_key] for b in batches]).astype(np.uint8),
            np.concatenate([b[label_key] for b in batches]).astype(np.int32))


def _classification_keys(info, name):
    """(image feature, class-label feature) of a tfds set: its supervised keys, else its
    one image and one class-label feature."""
    import tensorflow_datasets as tfds

    features = dict(info.features.items())
    kinds = (tfds.features.Image, tfds.features.ClassLabel)
    keys = info.supervised_keys
    if not (isinstance(keys, tuple) and len(keys) == 2 and all(
            isinstance(features.get(k), kind) for k, kind in zip(keys, kinds))):
        matches = [[k for k, f in features.items() if isinstance(f, kind)] for kind in kinds]
        keys = tuple(found[0] if len(found) == 1 else None for found in matches)
    if None in keys:
        raise errors.DataError(f"data.tfds_name={name!r} is not an image-classification set "
                               f"(features: {', '.join(sorted(features))}); pick one with one image "
                               "and one class label, or use data.name=folder or npz")
    return keys


def read_tfds(builder, name, size, fit, test_fraction, seed):
    """A prepared tensorflow-datasets image-classification set: its train split, and its
    test split (else validation, else a seeded `test_fraction` of each class of train).

    Returns (train images, labels, test images, labels, class names, source)."""
    keys = _classification_keys(builder.info, name)
    splits = list(builder.info.splits)
    if "train" not in splits:
        raise errors.DataError(f"data.tfds_name={name!r} has no train split ({', '.join(splits)})"
                               "; use data.name=npz with the arrays of the split to train on")
    fit_one = None
    if None in builder.info.features[keys[0]].shape[:2]:
        if not size:
            raise errors.DataError(f"data.tfds_name={name!r} holds images of many sizes; set "
                                   "--config.data.image_size=(height, width) to bring them "
                                   "to one (data.fit: resize | center_crop)")
        fit_one = functools.partial(fit_image, size=size, fit=fit)
    train_x, train_y = read_tfds_split(builder, "train", keys, fit_one)
    test_split = next((s for s in ("test", "validation") if s in splits), None)
    if test_split:
        test_x, test_y = read_tfds_split(builder, test_split, keys, fit_one)
    else:
        train, test = held_out_split(train_y, test_fraction, seed)
        (train_x, test_x), (train_y, test_y) = (train_x[train], train_x[test]), (
            train_y[train], train_y[test])
    tested = (f"its {test_split} split" if test_split else
              f"seeded {test_fraction:.0%} of each class of train as test")
    return (train_x, train_y, test_x, test_y, tuple(builder.info.features[keys[1]].names),
            f"tensorflow-datasets {name} ({builder.data_dir}; {tested})")
