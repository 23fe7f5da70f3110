"""The test distributions of a run: nominal, CIFAR-10-C corruptions, natural shifts.

Corruptions come from tensorflow-datasets' `cifar10_corrupted` where it can be had
(CIFAR-10 only), else they are generated in-process from the clean test set by
`tfprune.corruptions` with the parameter set of `eval.corruption_params` (by default the
one for the images' size) and cached once per (data set, corruption, severity, seed,
parameter set).
A natural shift that cannot be had is reported as unavailable, never silently dropped.
"""
import dataclasses
import hashlib

import numpy as np

from tfprune import corruptions, data, errors, storage, workdir
from tfprune.results import NOMINAL

# tensorflow-datasets names two corruptions differently from the CIFAR-10-C files.
TFDS_CORRUPTION_NAMES = {"glass_blur": "frosted_glass_blur", "elastic_transform": "elastic"}
# Natural distribution shifts of CIFAR-10 in tensorflow-datasets: name -> (tfds name, host).
SHIFTS = {"cifar10_1": ("cifar10_1/v6", "raw.githubusercontent.com")}
CORRUPTION_SOURCES = ("auto", "generated", "tfds")
FROST_TEXTURES = ("auto", "photographs", "generated")


@dataclasses.dataclass
class Distribution:
    images: np.ndarray  # uint8 (N, H, W, 3), the test set's size
    labels: np.ndarray
    source: str
    # The corruptions' parameter set (tfprune.corruptions.parameters); None: not corrupted.
    corruption_params: str | None = None


def names(eval_config):
    """Distribution names of a run: nominal, corruptions x severities, extras, shifts."""
    corrupted = [f"{c}_{s}" for c in eval_config.corruptions for s in eval_config.severities]
    corrupted += [d for d in eval_config.extra_corruptions if d not in corrupted]
    return [NOMINAL, *corrupted, *eval_config.shifts]


def split_corruption(name):
    """'zoom_blur_3' -> ('zoom_blur', 3)."""
    corruption, _, severity = name.rpartition("_")
    return corruption, int(severity)


def frost_photographs(eval_config, log=print):
    """The folder of the reference's frost photographs that generated frost blends in,
    per `eval.frost`, or None for the generated stand-in textures."""
    if eval_config.frost == "generated":
        return None
    folder = corruptions.find_frost_photographs(eval_config.frost_dir)
    if folder is None and eval_config.frost == "photographs":
        raise errors.DataError(
            "eval.frost=photographs: the reference's frost photographs were not found; set "
            "--config.eval.frost_dir=<folder with frost1.png ... frost5.jpg> (e.g. "
            "../shared/data/frost), pip install imagecorruptions, or set eval.frost=generated")
    if folder is None:
        log("frost: generated stand-in textures, not the reference's photographs (set "
            "eval.frost_dir to a folder holding them)")
    return folder


def _generated(dataset, corruption, severity, seed, cache_dir, log, photographs=None,
               params="auto"):
    chosen = corruptions.resolve_parameters(params, *dataset.test_images.shape[1:3]).name
    # The clean images, the corruption code's version and the parameter set: a cached set
    # of any other is stale.
    fingerprint = hashlib.sha1(dataset.test_images.tobytes()
                               + f"corruptions v{corruptions.VERSION} params {chosen}".encode()
                               ).hexdigest()[:12]
    frost = corruption == "frost"
    path = workdir.cache_file(cache_dir, dataset.name, fingerprint, corruption, severity, seed,
                              "photos" if frost and photographs else "")
    images = storage.load_array(path, dataset.test_images.shape, np.uint8)
    if images is None:
        again = (" again: the cached file is corrupt, incomplete or lacks its digest"
                 if storage.exists(path) else "")
        log(f"generating {corruption} severity {severity}{again} (cached at {path})")
        images = corruptions.corrupt(dataset.test_images, corruption, severity, seed,
                                     frost_photographs=photographs, params=chosen)
        storage.save_array(path, images)
    textures = f"; textures: {corruptions.frost_texture_source(photographs)}" if frost else ""
    return Distribution(images, dataset.test_labels,
                        f"generated in-process by tfprune.corruptions (seed {seed}, {chosen} "
                        f"parameters{textures})", chosen)


def _from_tfds(corruption, severity, data_config):
    tfds_name = f"cifar10_corrupted/{TFDS_CORRUPTION_NAMES.get(corruption, corruption)}_{severity}"
    splits, location = data.load_tfds(tfds_name, ("test",), data_config.tfds_data_dir,
                                      "zenodo.org",
                                      "set --config.eval.corruption_source=generated")
    return Distribution(*splits["test"], f"tensorflow-datasets {tfds_name} ({location})",
                        "cifar10")


def build(dataset, eval_config, data_config, cache_dir, log=print):
    """({name: Distribution}, {name: reason unavailable}) for the run's distribution names."""
    distributions = {NOMINAL: Distribution(dataset.test_images, dataset.test_labels, "test split")}
    unavailable = {}
    height, width = dataset.test_images.shape[1:3]
    params = corruptions.resolve_parameters(eval_config.corruption_params, height,
                                            width).name
    # tensorflow-datasets holds CIFAR-10-C: 32x32 CIFAR-10 images, the CIFAR parameters.
    tfds_fits = dataset.name == "cifar10" and (height, width) == (32, 32) and params == "cifar10"
    corrupted = [n for n in names(eval_config)[1:] if n not in SHIFTS]
    if eval_config.corruption_source == "tfds" and corrupted and not tfds_fits:
        raise errors.ConfigError(
            f"config.eval.corruption_source: tfds holds CIFAR-10-C (32x32, cifar10 "
            f"parameters), not {params} corruptions of {height}x{width} images; set "
            "eval.corruption_source=generated")
    use_tfds = eval_config.corruption_source != "generated" and tfds_fits
    frost = {}  # {"folder": the photographs' folder or None}, looked up once, if needed
    for name in names(eval_config)[1:]:
        if name in SHIFTS:
            tfds_name, host = SHIFTS[name]
            try:
                splits, location = data.load_tfds(tfds_name, ("test",), data_config.tfds_data_dir,
                                                  host, "prepare it with tensorflow-datasets")
                distributions[name] = Distribution(*splits["test"],
                                                   f"tensorflow-datasets {tfds_name} ({location})")
            except errors.DataError as error:
                unavailable[name] = str(error)
                log(f"{name}: unavailable: {error}")
            continue
        corruption, severity = split_corruption(name)
        if use_tfds:
            try:
                distributions[name] = _from_tfds(corruption, severity, data_config)
                continue
            except errors.DataError:
                if eval_config.corruption_source == "tfds":
                    raise
        if corruption == "frost" and "folder" not in frost:
            frost["folder"] = frost_photographs(eval_config, log)
        distributions[name] = _generated(dataset, corruption, severity,
                                         eval_config.corruption_seed, cache_dir, log,
                                         frost.get("folder"), params)
    sources = {d.source.split(" (")[0] for n, d in distributions.items() if n != NOMINAL}
    log(f"distributions: {len(distributions)} ({'; '.join(sorted(sources)) or 'nominal only'})")
    return distributions, unavailable
