"""Accuracy against prune ratio, one panel per group of distributions: how far each
method prunes before it leaves the parent's band."""
import math

from tfprune.report import plot, reader


def draw(runs, colours, context, path):
    main = runs[0]
    groups = context["groups"]
    if not groups:
        return None, "No distributions in results.json: no accuracy to plot."
    delta = reader.number(main.results.get("delta"))
    figure = plot.new_figure(min(5.2 * len(groups), 16), 4.6)
    axes = plot.panels(figure, len(groups), min(len(groups), 3))
    spread = reference = False
    for ax, (group, members) in zip(axes, groups.items()):
        parent = lambda run, m=members: reader.mean(  # noqa: E731
            reader.as_dict(reader.as_dict(run.results.get("parent")).get("accuracy")), m)
        plot.parent_band(ax, runs, parent, None if math.isnan(delta) else delta)
        reference |= plot.reference_line(
            ax, main, lambda r, m=members: reader.mean(r.get("accuracy"), m))
        spread |= plot.curves(ax, runs, colours,
                              lambda run, cycle, m=members: reader.mean(cycle.get("accuracy"), m))
        plot.finish_axes(ax, plot.group_title(group, members))
    figure.suptitle("Test accuracy (Keras) vs prune ratio, by distribution group")
    plot.legend(figure, plot.legend_handles(runs, colours, context["methods"], delta=delta,
                                            spread=spread) + [plot.REFERENCE_HANDLE] * reference)
    plot.save(figure, path)
    return ("Accuracy of each pruned network against how much of the parent was removed, one "
            "panel per group of distributions (a group shows the mean over its members). The "
            "grey line is the parent; the grey band spans \u03b4 below it: a network inside "
            "or above the band counts towards the prune potential. Curves that fall away "
            "early mean the method cannot prune far without losing accuracy."), None


FIGURE = plot.Figure("Accuracy vs prune ratio, by group", "accuracy_groups.png", draw,
                     needs_methods=True)
