"""The Keras prune potential beside that of every exported variant: whether export
changes how far a method can prune."""
import math

import numpy as np
from matplotlib.patches import Patch

from tfprune.report import plot, reader

HATCHES = ("", "//", "..", "xx", "\\\\", "++")


def draw(runs, colours, context, path):
    main = runs[0]
    distributions = context["distributions"]
    methods = [m for m in context["methods"]
               if m in main.methods and reader.variants(main.methods[m])]
    if not methods:
        return None, ("Keras vs TFLite: no exported variant has a prune potential in this run "
                      "(TFLite export off, or not finished for every cycle).")
    variants = []
    for method in methods:
        variants += [v for v in reader.variants(main.methods[method]) if v not in variants]
    bars = [None] + variants  # None: Keras
    width = 0.8 / len(bars)
    figure = plot.new_figure(max(7.0, 0.45 * len(distributions) * len(bars) + 2.5),
                             2.6 * len(methods) + 1.4)
    axes = plot.panels(figure, len(methods), 1)
    for ax, method in zip(axes, methods):
        summary = main.methods[method]
        potentials = {None: reader.as_dict(summary.get("prune_potential")),
                      **reader.variants(summary)}
        keras = np.array([100 * reader.number(potentials[None].get(d)) for d in distributions])
        gaps = []
        for k, bar in enumerate(bars):
            values = np.array([100 * reader.number(reader.as_dict(potentials.get(bar)).get(d))
                               for d in distributions])
            if k:
                difference = np.abs(values - keras)[np.isfinite(values - keras)]
                gaps.append(f"{plot.variant_label(bar)} "
                            + (f"{difference.max():.1f}" if difference.size else "n/a"))
            drawn = ax.bar(np.arange(len(distributions)) + (k - (len(bars) - 1) / 2) * width,
                           np.nan_to_num(values), width, color=colours[method],
                           alpha=1.0 if k == 0 else 0.45, hatch=HATCHES[k % len(HATCHES)],
                           edgecolor="black", lw=0.6)
            if len(distributions) * len(bars) <= 40:  # few bars: print their values
                lower = reader.censored(summary, potentials.get(bar))
                ax.bar_label(drawn, ["n/a" if math.isnan(v) else "\u2265" * bool(lower.get(d))
                                     + f"{v:.0f}" for d, v in zip(distributions, values)],
                             fontsize=7, padding=1)
        ax.set_xticks(range(len(distributions)), [plot.label(d) for d in distributions],
                      rotation=30, ha="right")
        ax.set_ylim(0, 110)
        plot.finish_axes(ax, f"{method}: largest difference from Keras: {', '.join(gaps)} points",
                         xlabel=None, ylabel="prune potential\n(% of parameters removed)")
    axes[-1].set_xlabel("test distribution", fontsize=9)
    figure.suptitle(f"Prune potential: Keras vs exported variants, run {main.name}")
    plot.legend(figure, [Patch(facecolor="0.5", alpha=1.0 if k == 0 else 0.45,
                               hatch=HATCHES[k % len(HATCHES)], edgecolor="black",
                               label="Keras" if bar is None
                               else f"{plot.variant_label(bar)} (exported)")
                         for k, bar in enumerate(bars)])
    plot.save(figure, path)
    return ("Prune potential of the Keras networks (solid) beside the same networks exported "
            "(hatched), per distribution. Equal bars mean export does not change how far the "
            "method can prune; each panel title gives the largest difference per variant."), None


FIGURE = plot.Figure("Keras vs TFLite prune potential", "keras_vs_tflite.png", draw,
                     needs_methods=True)
