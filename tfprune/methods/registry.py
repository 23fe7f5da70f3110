"""What the rest of tfprune knows about a pruning method: its declaration.

A method turns a network and a keep budget into kernel masks, or leaves them to
TF-MOT's own magnitude pruning (`masks`: how they come about in a cycle's retraining).
Its declaration says whether it removes whole filters or channels (structured: its
networks are shrunk physically on export), whether it scores with data (then it
receives the scoring images), its knobs (config keys `prune.<knob>`, with defaults and
ranges that config validation reads), what its cycles' records check, and its plot
colour. The cascade, the config schema, the export and the report take all of that
from here, so adding a method is one file and one `register` line
(tfprune/methods/__init__.py).
"""
import dataclasses
import functools
import math
from typing import Callable

from tfprune import structure
from tfprune.methods import budget


@dataclasses.dataclass(frozen=True)
class Knob:
    """A config key `prune.<name>` of one or more methods; its type is the default's."""
    name: str
    default: float
    low: float
    high: float = math.inf
    doc: str = ""


# Structured methods keep a multiple of this many filters / input channels per layer (or
# all), so that a shrunk network saves whole SIMD tiles of output channels (XNNPACK
# computes 8 or 16 at a time; 3 kept filters cost as much as 8). 1 = the study's methods.
CHANNEL_MULTIPLE = Knob("channel_multiple", 1, 1, doc="filters/channels kept per layer: a "
                        "multiple of this (8 or 16 for XNNPACK's tiles); 1 = the study's")
# The prune keys every method is bound with, and their defaults (the config schema's;
# tfprune.config documents them).
RULE_DEFAULTS = dict(dead_weights="graph", budget_tolerance=0.0)
# How a method's masks come about in a cycle's retraining (Method.masks), and what its
# `prune` is then:
# - ASSIGNED: the method chooses them when retraining begins and TF-MOT's one-shot
#   schedule keeps them fixed; prune(model, target[, scoring_images], **knobs) -> Pruned.
# - GRADUAL: TF-MOT's per-layer magnitude ranking, pruning during retraining on a
#   schedule; prune(initial_sparsity, final_sparsity, steps, **knobs) -> PruningSchedule.
# - M_BY_N: TF-MOT's m-by-n structured sparsity, once; prune(model) -> the options of
#   tfprune.wrappers.wrap: the layers it covers (the others stay dense), (m, n).
ASSIGNED, GRADUAL, M_BY_N = "assigned", "gradual", "m_by_n"


def _setting(prune_config, name, default):
    return default if prune_config is None or name not in prune_config else prune_config[name]


@dataclasses.dataclass(frozen=True)
class Method:
    """`prune(model, target[, scoring_images], **knobs) -> budget.Pruned`: masks meeting a
    budget.Target; `scoring_images` (the scoring batch S) only when `needs_data`. A method
    whose masks TF-MOT makes (`masks` GRADUAL or M_BY_N) has the `prune` its kind says."""
    name: str
    prune: Callable
    structured: bool
    needs_data: bool
    colour: str
    knobs: tuple = ()
    summary: str = ""
    masks: str = ASSIGNED
    # check(model, tflite_content) -> what each cycle's record holds under the method's
    # name: a property of its stripped network and float32 TFLite file, verified; its
    # `verdict` (one line) ends the cycle's log line
    check: Callable = None

    def knob_values(self, prune_config=None):
        """{knob: value} from `prune_config` (a config's `prune` section, or a dict of some
        keys; the rest take their defaults)."""
        return {k.name: _setting(prune_config, k.name, k.default) for k in self.knobs}

    def bind(self, prune_config=None):
        """prune(model, keep_count, images=None, labels=None) -> budget.Pruned, with the
        knobs, dead-weight rule and budget tolerance of `prune_config` (as knob_values).

        `images` and `labels` are the set the scoring batch S is cut from
        (budget.scoring_batch): the data-informed methods score on it, the zero_gradient
        rule takes its gradients on the same S (so it needs the labels too).

        A method whose masks TF-MOT makes: its `prune` with the knobs of `prune_config`."""
        values = self.knob_values(prune_config)
        if self.masks != ASSIGNED:
            return functools.partial(self.prune, **values)
        rule, tolerance = (_setting(prune_config, name, default)
                           for name, default in RULE_DEFAULTS.items())

        def prune(model, keep_count, images=None, labels=None):
            batch, batch_labels = (None, None) if images is None else budget.scoring_batch(
                model, images, labels)
            target = budget.Target(keep_count, structure.DEAD_WEIGHT_RULES[rule](
                model, batch, batch_labels, self.structured), tolerance)
            data = dict(scoring_images=batch) if self.needs_data else {}
            return self.prune(model, target, **data, **values)

        return prune

    def declaration(self, prune_config=None):
        """What results.json records of the method: kind, masks, data, colour, knob values."""
        return dict(structured=self.structured, needs_data=self.needs_data, masks=self.masks,
                    colour=self.colour, knobs=self.knob_values(prune_config))


REGISTRY = {}


def register(method):
    """Add `method` to the registry; a name may be registered once."""
    if method.name in REGISTRY:
        raise ValueError(f"a pruning method named {method.name!r} is registered already")
    REGISTRY[method.name] = method
    return method


def get(name):
    return REGISTRY[name]


def structured_names():
    return [name for name, method in REGISTRY.items() if method.structured]


def assigned_names():
    """The methods that choose their masks themselves (the budget search's), not TF-MOT."""
    return [name for name, method in REGISTRY.items() if method.masks == ASSIGNED]


def knobs():
    """{name: Knob} of every registered method; methods sharing a knob declare it alike."""
    found = {}
    for method in REGISTRY.values():
        for knob in method.knobs:
            if found.setdefault(knob.name, knob) != knob:
                raise ValueError(f"methods declare the knob prune.{knob.name} differently")
    return found
