"""Pruning methods by name: the study's four, one file each, and their registry.

  wt    weight thresholding (unstructured, data-free)
  sipp  sensitivity-informed provable pruning (unstructured, data-informed)
  ft    filter thresholding (structured, data-free)
  pfp   provable filter pruning (structured, data-informed)

A new method is a module here and one `register(Method(...))` line below; its
declaration (tfprune.methods.registry) tells the config schema, the cascade, the export
and the report everything they need.
"""
from tfprune.methods import budget, ft, pfp, sipp, wt  # noqa: F401  (methods.budget)
from tfprune.methods.registry import (CHANNEL_MULTIPLE, REGISTRY, Knob, Method, get, knobs,
                                      register, structured_names)

__all__ = ["REGISTRY", "Knob", "Method", "get", "knobs", "register", "structured_names"]

register(Method("wt", wt.weight_thresholding, structured=False, needs_data=False,
                colour="#1f77b4", summary="|w|, one global threshold"))
register(Method("sipp", sipp.sipp, structured=False, needs_data=True, colour="#d62728",
                summary="global top-k of SiPP sensitivities"))
register(Method("ft", ft.filter_thresholding, structured=True, needs_data=False,
                colour="#2ca02c", knobs=(CHANNEL_MULTIPLE,),
                summary="L1 norm of filters, the same fraction kept per layer"))
register(Method("pfp", pfp.provable_filter_pruning, structured=True, needs_data=True,
                colour="#9467bd", knobs=(CHANNEL_MULTIPLE,),
                summary="input channels by sensitivity, per-layer budgets from one epsilon"))
