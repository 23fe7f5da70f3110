"""2:4 sparsity (m_by_n), as TF-MOT's `prune_low_magnitude(sparsity_m_by_n=(2, 4))` makes
it: in every block of 4 consecutive weights along a layer's input channels (the last
axis of TFLite's kernel layout), the 2 of smallest |w| are zero, the pattern that sparse
tensor cores and Arm's 2:4 kernels run. TF-MOT makes the masks once, when retraining
begins, and keeps them; the ratio is what the pattern gives (half of the covered
layers' weights), not a budget.

Covered are the Conv2D and Dense layers whose input channels are a multiple of 4 (the
first conv of an RGB network reads 3: TF-MOT would pad its blocks, which no 2:4 kernel
reads); the others stay dense. The verdicts are TF-MOT's own checker
(`pruning_utils.is_pruned_m_by_n`, which its check_sparsity_m_by_n tool runs on a
TFLite file's tensors), on the Keras kernels and on the float32 TFLite file's
CONV_2D / FULLY_CONNECTED filters.
"""
import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf
from ai_edge_litert import interpreter as litert
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

from tfprune import errors, storage, wrappers

SPARSITY = (2, 4)  # TF-MOT's sparsity_m_by_n: zeros per block, block length
PATTERN = f"{SPARSITY[0]}:{SPARSITY[1]}"
_TFLITE_FILTERS = ("CONV_2D", "FULLY_CONNECTED")  # op -> its filter is input 1


def _supported(layer):
    return (not isinstance(layer, tf.keras.layers.Conv2D) or layer.groups == 1) and \
        layer.kernel.shape[-2] % SPARSITY[1] == 0


def covered(model):
    """The names of the prunable layers 2:4 applies to, in graph order."""
    return [layer.name for layer in wrappers.prunable_layers(model) if _supported(layer)]


def wrapping(model):
    """What tfprune.wrappers.wrap needs to give `model` TF-MOT's 2:4 masks."""
    names = covered(model)
    if not names:
        raise errors.ConfigError(f"config.prune.methods: m_by_n covers no layer of {model.name} "
                                 "(no Conv2D or Dense reads a multiple of 4 input channels); "
                                 "drop m_by_n")
    return dict(covered=names, sparsity_m_by_n=SPARSITY)


def tflite_filters(content):
    """{tensor name: array} of the CONV_2D and FULLY_CONNECTED filters of a TFLite file,
    in TFLite's layout ([out, h, w, in] and [out, in])."""
    interpreter = litert.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    details = interpreter.get_tensor_details()
    return {details[op["inputs"][1]]["name"]: interpreter.get_tensor(op["inputs"][1])
            for op in interpreter._get_ops_details() if op["op_name"] in _TFLITE_FILTERS}


def check(model, tflite_content):
    """What a cycle's record says of its 2:4 network (`model`, stripped, and its float32
    TFLite file): the covered and the dense layers, the covered weights' sparsity, and
    TF-MOT's verdict per covered Keras kernel and per filter of the file (those whose
    input width is not a multiple of 4 are the dense layers', listed apart), with the
    file's digest: the run's exported float32 file of the checkpoint has the same."""
    layers = wrappers.prunable_layers(model)
    kernels = {layer.name: layer.kernel for layer in layers if layer.name in covered(model)}
    keras = {name: bool(pruning_utils.is_pruned_m_by_n(kernel, SPARSITY, "C_OUT"))
             for name, kernel in kernels.items()}
    filters = tflite_filters(tflite_content)
    checked = {name: bool(pruning_utils.is_pruned_m_by_n(tf.constant(array), SPARSITY, "C_IN"))
               for name, array in filters.items() if array.shape[-1] % SPARSITY[1] == 0}
    size = sum(kernel.shape.num_elements() for kernel in kernels.values())
    kept = sum(int(np.count_nonzero(kernel.numpy())) for kernel in kernels.values())
    dense = [layer.name for layer in layers if layer.name not in kernels]
    keras_holds, tflite_holds = all(keras.values()), bool(checked) and all(checked.values())
    return dict(
        pattern=PATTERN, covered=list(kernels), dense=dense, covered_sparsity=1.0 - kept / size,
        keras=keras, keras_holds=keras_holds,
        tflite=dict(sha256=storage.bytes_digest(tflite_content), filters=checked,
                    dense=sorted(set(filters) - set(checked)), holds=tflite_holds),
        verdict=f"{PATTERN} holds in Keras: {keras_holds}, in TFLite: {tflite_holds} "
                f"(TF-MOT's checker; dense: {', '.join(dense) or 'none'})")
