"""SiPP, sensitivity-informed provable pruning: global top-k of the weights'
sensitivities on the scoring batch (unstructured, data-informed; tfprune.sensitivity)."""
from tfprune import sensitivity, wrappers
from tfprune.methods import budget


def sipp(model, target, scoring_images):
    layers = wrappers.prunable_layers(model)
    activations = sensitivity.layer_inputs(model, scoring_images)
    scores = [sensitivity.sipp_scores(layer, layer.kernel.numpy(), a)
              for layer, a in zip(layers, activations)]
    return budget.global_top_k(model, target, scores)
