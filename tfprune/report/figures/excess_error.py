"""Excess error against prune ratio, with the study's zero-intercept fit: whether pruning
makes a network more fragile than its parent. The first panel is the study's single
value per network (the test group against the train group); one panel per shifted
distribution follows (each against nominal)."""
import math

import numpy as np
from matplotlib.lines import Line2D

from tfprune.report import plot, reader
from tfprune.results import NOMINAL


STUDY_PANEL = "test vs train group"


def _values(summary, name):
    """(excess error per cycle, slope) of one panel: the study's value, or a distribution's."""
    cycles = reader.cycles(summary)
    if name == STUDY_PANEL:
        return ([reader.number(c.get("excess_error")) for c in cycles],
                reader.number(summary.get("excess_error_slope")))
    return ([reader.number(reader.as_dict(c.get("excess_error_by_distribution")).get(name))
             for c in cycles],
            reader.number(reader.as_dict(summary.get("excess_error_slope_by_distribution"))
                          .get(name)))


def _panel(ax, runs, colours, name):
    """One panel's points and fits; its legend gives each method's slope."""
    ax.axhline(0, color=plot.PARENT_COLOUR, lw=1)
    slopes = {}
    top = 0.0
    for run in runs:
        for method, summary in run.methods.items():
            x = np.array([100 * c["prune_ratio"] for c in reader.cycles(summary)])
            values, slope = _values(summary, name)
            y = 100 * np.array(values, dtype=float)
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
    title = name if name == STUDY_PANEL else plot.label(name)
    plot.finish_axes(ax, title, xlabel=None, ylabel=None)
    ax.set_xlim(0, 100)


def draw(runs, colours, context, path):
    shifted = [d for d in context["distributions"] if d != NOMINAL]
    if not shifted:
        return None, "Excess error needs a distribution besides nominal; this run has none."
    panels = [STUDY_PANEL, *shifted]
    figure, axes, labeller = plot.small_multiples(panels, panel=(3.6, 2.8))
    for ax, name in zip(axes, panels):
        _panel(ax, runs, colours, name)
    labeller(plot.X_LABEL, "excess error (percentage points)")
    figure.suptitle("Excess error vs prune ratio with the zero-intercept linear fit")
    handles = [Line2D([], [], color="black", marker="o", linestyle="none", label="one network"),
               Line2D([], [], color="black", lw=1.4,
                      label="linear fit through 0; 'slope' in each panel: points of excess "
                      "error per 100% pruned")]
    plot.legend(figure, handles + plot.run_handles(runs))
    plot.save(figure, path)
    return ("How much more a shift hurts each pruned network than it hurts the parent "
            "(0 = exactly as much), with the study's linear fit through the origin. The "
            "first panel is the study's excess error (mean error over the test group minus "
            "over the train group, against the parent's); the others take each "
            "distribution against nominal. A "
            "positive slope means pruning makes the network more fragile on that "
            "corruption; each panel's legend gives the slope per method."), None


FIGURE = plot.Figure("Excess error vs prune ratio", "excess_error.png", draw,
                     needs_methods=True)
