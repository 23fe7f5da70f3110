"""The TFLite variants a network is exported in: one registry entry each, and conversion.

Each is converted from the stripped checkpoint (networks of structured methods
physically shrunk first, see `deployable`):
- float32: the network as trained.
- float16: weights stored as float16, computed in float32.
- dynamic_int8: int8 weights; activations quantized on the fly (dynamic range).
- int8: full integer: weights and activations int8, calibrated on representative
  images (raw 0..255 pixels, as the networks take them). Input and output are int8 as
  well, so the file runs on integer-only hardware; the input's scale and zero point
  cover the calibration pixels (0..255 maps onto -128..127; the noise sweep's pixels
  beyond that range saturate), and export.litert.TFLiteModel quantizes pixels and
  dequantizes logits with them.
- sparse: float32, zero weights stored in TFLite's sparse format (EXPERIMENTAL_SPARSITY).
- sparse_int8: int8 as above, with the sparse format.
- pqat_int8: int8 as above, of the network fine-tuned quantization-aware first with its
  zeros kept (export.pqat: pruning-preserving QAT, export.pqat_epochs at
  export.pqat_lr); the file's facts count the pruned zeros that survived in it.
"""
import dataclasses
import warnings

import tfprune  # noqa: F401
import tensorflow as tf

from export import shrink
from tfprune import errors


@dataclasses.dataclass(frozen=True)
class Variant:
    """How the converter makes one variant."""
    name: str
    quantized: bool = False  # tf.lite.Optimize.DEFAULT
    sparse: bool = False  # tf.lite.Optimize.EXPERIMENTAL_SPARSITY
    float16: bool = False  # float16 weights
    integer: bool = False  # full integer, int8 input and output; needs representative data
    fine_tuned: bool = False  # converted from the network after PQAT (export.pqat)


VARIANTS = {v.name: v for v in (
    Variant("float32"),
    Variant("float16", quantized=True, float16=True),
    Variant("dynamic_int8", quantized=True),
    Variant("int8", quantized=True, integer=True),
    Variant("sparse", sparse=True),
    Variant("sparse_int8", quantized=True, sparse=True, integer=True),
    Variant("pqat_int8", quantized=True, integer=True, fine_tuned=True),
)}


def parse(names, key="config.export.variants"):
    """The variants named by `names` (a tuple, or comma-separated text, as a flag's
    `--config.export.variants=float32,int8` arrives; "all" = every one), in VARIANTS
    order; an unknown name raises ConfigError naming the allowed ones."""
    items = (names,) if isinstance(names, str) else names
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    for name in names:
        if name not in (*VARIANTS, "all"):
            raise errors.ConfigError(f"{key}: unknown variant {name!r}; allowed: all, "
                                     f"{', '.join(VARIANTS)}")
    if not names:
        raise errors.ConfigError(f"{key}: is empty; allowed: all, {', '.join(VARIANTS)}")
    return tuple(v for v in VARIANTS if v in names or "all" in names)


def convert(model, variant="float32", representative=None):
    """The TFLite flatbuffer of a Keras model in `variant` (input batch left dynamic): a
    plain one, or for a fine-tuned variant its quantization-aware network (export.pqat).
    `representative`: calibration images for the integer variants."""
    options = VARIANTS[variant]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    optimizations = [tf.lite.Optimize.DEFAULT] if options.quantized else []
    if options.sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if options.float16:
        converter.target_spec.supported_types = [tf.float16]
    if options.integer:
        converter.representative_dataset = lambda: ([image[None]] for image in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        # A warning for converters without calibration data: here the int8 input's
        # scale and zero point come from the representative images.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def deployable(model, structured):
    """The Keras model to ship: physically shrunk for a network of a structured method,
    whose dead channels are whole filters; unstructured ones keep their dense shape
    (their zeros go into the sparse variants)."""
    return shrink.shrink(model) if structured else model
