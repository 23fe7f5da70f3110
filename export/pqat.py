"""Pruning-preserving quantization-aware training (PQAT): the network of the pqat_int8 variant.

Post-training int8 (the `int8` variant) rounds a trained network once. PQAT fine-tunes
the network with int8 rounding simulated (TF-MOT's quantize_apply under
Default8BitPrunePreserveQuantizeScheme) for export.pqat_epochs at export.pqat_lr, so it
learns around the rounding; the scheme's weight quantizers multiply every kernel by
its mask of non-zero weights, taken when quantize_apply wraps the network, so the zeros
of its pruning pattern stay zeros. It retrains as the run's cycles do (tfprune.train:
the run's batches, augmentation, optimizer and seed), at a constant learning rate.

What TF-MOT 0.8.1 quantizes: Conv2D, DepthwiseConv2D and Dense (prune-preserving weight
quantizers), ReLU, Add, pooling, ZeroPadding2D, Permute, Reshape, Concatenate; a
BatchNormalization after a Conv2D or Dense is taken into its layer by the scheme's layout
transforms (the converter folds it into the kernel, which keeps the zeros). Layers it
does not support (the models' Normalization layer, a BatchNormalization that follows no
convolution or shares its output, as in DenseNet and pre-activation blocks, a Lambda)
are annotated to quantize only their output: they train in float and the converter
quantizes them on the calibration images, as post-training int8 does.

The fine-tuned weights are stored with what they were derived from (the checkpoint, the
export.pqat_* keys), so a rerun converts without fine-tuning again; a changed checkpoint
or key fine-tunes anew (a few epochs, cheap enough to redo, so no backup is kept).
"""
import dataclasses
import json

import numpy as np
from ai_edge_litert import interpreter as litert

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
    default_8bit_quantize_configs)

from tfprune import errors, evaluate, storage, train

# The layers whose kernels hold a pruning pattern, their TFLite weight ops, and how a
# Keras kernel is laid out in the file: Conv2D HWIO -> OHWI, depthwise HWC1 -> 1HWC,
# Dense (in, out) -> (out, in).
_KERNEL_LAYOUTS = {
    tf.keras.layers.Conv2D: ("CONV_2D", lambda kernel: kernel.transpose(3, 0, 1, 2)),
    tf.keras.layers.DepthwiseConv2D: ("DEPTHWISE_CONV_2D",
                                      lambda kernel: kernel.reshape(1, *kernel.shape[:2], -1)),
    tf.keras.layers.Dense: ("FULLY_CONNECTED", lambda kernel: kernel.T),
}
# Layers whose BatchNormalization the layout transforms take in, when it is their sole reader.
_FOLDS_BATCH_NORM = (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D,
                     tf.keras.layers.Dense)
_WEIGHT_KEY = "weight:"  # stored weight arrays: weight:0000, ...; history:<metric> beside


@dataclasses.dataclass(frozen=True)
class Training:
    """What PQAT fine-tunes on and how: the run's data set (tfprune.data.Dataset) and
    its config (train.*, data.* as its cycles retrain; export.pqat_* for PQAT)."""
    dataset: object
    config: object


def _annotated(layer):
    """`layer` marked for quantize_apply: whole where TF-MOT's registry supports it (or
    its layout transforms take it in), else its output alone (it trains in float). The
    layer is a fresh copy: the network it came from stays as it is."""
    quantize = tfmot.quantization.keras
    registry = quantize.default_8bit.Default8BitQuantizeRegistry()
    copy = layer.__class__.from_config(layer.get_config())
    if registry.supports(layer) or (isinstance(layer, tf.keras.layers.BatchNormalization)
                                    and _sole_reader(layer, _FOLDS_BATCH_NORM)):
        return quantize.quantize_annotate_layer(copy)
    return quantize.quantize_annotate_layer(
        copy, default_8bit_quantize_configs.Default8BitOutputQuantizeConfig())


def _sole_reader(layer, kinds):
    """Whether `layer` has one input, made by a layer of `kinds` that nothing else reads
    (the layout transforms' pattern; DenseNet's convolutions feed a concatenation too)."""
    nodes = layer._inbound_nodes  # pylint: disable=protected-access
    inbound = tf.nest.flatten(nodes[0].inbound_layers) if len(nodes) == 1 else []
    return (len(inbound) == 1 and isinstance(inbound[0], kinds)
            and len(inbound[0]._outbound_nodes) == 1)  # pylint: disable=protected-access


