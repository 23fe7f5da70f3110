"""TF-MOT pruning wrappers whose masks a pruning method chooses for the whole network.

TF-MOT's `Pruning` picks each layer's mask by its own magnitude ranking. The study's
methods choose masks across all layers at once (one global threshold, or per-layer
budgets from a global knob) and by scores other than |w|. So the method writes its
masks into an "assigned mask" variable of each wrapper, and `AssignedMaskPruning`
overrides only the mask update, to install them. Everything else stays TF-MOT's: the
`PruningSchedule` decides when masks are installed, `UpdatePruningStep` advances the
step, `PruningSummaries` logs masks and thresholds, `strip_pruning` unwraps.

Methods whose masks TF-MOT makes itself (gradual magnitude pruning, m-by-n sparsity)
are wrapped in TF-MOT's own `PruneLowMagnitude` (MAGNITUDE); the helpers below read
both kinds of wrapper.
"""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

PRUNABLE_LAYERS = (tf.keras.layers.Conv2D, tf.keras.layers.Dense)
MAGNITUDE = pruning_wrapper.PruneLowMagnitude  # TF-MOT's wrapper: its own per-layer masks


class AssignedMaskPruning(pruning_impl.Pruning):
    """TF-MOT's Pruning, with the mask update taken from the method's assigned masks."""

    def __init__(self, assigned_vars, **kwargs):
        super().__init__(**kwargs)
        self._assigned = {weight.ref(): (mask, threshold)
                          for weight, mask, threshold in assigned_vars}

    def _update_mask(self, weights):
        mask, threshold = self._assigned[weights.ref()]
        return tf.identity(threshold), tf.identity(mask)


class PruneWithAssignedMask(pruning_wrapper.PruneLowMagnitude):
    """`PruneLowMagnitude` whose masks come from `assign_masks` instead of magnitudes."""

    def build(self, input_shape):
        super().build(input_shape)
        self.assigned_vars = []
        for weight, _, _ in self.pruning_vars:
            mask = self.add_weight("assigned_mask", shape=weight.shape, initializer="ones",
                                   dtype=weight.dtype, trainable=False,
                                   aggregation=tf.VariableAggregation.MEAN)
            threshold = self.add_weight("assigned_threshold", shape=[], initializer="zeros",
                                        dtype=weight.dtype, trainable=False,
                                        aggregation=tf.VariableAggregation.MEAN)
            self.assigned_vars.append((weight, mask, threshold))
        self.pruning_obj = AssignedMaskPruning(
            self.assigned_vars, training_step_fn=lambda: self.pruning_step,
            pruning_vars=self.pruning_vars, pruning_schedule=self.pruning_schedule,
            block_size=self.block_size, block_pooling_type=self.block_pooling_type)


def one_shot_schedule(sparsity):
    """Install the assigned masks once, at the first training step, then keep them fixed."""
    return tfmot.sparsity.keras.ConstantSparsity(
        float(sparsity), begin_step=1, end_step=1, frequency=1)


def wrap(model, schedule, wrapper=PruneWithAssignedMask, covered=None, **options):
    """A model whose Conv2D and Dense layers (those named in `covered`, when given) are
    wrapped in `wrapper` with `options` (MAGNITUDE: e.g. sparsity_m_by_n); it shares
    weights with `model`."""
    def clone(layer):
        if isinstance(layer, PRUNABLE_LAYERS) and (covered is None or layer.name in covered):
            # under the layer's policy: no extra casts
            return wrapper(layer, pruning_schedule=schedule, dtype=layer.dtype_policy.name,
                           **options)
        return layer
    return tf.keras.models.clone_model(model, clone_function=clone)


def wrappers_of(model):
    return [layer for layer in model.layers if isinstance(layer, MAGNITUDE)]


def install_first_masks(model):
    """Install and apply now the masks TF-MOT's own wrappers make at their first training
    step (m-by-n's only masks), so that they are chosen on the weights retraining starts
    from and the network is pruned before any step; the wrappers then count step 1 done."""
    for layer in wrappers_of(model):
        layer.pruning_step.assign(1)
        layer.pruning_obj.conditional_mask_update()
        layer.pruning_obj.weight_mask_op()


def assign_masks(model, masks, thresholds):
    """Give each wrapper its mask (kernel order of `wrappers_of`) and apply it now.

    Applying at once makes the network pruned before any training step; the schedule
    re-installs the same masks at step 1 and they stay fixed through retraining.
    """
    for layer, mask, threshold in zip(wrappers_of(model), masks, thresholds):
        (weight, assigned_mask, assigned_threshold), = layer.assigned_vars
        _, tfmot_mask, tfmot_threshold = layer.pruning_vars[0]
        mask = np.asarray(mask, dtype=weight.dtype.as_numpy_dtype)
        for variable, value in ((assigned_mask, mask), (tfmot_mask, mask),
                                (assigned_threshold, threshold), (tfmot_threshold, threshold)):
            variable.assign(value)
        weight.assign(weight * mask)


def strip(model):
    """The plain tf.keras model, with every kernel multiplied by its mask."""
    for layer in wrappers_of(model):
        layer.pruning_obj.weight_mask_op()
    return tfmot.sparsity.keras.strip_pruning(model)


def prunable_nodes(model):
    """The model's own layers that hold a Conv2D or Dense (the wrapper where wrapped)."""
    return [layer for layer in model.layers if isinstance(layer, PRUNABLE_LAYERS + (MAGNITUDE,))]


def unwrap(layer):
    """The layer inside a pruning wrapper, or the layer itself."""
    return layer.layer if isinstance(layer, MAGNITUDE) else layer


def prunable_layers(model):
    """The Conv2D and Dense layers of a model, wrapped or not, in graph order."""
    return [unwrap(layer) for layer in prunable_nodes(model)]


def prunable_kernels(model):
    return [layer.kernel for layer in prunable_layers(model)]


def prunable_count(model):
    """The number of prunable (Conv2D and Dense kernel) weights."""
    return sum(int(np.prod(kernel.shape)) for kernel in prunable_kernels(model))
