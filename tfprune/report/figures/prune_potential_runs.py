"""The Keras prune potential of every compared run side by side: how much it depends on
the seed or the config."""
import numpy as np
from matplotlib.lines import Line2D

from tfprune.report import plot, reader


def draw(runs, colours, context, path):
    distributions = context["distributions"]
    methods = context["methods"]
    if len(runs) < 2 or not methods or not distributions:
        return None, None
    width = 0.8 / len(methods)
    figure = plot.new_figure(
        max(7.0, 0.75 * len(distributions) * max(1, len(methods) / 2) + 2.5), 4.8)
    ax = figure.subplots()
    for k, method in enumerate(methods):
        offset = (k - (len(methods) - 1) / 2) * width
        per_run = []
        for r, run in enumerate(runs):
            potential = reader.as_dict(run.methods.get(method, {}).get("prune_potential"))
            values = np.array([100 * reader.number(potential.get(d)) for d in distributions])
            if not np.isfinite(values).any():
                continue
            per_run.append(values)
            jitter = (r - (len(runs) - 1) / 2) * width / (len(runs) + 2)  # markers side by side
            ax.plot(np.arange(len(distributions)) + offset + jitter, values, linestyle="none",
                    marker=run.style[1], color=colours[method], markersize=6,
                    markerfacecolor="none" if run is not runs[0] else colours[method])
        if len(per_run) >= 2:
            stack = np.array(per_run)
            with np.errstate(all="ignore"):
                mean, std = np.nanmean(stack, 0), np.nanstd(stack, 0)
            x = np.arange(len(distributions)) + offset
            ax.vlines(x, mean - std, mean + std, color=colours[method], lw=2, alpha=0.5)
            ax.hlines(mean, x - width / 2.5, x + width / 2.5, color=colours[method], lw=2.5)
    ax.set_xticks(range(len(distributions)), [plot.label(d) for d in distributions],
                  rotation=30, ha="right")
    ax.set_ylim(-3, 103)
    plot.finish_axes(ax, "", xlabel="test distribution", ylabel=plot.PP_LABEL)
    figure.suptitle("Prune potential (Keras) of every compared run")
    handles = [Line2D([], [], color=colours[m], lw=2.5, label=f"{m}: mean (bar) \u00b1 std "
                      "(line)") for m in methods]
    handles += [Line2D([], [], color="black", linestyle="none", marker=r.style[1],
                       markerfacecolor="black" if r is runs[0] else "none",
                       label=f"run {r.name}") for r in runs]
    plot.legend(figure, handles)
    plot.save(figure, path)
    return ("Prune potential per distribution of each run (marker per run, filled for this "
            "run); where several runs share a method, the short horizontal bar is their mean "
            "and the vertical line spans \u00b1 one standard deviation. A long line means the "
            "potential depends on the seed."), None


FIGURE = plot.Figure("Prune potential of the compared runs", "prune_potential_runs.png", draw,
                     needs_methods=True)
