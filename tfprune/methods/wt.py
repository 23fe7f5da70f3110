"""WT, weight thresholding: score |w|, one global threshold over all prunable kernels
(unstructured, data-free)."""
import numpy as np

from tfprune import wrappers
from tfprune.methods import budget


def weight_thresholding(model, target):
    return budget.global_top_k(model, target,
                               [np.abs(k.numpy()) for k in wrappers.prunable_kernels(model)])
