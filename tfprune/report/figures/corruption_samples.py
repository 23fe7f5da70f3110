"""Test image 0 of every cached corrupted test set, a row per corruption and a column
per severity: what the corruptions the run was measured on look like."""
import os

import numpy as np

from tfprune import storage
from tfprune import workdir as layout
from tfprune.report import plot, reader
from tfprune.results import NOMINAL


def _cache_folder(run):
    """The run's corruption cache: eval.cache_dir (a relative one that does not exist from
    here is read as relative to the run directory), else the workdir's own."""
    folder = layout.cache_dir(run.workdir, reader.as_dict(
        reader.config(run.results).get("eval")).get("cache_dir") or "")
    if storage.is_local(folder) and not os.path.isabs(folder) and not os.path.isdir(folder):
        folder = os.path.join(run.workdir, folder)
    return folder


def _cache_files(run, folder):
    """{file: parsed name} of the cached sets of this run's data set, corruption seed and
    distributions, of the fingerprint most of them share (the run's data)."""
    config = reader.config(run.results)
    dataset = reader.as_dict(run.results.get("dataset")).get("name") or \
        reader.as_dict(config.get("data")).get("name")
    seed = reader.as_dict(config.get("eval")).get("corruption_seed")
    wanted = set(reader.distributions(run.results)) - {NOMINAL}
    matches = {}
    for file in storage.listdir(folder):
        found = layout.parse_cache_file(file)
        if not found or (dataset and found["dataset"] != dataset) or (
                isinstance(seed, int) and found["seed"] != seed) or (
                wanted and f"{found['name']}_{found['severity']}" not in wanted):
            continue
        matches[file] = found
    if not matches:
        return {}
    fingerprints = [m["fingerprint"] for m in matches.values()]
    fingerprint = max(sorted(set(fingerprints)), key=fingerprints.count)
    return {f: m for f, m in matches.items() if m["fingerprint"] == fingerprint}


def _cache_images(run, folder):
    """{corruption: {severity: RGB uint8 image}} from image 0 of each cached set."""
    if not storage.isdir(folder):
        return {}
    images = {}
    for file, found in _cache_files(run, folder).items():
        try:
            image = np.asarray(storage.open_array(os.path.join(folder, file))[0])
        except (OSError, ValueError, IndexError):
            continue
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.ndim != 3 or image.shape[-1] != 3:
            continue
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        images.setdefault(found["name"], {})[found["severity"]] = image
    return images


def draw(runs, colours, context, path):
    run = runs[0]
    folder = _cache_folder(run)
    images = _cache_images(run, folder)
    if not images:
        return None, (f"Corruption samples: no cached corrupted test set of this run in "
                      f"`{folder}`, so no sample grid.")
    corruptions = [d.rsplit("_", 1)[0] for d in context["distributions"] if d != NOMINAL]
    names = [n for n in dict.fromkeys(corruptions) if n in images] + sorted(
        set(images) - set(corruptions))
    severities = sorted({s for per in images.values() for s in per})
    size = max(max(i.shape[0] for per in images.values() for i in per.values()),
               max(i.shape[1] for per in images.values() for i in per.values()))
    gap = max(2, size // 16)
    cell = size + gap
    mosaic = np.full((len(names) * cell + gap, len(severities) * cell + gap, 3), 255, np.uint8)
    for row, name in enumerate(names):
        for column, severity in enumerate(severities):
            top, left = gap + row * cell, gap + column * cell
            image = images[name].get(severity)
            if image is None:
                mosaic[top:top + size, left:left + size] = 225
            else:
                mosaic[top:top + image.shape[0], left:left + image.shape[1]] = image
    tile = 0.95
    figure = plot.new_figure(max(5.0, len(severities) * tile + 2.6), len(names) * tile + 1.3)
    ax = figure.subplots()
    ax.imshow(mosaic, interpolation="nearest")
    centres = lambda count: [gap + k * cell + size / 2 for k in range(count)]  # noqa: E731
    ax.set_xticks(centres(len(severities)), [str(s) for s in severities], fontsize=9)
    ax.set_yticks(centres(len(names)), [plot.label(n) for n in names], fontsize=9)
    ax.set_xlabel("severity (1 = mildest, 5 = strongest)", fontsize=9)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("Corruptions used: test image 0 of each\ncached corrupted test set",
                 fontsize=10)
    plot.save(figure, path)
    return ("The first test image as each corruption of this run saw it (rows) at each "
            "severity evaluated (columns), read from the run's cached corrupted test sets; "
            "the clean image is not stored in the workdir. Grey cells were not evaluated."), None


FIGURE = plot.Figure("Corruption samples", "corruption_samples.png", draw, needs_methods=False)
