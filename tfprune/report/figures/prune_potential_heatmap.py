"""The prune potential of each method on each distribution as a heat map: once for the
Keras networks, once for their exported float32 TFLite files."""
import functools
import math

import matplotlib
import numpy as np

from tfprune.report import plot, reader


def draw(runs, colours, context, path, *, potential, backend):
    """The heat map of potential(method summary) -> {dist: prune potential} or None."""
    run = runs[0]
    distributions = context["distributions"]
    found = {m: potential(run.methods[m]) for m in context["methods"] if m in run.methods}
    found = {m: p for m, p in found.items() if isinstance(p, dict)}
    methods = list(found)
    if not methods or not distributions:
        return None, None
    values = np.array([[100 * reader.number(found[m].get(d)) for d in distributions]
                       for m in methods])
    bounds = [reader.censored(run.methods[m], found[m]) for m in methods]
    lower = np.array([[bool(b.get(d)) for d in distributions] for b in bounds])
    transpose = len(distributions) > 16  # many distributions: one row each
    matrix, lower = (values.T, lower.T) if transpose else (values, lower)
    rows, columns = (distributions, methods) if transpose else (methods, distributions)
    figure = plot.new_figure(max(5.5, 0.95 * len(columns) + 3.0),
                             max(3.2, 0.42 * len(rows) + 2.2))
    ax = figure.subplots()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for (i, j), v in np.ndenumerate(matrix):
        text = "n/a" if math.isnan(v) else "\u2265" * lower[i, j] + f"{v:.0f}%"
        colour = "black" if math.isnan(v) or v > 55 else "white"
        ax.text(j, i, text, ha="center", va="center", color=colour,
                fontsize=11 if len(columns) <= 8 else 9 if len(columns) < 12 else 7)
    ax.set_xticks(range(len(columns)), [plot.label(c) for c in columns], rotation=30,
                  ha="right", fontsize=9)
    ax.set_yticks(range(len(rows)), [plot.label(r) for r in rows], fontsize=9)
    ax.set_xlabel("method" if transpose else "test distribution", fontsize=9)
    ax.set_ylabel("test distribution" if transpose else "method", fontsize=9)
    for label in (ax.get_xticklabels() if transpose else ax.get_yticklabels()):
        label.set_color(colours.get(label.get_text(), "black"))
    bar = figure.colorbar(image, ax=ax, shrink=0.95)
    bar.set_label("prune potential\n(% of parameters removed)", fontsize=9)
    delta = reader.number(run.results.get("delta"))
    figure.suptitle(f"Prune potential ({backend}, \u03b4 = {delta:g} points), run {run.name}")
    plot.save(figure, path)
    return (f"Prune potential of each method on each distribution, {backend} networks: the "
            "largest tested prune ratio whose error is at most \u03b4 above the parent's "
            "error on that distribution (\u2265: the largest tested ratio still passes, a "
            "lower bound). Brighter is better; a row much darker on corrupted "
            "distributions than on nominal means pruning costs robustness first."), None


KERAS = plot.Figure(
    "Prune potential heat map (Keras)", "prune_potential_keras.png",
    functools.partial(draw, potential=lambda s: s.get("prune_potential"), backend="Keras"),
    needs_methods=True)
TFLITE = plot.Figure(
    "Prune potential heat map (TFLite)", "prune_potential_tflite.png",
    functools.partial(draw, potential=lambda s: reader.export_potential(s, "float32"),
                      backend="TFLite float32"),
    needs_methods=True)
