"""examples/cifar_image_folder.py writes the CIFAR-10 images as an upsampled image folder
that data.name=folder reads back as the same pixels at the new size, and refuses to
overwrite a folder."""
import subprocess
import sys

import numpy as np

from conftest import ROOT
from tfprune import config as config_lib
from tfprune import data


def _build(cifar_dir, out):
    command = [sys.executable, "-m", "examples.cifar_image_folder", f"--cifar_dir={cifar_dir}",
               f"--out={out}", "--size=48", "--train_per_class=2", "--test_per_class=1"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_folder_holds_the_first_images_of_each_class_upsampled(cifar_dir, tmp_path):
    out = tmp_path / "folder"
    built = _build(cifar_dir, out)
    assert built.returncode == 0, built.stderr[-2000:]
    config = config_lib.base().data
    config.update(name="folder", dir=str(out), val_fraction=0.5)
    folder = data.load(config, seed=0)
    assert folder.image_shape == (48, 48, 3) and folder.num_classes == 10
    assert len(folder.train_labels) + len(folder.val_labels) == 20
    config.update(name="cifar10", dir=cifar_dir)
    cifar = data.load(config, seed=0)
    first = [np.flatnonzero(cifar.test_labels == c)[0] for c in range(10)]
    np.testing.assert_array_equal(folder.test_labels, np.arange(10))
    # bicubic upsampling then 2x2 block means: close to the stored 32 px pixels
    small = folder.test_images.reshape(10, 16, 3, 16, 3, 3).mean(axis=(2, 4))
    original = cifar.test_images[first].reshape(10, 16, 2, 16, 2, 3).mean(axis=(2, 4))
    assert np.abs(small - original).mean() < 6
    again = _build(cifar_dir, out)
    assert again.returncode != 0 and "exists; name a new folder" in again.stderr
