"""An image folder built from the CIFAR-10 binary files, upsampled: a stand-in for a
user's own photographs (train/ and test/ of one PNG subfolder per class, as
data.name=folder reads them; docs/data.md).

    .venv/bin/python -m examples.cifar_image_folder --cifar_dir=DIR --out=FOLDER \
        [--size=96] [--train_per_class=1000] [--test_per_class=200]

The first images of each class are taken (training images from the binary training
files, test images from test_batch.bin), resized bicubically to size x size. The folder
is written beside --out and renamed into place at the end, so an interrupted run leaves
no half folder; an existing --out is refused.
"""
import os
import shutil
import sys

import numpy as np
from absl import app, flags
from PIL import Image

from tfprune import config as config_lib
from tfprune import data, errors

_CIFAR_DIR = flags.DEFINE_string("cifar_dir", None, "CIFAR-10 binary folder.", required=True)
_OUT = flags.DEFINE_string("out", None, "The image folder to write (must not exist).",
                           required=True)
_SIZE = flags.DEFINE_integer("size", 96, "Side of the written images, pixels.")
_TRAIN = flags.DEFINE_integer("train_per_class", 1000, "Training images per class.")
_TEST = flags.DEFINE_integer("test_per_class", 200, "Test images per class.")


def first_per_class(images, labels, count):
    """(images, labels) of the first `count` images of each class, in class order."""
    chosen = np.concatenate([np.flatnonzero(labels == c)[:count] for c in np.unique(labels)])
    return images[chosen], labels[chosen]


def write_split(folder, images, labels, class_names, size):
    for name in class_names:
        os.makedirs(os.path.join(folder, name), exist_ok=True)
    for index, (pixels, label) in enumerate(zip(images, labels)):
        picture = Image.fromarray(pixels).resize((size, size), Image.Resampling.BICUBIC)
        picture.save(os.path.join(folder, class_names[label], f"{index:05d}.png"))


def main(argv):
    del argv
    if os.path.exists(_OUT.value):
        sys.exit(f"--out={_OUT.value} exists; name a new folder")
    config = config_lib.base().data
    config.update(name="cifar10", dir=_CIFAR_DIR.value, val_fraction=0.0001)
    try:
        cifar = data.load(config, seed=0)
    except errors.UserError as error:
        sys.exit(str(error))
    train_images = np.concatenate([cifar.train_images, cifar.val_images])
    train_labels = np.concatenate([cifar.train_labels, cifar.val_labels])
    partial = f"{_OUT.value}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    for split, (images, labels), count in (
            ("train", (train_images, train_labels), _TRAIN.value),
            ("test", (cifar.test_images, cifar.test_labels), _TEST.value)):
        images, labels = first_per_class(images, labels, count)
        write_split(os.path.join(partial, split), images, labels, cifar.class_names,
                    _SIZE.value)
        print(f"{split}: {len(labels)} images, {_SIZE.value}x{_SIZE.value} px")
    os.replace(partial, _OUT.value)
    print(f"wrote {_OUT.value}")


if __name__ == "__main__":
    app.run(main)