def quantization_aware(model):
    """The quantization-aware copy of a plain Keras model under the prune-preserving
    scheme (its weights copied, its zeros masked); a layer TF-MOT cannot wrap is
    refused in one line."""
    quantize = tfmot.quantization.keras
    # Layer names as in a fresh process, so that a file converted again is the same bytes.
    tf.keras.backend.reset_uids()
    try:
        with quantize.quantize_scope():
            annotated = tf.keras.models.clone_model(model, clone_function=_annotated)
            annotated.set_weights(model.get_weights())
            return quantize.quantize_apply(
                annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
    except (ValueError, TypeError, RuntimeError) as error:
        cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise errors.ConfigError(
            f"pqat_int8: TF-MOT cannot make {model.name} quantization-aware ({cause}); "
            "drop pqat_int8 from export.variants (int8 quantizes it after training)") from error


class FineTuned:
    """The PQAT network of one exported network, fine-tuned at most once: its weights are
    stored at `path` with what they were derived from (the checkpoint's digest, the
    export.pqat_* keys), and a rerun builds the network from them."""

    def __init__(self, model_of, training, path, checkpoint_digest, network_id, log=print):
        """Fine-tunes (and stores) unless `path` holds weights of the same sources.
        `model_of()`: the deployable Keras network (zeros = its pruning pattern);
        `training`: a Training."""
        self.model_of, self.training, self.network_id, self.log = (
            model_of, training, network_id, log)
        settings = training.config.export
        sources = {"checkpoint": checkpoint_digest, "pqat settings": json.dumps(
            dict(epochs=settings.pqat_epochs, lr=settings.pqat_lr), sort_keys=True)}
        self._network = None
        self.stored = evaluate.cached_outputs(path, self._fine_tune, (f"{_WEIGHT_KEY}0000",),
                                              sources, log)
        self.digest = storage.file_digest(path)  # what the exported file records

    def history(self):
        """{metric: [per epoch]} of the fine-tuning (tfprune.train.fit's)."""
        return {key.partition(":")[2]: [float(v) for v in values]
                for key, values in self.stored.items() if key.startswith("history:")}

    def network(self):
        """The fine-tuned quantization-aware network."""
        if self._network is None:
            self._network = quantization_aware(self.model_of())
            self._network.set_weights([self.stored[key] for key in sorted(self.stored)
                                       if key.startswith(_WEIGHT_KEY)])
        return self._network

    def _fine_tune(self):
        settings = self.training.config.export
        self._network = network = quantization_aware(self.model_of())
        self.log(f"{self.network_id}: PQAT fine-tuning for {settings.pqat_epochs} epochs at "
                 f"lr {settings.pqat_lr}")
        history = train.fit(network, self.training.dataset,
                            _fine_tuning_config(self.training.config), settings.pqat_epochs,
                            seed=self.training.config.seed,
                            stage=f"{self.network_id} PQAT (export.pqat_lr)")
        return dict({f"{_WEIGHT_KEY}{i:04d}": weight for i, weight in
                     enumerate(network.get_weights())},
                    **{f"history:{key}": np.asarray(values) for key, values in history.items()})


def _fine_tuning_config(config):
    """The run's config with its training schedule replaced by PQAT's constant export.pqat_lr."""
    tuned = config.copy_and_resolve_references()
    tuned.train.update(dict(lr=config.export.pqat_lr, warmup_epochs=0, lr_schedule="multistep",
                            lr_milestones=()))
    return tuned


def zeros_kept(model, content):
    """(zeros, kept): the zero kernel weights of `model` (the Keras network exported,
    whose zeros are its pruning pattern) and how many of them are zero in the int8 weights
    of the TFLite file `content` too, kernel by kernel (matched by layer name)."""
    interpreter = litert.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    filters = {}  # (op, first name of the filter tensor) -> int8 weights
    for op in interpreter._get_ops_details():  # pylint: disable=protected-access
        if op["op_name"] in {name for name, _ in _KERNEL_LAYOUTS.values()}:
            tensor = tensors[op["inputs"][1]]
            filters[(op["op_name"], tensor["name"].split(";")[0])] = interpreter.get_tensor(
                tensor["index"])
    zeros = kept = 0
    for layer in model.layers:
        op_name, layout = _KERNEL_LAYOUTS.get(type(layer), (None, None))
        if op_name is None:
            continue
        kernel = layout(layer.get_weights()[0])
        found = [w for (op, name), w in filters.items()
                 if op == op_name and f"/quant_{layer.name}/" in name and w.shape == kernel.shape]
        if len(found) != 1:
            raise RuntimeError(f"{layer.name}: {len(found)} int8 kernels of its shape in the "
                               "converted file (one expected)")
        pruned = kernel == 0
        zeros += int(pruned.sum())
        kept += int((found[0][pruned] == 0).sum())
    return zeros, kept
