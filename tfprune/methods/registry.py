"""What the rest of tfprune knows about a pruning method: its declaration.

A method turns a network and a keep budget into kernel masks. Its declaration says
whether it removes whole filters or channels (structured: its networks are shrunk
physically on export), whether it scores with data (then it receives the scoring
images), its knobs (config keys `prune.<knob>`, with defaults and ranges that config
validation reads), and its plot colour. The cascade, the config schema, the export and
the report take all of that from here, so adding a method is one file and one
`register` line (tfprune/methods/__init__.py).
"""
import dataclasses
import math
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Knob:
    """A config key `prune.<name>` of one or more methods; its type is the default's."""
    name: str
    default: float
    low: float
    high: float = math.inf
    doc: str = ""


@dataclasses.dataclass(frozen=True)
class Method:
    """`prune(model, keep_count[, scoring_images], **knobs) -> (masks, thresholds)`: one
    0/1 mask per prunable kernel (tfprune.wrappers order) and a score threshold per
    layer, for TF-MOT's summaries; `scoring_images` only when `needs_data`."""
    name: str
    prune: Callable
    structured: bool
    needs_data: bool
    colour: str
    knobs: tuple = ()
    summary: str = ""

    def knob_values(self, prune_config=None):
        """{knob: value} from `prune_config` (a config's `prune` section; None: defaults)."""
        return {k.name: k.default if prune_config is None else prune_config[k.name]
                for k in self.knobs}

    def bind(self, prune_config=None):
        """method(model, keep_count, scoring_images) with the knobs of `prune_config`."""
        values = self.knob_values(prune_config)

        def masks(model, keep_count, scoring_images):
            data = dict(scoring_images=scoring_images) if self.needs_data else {}
            return self.prune(model, keep_count, **data, **values)

        return masks

    def declaration(self, prune_config=None):
        """What results.json records of the method: kind, data, colour, knob values."""
        return dict(structured=self.structured, needs_data=self.needs_data,
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


def knobs():
    """{name: Knob} of every registered method; methods sharing a knob declare it alike."""
    found = {}
    for method in REGISTRY.values():
        for knob in method.knobs:
            if found.setdefault(knob.name, knob) != knob:
                raise ValueError(f"methods declare the knob prune.{knob.name} differently")
    return found
