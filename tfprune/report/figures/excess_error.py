"""Excess error against prune ratio per corruption, with the study's zero-intercept fit:
whether pruning makes a network more fragile than its parent."""
import math

import numpy as np
from matplotlib.lines import Line2D

from tfprune.report import plot, reader
from tfprune.results import NOMINAL


def _panel(ax, runs, colours, name):
    """One corruption's points and fits; its legend gives each method's slope."""
    ax.axhline(0, color=plot.PARENT_COLOUR, lw=1)
    slopes = {}
    top = 0.0
    for run in runs:
        for method, summary in run.methods.items():
            cycles = reader.cycles(summary)
            x = np.array([100 * c["prune_ratio"] for c in cycles])
            y = np.array([100 * reader.number(reader.as_dict(c.get("excess_error")).get(name))
                          for c in cycles])
            slope = reader.number(reader.as_dict(summary.get("excess_error_slope")).get(name))
            if not np.isfinite(y).any() and math.isnan(slope):
                continue
            ax.plot(x, y, linestyle="none", marker=run.style[1], color=colours[method],
                    markersize=4.5, alpha=0.85)
            top = max(top, float(np.nanmax(x)) if x.size else 0.0)
            if not math.isnan(slope):
                slopes.setdefault(method, []).append(slope)
                line = np.linspace(0, max(top, 1.0), 2)
                ax.plot(line, slope * line, color=colours[method], linestyle=run.style[0],
                        lw=1.4)
    handles = [Line2D([], [], color=colours[m], lw=1.4,
                      label=f"{m} {100 * np.mean(s):+.1f}"
                      + (f" ({100 * min(s):+.1f} to {100 * max(s):+.1f})" if len(s) > 1
                         else "")) for m, s in slopes.items()]
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="best", frameon=True, framealpha=0.7,
                  handlelength=1.2, title="slope", title_fontsize=7)
    plot.finish_axes(ax, plot.label(name), xlabel=None, ylabel=None)
    ax.set_xlim(0, 100)


def draw(runs, colours, context, path):
    shifted = [d for d in context["distributions"] if d != NOMINAL]
    if not shifted:
        return None, "Excess error needs a distribution besides nominal; this run has none."
    figure, axes, labeller = plot.small_multiples(shifted, panel=(3.6, 2.8))
    for ax, name in zip(axes, shifted):
        _panel(ax, runs, colours, name)
    labeller(plot.X_LABEL, "excess error (percentage points)")
    figure.suptitle("Excess error vs prune ratio with the zero-intercept linear fit")
    handles = [Line2D([], [], color="black", marker="o", linestyle="none", label="one network"),
               Line2D([], [], color="black", lw=1.4,
                      label="linear fit through 0; 'slope' in each panel: points of excess "
                      "error per 100% pruned")]
    plot.legend(figure, handles + plot.run_handles(runs))
    plot.save(figure, path)
    return ("How much more a corruption hurts each pruned network than it hurts the parent "
            "(0 = exactly as much), with the study's linear fit through the origin. A "
            "positive slope means pruning makes the network more fragile on that "
            "corruption; each panel's legend gives the slope per method."), None


FIGURE = plot.Figure("Excess error vs prune ratio", "excess_error.png", draw,
                     needs_methods=True)
