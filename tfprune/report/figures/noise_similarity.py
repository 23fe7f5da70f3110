"""Agreement with the parent under growing input noise, and the prune potential it
implies: whether a pruned network still computes the parent's function, measured
against a separately trained network."""
import numpy as np
from matplotlib import colors as mcolors

from tfprune.report import plot, reader

EPS_LABEL = "noise radius \u03b5 (L\u221e, normalised input units)"


def _agreement_panel(ax, main, colours, method, noise, reference_line):
    """A method's agreement per cycle (lighter = less pruned), or only the reference's."""
    if method is not None:
        ratios = [100 * c["prune_ratio"] for c in reader.cycles(main.methods[method])]
        count = noise["agreement"].shape[1]
        for k in range(count):
            shade = 0.35 + 0.65 * (k + 1) / count
            colour = tuple(1 - shade * (1 - c) for c in mcolors.to_rgb(colours[method]))
            label = (f"{ratios[k]:.0f}% pruned" if k < len(ratios) else f"cycle {k + 1}") \
                if k in (0, count - 1) else None
            ax.plot(noise["eps"], 100 * noise["agreement"][:, k], color=colour, lw=1.4,
                    marker="o", markersize=3, label=label)
    if reference_line is not None:
        ax.plot(*reference_line, color="black", linestyle="--", lw=1.6,
                label="separately trained network")
    plot.finish_axes(ax, f"{method or 'reference'}: agreement with the parent",
                     xlabel=EPS_LABEL, ylabel="top-1 agreement with parent (%)")
    ax.legend(fontsize=8, title="lighter = less pruned" if method else None, title_fontsize=8)


def draw(runs, colours, context, path):
    main = runs[0]
    reference = reader.noise(reader.as_dict(main.results.get("reference")))
    by_method = {m: reader.noise(s) for m, s in main.methods.items()}
    by_method = {m: n for m, n in by_method.items() if n is not None}
    if not by_method and reference is None:
        return None, ("Noise similarity (agreement with the parent under input noise): not "
                      "measured in this run.")
    with_agreement = [m for m, n in by_method.items() if n["agreement"] is not None]
    potential_runs = [(run, m, n) for run in runs for m, n in
                      ((m, reader.noise(s)) for m, s in run.methods.items())
                      if n is not None and n["prune_potential"] is not None]
    count = len(with_agreement) + (1 if potential_runs else 0)
    if reference is not None and not with_agreement:
        count += 1
    figure = plot.new_figure(min(5.0 * max(count, 1), 16), 4.6)
    axes = list(plot.panels(figure, max(count, 1), min(max(count, 1), 3)))
    reference_line = None
    if reference is not None and reference["agreement"] is not None:
        reference_line = (reference["eps"], 100 * np.nanmean(reference["agreement"], axis=1))
    for method in with_agreement or ([None] if reference_line else []):
        _agreement_panel(axes.pop(0), main, colours, method, by_method.get(method),
                         reference_line)
    if potential_runs:
        ax = axes.pop(0)
        for run, method, noise in potential_runs:
            ax.plot(noise["eps"], 100 * noise["prune_potential"], color=colours[method],
                    linestyle=run.style[0], marker=run.style[1], markersize=4,
                    label=method if len(runs) == 1 else f"{method}, run {run.name}")
        ax.set_ylim(-3, 103)
        plot.finish_axes(ax, "noise prune potential", xlabel=EPS_LABEL, ylabel=plot.PP_LABEL)
        ax.legend(fontsize=8)
    figure.suptitle("Functional similarity to the parent under uniform input noise")
    plot.save(figure, path)
    return ("Left: the fraction of noisy inputs on which each pruned network predicts the "
            "parent's label, as the noise grows (darker = more pruned); the dashed line is a "
            "separately trained network, the study's yardstick for 'different'. Right: prune "
            "potential as a function of the noise radius."), None


FIGURE = plot.Figure("Noise similarity", "noise_similarity.png", draw, needs_methods=False)
