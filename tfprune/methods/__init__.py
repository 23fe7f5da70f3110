"""Pruning methods by name: the study's four and TF-MOT's two, one file each, and their
registry.

  wt    weight thresholding (unstructured, data-free)
  sipp  sensitivity-informed provable pruning (unstructured, data-informed)
  ft    filter thresholding (structured, data-free)
  pfp   provable filter pruning (structured, data-informed)
  gmp     TF-MOT's gradual magnitude pruning during retraining (unstructured, per layer)
  m_by_n  TF-MOT's 2:4 sparsity (semi-structured: 2 of every 4 input weights), once

A new method is a module here and one `register(Method(...))` line below; its
declaration (tfprune.methods.registry) tells the config schema, the cascade, the export
and the report everything they need.
"""
from tfprune.methods import budget, ft, gmp, m_by_n, pfp, sipp, wt  # noqa: F401  (budget)
from tfprune.methods.registry import (ASSIGNED, CHANNEL_MULTIPLE, GRADUAL, M_BY_N, REGISTRY,
                                      Knob, Method, assigned_names, get, knobs, register,
                                      structured_names)

__all__ = ["ASSIGNED", "GRADUAL", "M_BY_N", "REGISTRY", "Knob", "Method", "assigned_names",
           "get", "knobs", "register", "structured_names"]

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
register(Method("gmp", gmp.schedule, structured=False, needs_data=False, colour="#ff7f0e",
                knobs=(gmp.END, gmp.FREQUENCY), masks=GRADUAL,
                summary="TF-MOT's |w| per layer, sparsity rising on PolynomialDecay"))
register(Method("m_by_n", m_by_n.wrapping, structured=False, needs_data=False,
                colour="#8c564b", masks=M_BY_N, check=m_by_n.check,
                summary="TF-MOT's 2:4: the 2 smallest |w| of every 4 input weights"))
