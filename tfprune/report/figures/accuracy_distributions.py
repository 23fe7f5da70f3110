"""Accuracy against prune ratio, one panel per distribution: which corruptions cost a
method its prune potential first."""
import math

from tfprune.report import plot, reader


def draw(runs, colours, context, path):
    distributions = context["distributions"]
    if not distributions:
        return None, "No distributions in results.json."
    delta = reader.number(runs[0].results.get("delta"))
    figure, axes, labeller = plot.small_multiples(distributions)
    spread = reference = False
    for ax, name in zip(axes, distributions):
        parent = lambda run, n=name: reader.number(  # noqa: E731
            reader.as_dict(reader.as_dict(run.results.get("parent")).get("accuracy")).get(n))
        plot.parent_band(ax, runs, parent, None if math.isnan(delta) else delta)
        reference |= plot.reference_line(
            ax, runs[0], lambda r, n=name: reader.number(reader.as_dict(r.get("accuracy")).get(n)))
        spread |= plot.curves(
            ax, runs, colours,
            lambda run, cycle, n=name: reader.number(reader.as_dict(cycle.get("accuracy")).get(n)))
        plot.finish_axes(ax, plot.label(name), xlabel=None, ylabel=None)
    labeller(plot.X_LABEL, "accuracy (%)")
    figure.suptitle("Test accuracy (Keras) vs prune ratio, one panel per distribution")
    plot.legend(figure, plot.legend_handles(runs, colours, context["methods"], delta=delta,
                                            spread=spread) + [plot.REFERENCE_HANDLE] * reference)
    plot.save(figure, path)
    return ("The same curves for every distribution on its own (each panel has its own "
            "accuracy scale). Compare how far each curve stays in the parent's band: "
            "distributions where it leaves the band at a lower prune ratio have a lower "
            "prune potential."), None


FIGURE = plot.Figure("Accuracy vs prune ratio, per distribution", "accuracy_distributions.png",
                     draw, needs_methods=True)
