"""Figures over several seeds show the mean and a +- one standard deviation band, as the
study reports its networks (mean +- std over 3 seeds), not the min-max range."""
import json
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")

from tfprune.report import plot, reader  # noqa: E402


def _run(folder, accuracies, style):
    os.makedirs(folder)
    cycles = [dict(index=i, prune_ratio=r, accuracy=dict(nominal=a))
              for i, (r, a) in enumerate(zip((0.3, 0.6, 0.9), accuracies), 1)]
    with open(os.path.join(folder, "results.json"), "w") as stream:
        json.dump(dict(methods=dict(wt=dict(cycles=cycles))), stream)
    return reader.Run(str(folder), os.path.basename(folder), style)


def test_the_band_over_seeds_spans_mean_plus_minus_std(tmp_path):
    seeds = np.array([[0.90, 0.80, 0.50], [0.92, 0.70, 0.40], [0.91, 0.90, 0.30]])
    runs = [_run(tmp_path / f"seed-{s}", seeds[s], ("-", "o")) for s in range(3)]
    figure = plot.new_figure(4, 3)
    ax = figure.subplots()
    assert plot.curves(ax, runs, {"wt": "#1f77b4"}, lambda run, c: c["accuracy"]["nominal"])
    (band,) = ax.collections
    heights = band.get_paths()[0].vertices[:, 1]
    mean, std = 100 * seeds.mean(0), 100 * seeds.std(0)
    np.testing.assert_allclose(sorted(set(np.round(heights, 6))),
                               sorted(set(np.round(np.r_[mean - std, mean + std], 6))))
    assert heights.max() < 100 * seeds.max() - 1e-6  # not the min-max range
