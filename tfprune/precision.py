"""Training precision: Keras mixed-precision policies applied to a built network.

A policy is set per layer when a layer is created, and a checkpoint records each layer's
policy, so a switch of the global policy does nothing to a loaded network. Training
therefore runs on a copy rebuilt with the policy (`with_policy`) and saves the float32
rebuild of its result: checkpoints, evaluation and export stay float32 whatever the
training precision. The output layers keep float32, so logits and loss are float32;
variables are float32 under every policy (Keras keeps them so and casts per op), which
keeps the pruning masks exactly 0/1 and the pruned weights exactly 0.
"""
import dataclasses

import tfprune  # noqa: F401
import tensorflow as tf

from tfprune import errors

FLOAT32 = "float32"
# train.precision / eval.precision values; "auto" chooses from the hardware (`resolve`)
PRECISIONS = (FLOAT32, "mixed_bfloat16", "mixed_float16", "auto")
EVAL_PRECISIONS = (FLOAT32, "mixed_bfloat16")
# CPU flags (Linux /proc/cpuinfo) of native bf16 matrix arithmetic: AMX tiles, AVX-512 BF16
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
TENSOR_CORE_CAPABILITY = (7, 0)  # float16 tensor cores from Volta on
CPUINFO = "/proc/cpuinfo"


@dataclasses.dataclass(frozen=True)
class Choice:
    """The policy a run trains under, and why (recorded in the checkpoints' records)."""
    requested: str
    policy: str
    reason: str

    def as_dict(self):
        return dataclasses.asdict(self)


def cpu_flags(path=CPUINFO):
    """The CPU's feature flags; empty where the file does not list them (not Linux)."""
    try:
        with open(path) as stream:
            for line in stream:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def gpu_capabilities():
    """The compute capability (major, minor) of each visible GPU."""
    found = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        found.append(tuple(details.get("compute_capability", (0, 0))))
    return found


def _depthwise_count(network):
    return sum(isinstance(layer, tf.keras.layers.DepthwiseConv2D)
               for layer in network.submodules)


def resolve(requested, flags=None, gpus=None, network=None):
    """The Choice for `train.precision=requested` on this machine (or on one with the CPU
    `flags` and GPU capabilities `gpus`, given) for `network`, the model to be trained.

    On a CPU, `auto` keeps a network with depthwise convolutions at float32: oneDNN
    trains them slower in bf16 (MobileNetV2 0.56x, MobileNetV3Small 0.39x, EfficientNetB0
    0.34x of float32's images/s on an AMX Xeon; ResNet20 2.07x; docs/performance.md)."""
    flags = cpu_flags() if flags is None else frozenset(flags)
    gpus = gpu_capabilities() if gpus is None else list(gpus)
    bf16_cpu = sorted(set(BF16_CPU_FLAGS) & flags)
    tensor_cores = [g for g in gpus if tuple(g) >= TENSOR_CORE_CAPABILITY]
    if requested == "mixed_float16" and not gpus:
        raise errors.ConfigError(
            "train.precision=mixed_float16 needs a GPU (a CPU emulates float16, slower than "
            "float32); use mixed_bfloat16 on a CPU with AMX or AVX-512 BF16, or float32")
    if requested != "auto":
        return Choice(requested, requested, "requested")
    if tensor_cores:
        return Choice(requested, "mixed_float16",
                      f"GPU with tensor cores (compute capability {tensor_cores[0]})")
    if bf16_cpu and not gpus:
        depthwise = 0 if network is None else _depthwise_count(network)
        if depthwise:
            return Choice(requested, FLOAT32, f"CPU flags {', '.join(bf16_cpu)}, but "
                          f"{depthwise} DepthwiseConv2D layers, which train slower in bf16")
        return Choice(requested, "mixed_bfloat16", f"CPU flags {', '.join(bf16_cpu)}")
    return Choice(requested, FLOAT32, "no bf16 CPU flags (" + ", ".join(BF16_CPU_FLAGS)
                  + ") and no GPU with tensor cores")


def policy_of(model):
    """The policy of `model`'s layers: float32, or the mixed one most of them use."""
    names = [layer.dtype_policy.name for layer in model.layers
             if not isinstance(layer, tf.keras.layers.InputLayer)]
    mixed = [name for name in names if name != FLOAT32]
    return max(set(mixed), key=mixed.count) if mixed else FLOAT32


def _output_layers(model):
    return {tensor._keras_history.layer.name for tensor in model.outputs}


def with_policy(model, policy):
    """`model` rebuilt with every layer under `policy` but its output layers (float32, so
    logits and loss stay float32), with the same weights; `model` itself if it already
    runs so. Build under the strategy's scope, as any network that is trained."""
    if policy_of(model) == policy:
        return model
    outputs = _output_layers(model)

    def rebuilt(layer):
        config = dict(layer.get_config(),
                      dtype=FLOAT32 if layer.name in outputs else policy)
        return layer.__class__.from_config(config)

    copy = tf.keras.models.clone_model(model, clone_function=rebuilt)
    copy.set_weights(model.get_weights())
    return copy


def loss_scaled(optimizer, policy):
    """float16 gradients underflow without loss scaling (bfloat16 has float32's range)."""
    if policy == "mixed_float16":
        return tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer

