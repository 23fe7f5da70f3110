"""CIFAR-style classification networks as functional tf.keras models.

Every network is built only from built-in Keras layers so that TF-MOT can wrap
its Conv2D/Dense layers and the model can be cloned, saved as `.keras` and
converted to TFLite without custom objects. Architectures follow the CIFAR
definitions used by torchprune (github.com/lucaslie/torchprune, which vendors
bearpaw/pytorch-classification), except where noted in a builder's docstring.
Builders return logits; softmax belongs to the loss.

Two families of CIFAR ResNets (depth 6n+2, stages of 16/32/64 channels):
  - `resnet20`, `resnet56`, `resnet110`: the study's networks, torchprune's resnet.py.
    Where a block changes the shape, its shortcut is a 1x1 conv with the block's stride
    plus BN; from depth 44 on the blocks are bottlenecks (1x1, 3x3, 1x1 with 4x
    expansion), so resnet56/110 end in 256 channels.
  - `resnet20_option_a`, `resnet56_option_a`, `resnet110_option_a`: He et al.'s CIFAR
    networks, basic blocks at every depth and parameter-free zero-padded (option A)
    shortcuts, as most papers outside torchprune report them.

Architectures people deploy, from tf.keras.applications with weights=None (nothing is
downloaded): `mobilenet_v2` (alpha 0.35), `mobilenet_v3_small`, `efficientnet_b0` and
`resnet50`. They bring depthwise convolutions, squeeze-and-excitation, hard-swish and
swish, Rescaling and Normalization, padding and reshapes (see docs/methods.md).

The user's own networks (a trained file, a builder function) come through `network`, from
tfprune.user_models (docs/models.md).
"""
import functools

import numpy as np
import tensorflow as tf

from tfprune import user_models

layers = tf.keras.layers

# PyTorch's default, which the reference trains with; the applications get it too.
BATCH_NORM_MOMENTUM = 0.9


# --- shared building blocks -------------------------------------------------

def _conv_initializer():
    """The reference's (bearpaw's models): N(0, 2 / (k*k*out)), untruncated."""
    return tf.keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def _conv(x, filters, kernel_size=3, strides=1, padding="same"):
    """Bias-free conv: each one reaches a BN (maybe after an add or concat) that absorbs a bias."""
    return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                         use_bias=False, kernel_initializer=_conv_initializer())(x)


def _torch_conv(x, filters, kernel_size=3, strides=1):
    """Conv padded as PyTorch's padding=k//2, on both sides.

    A strided "same" conv pads only after the input, so its outputs would centre on odd
    pixels while a 1x1 stride-2 shortcut samples even ones; explicit padding keeps the
    reference's alignment (the same function for the same weights).
    """
    if strides == 1 or kernel_size == 1:
        return _conv(x, filters, kernel_size, strides)
    x = layers.ZeroPadding2D(kernel_size // 2)(x)
    return _conv(x, filters, kernel_size, strides, padding="valid")


def _bn(x):
    """BatchNorm with PyTorch's momentum/epsilon, as the reference models train with."""
    return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, epsilon=1e-5)(x)


def _bn_relu(x):
    return layers.ReLU()(_bn(x))


def _conv_bn_relu(x, filters, strides=1):
    return _bn_relu(_conv(x, filters, strides=strides))


def _classifier(x, num_classes, kernel_initializer=None, bias_initializer=None):
    """Global average pooling + linear layer (the only layer with a bias), initialised as
    PyTorch's nn.Linear unless given: kernel and bias U(+-1/sqrt(fan_in))."""
    bound = 1.0 / np.sqrt(x.shape[-1])
    kernel_initializer = kernel_initializer or tf.keras.initializers.VarianceScaling(
        1.0 / 3.0, "fan_in", "uniform")
    bias_initializer = bias_initializer or tf.keras.initializers.RandomUniform(-bound, bound)
    return layers.Dense(num_classes, kernel_initializer=kernel_initializer,
                        bias_initializer=bias_initializer)(layers.GlobalAveragePooling2D()(x))


# --- networks ---------------------------------------------------------------

def cnn_small(x, num_classes):
    """Quickstart CNN (24k parameters) that trains on CPU in seconds.

    Every conv has stride 2 so the last one sees 15x15 pixels before global
    pooling; with a stride-1 first conv it saw only 9x9 and learnt upscaled
    8x8 digits much more slowly.
    """
    for filters in (16, 32, 64):
        x = _conv_bn_relu(x, filters, strides=2)
    return _classifier(x, num_classes)


_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
              512, 512, 512, "M", 512, 512, 512, "M")


def vgg16_bn(x, num_classes):
    """VGG16-BN for CIFAR as in torchprune: 13 conv-BN-ReLU, 5 max-pools, Linear(512, classes).

    torchprune's convs carry a bias in front of BN; it is dropped here (4,224
    redundant parameters). After five poolings a 32x32 input is 1x1, so global
    pooling equals torchprune's flatten. Its Linear starts at N(0, 0.01) with a zero bias.
    """
    for v in _VGG16_CFG:
        x = layers.MaxPooling2D(2)(x) if v == "M" else _conv_bn_relu(x, v)
    return _classifier(x, num_classes, tf.keras.initializers.RandomNormal(0.0, 0.01), "zeros")


def _zero_pad_shortcut(x, filters):
    """He et al. option A shortcut: subsample by 2 and zero-pad the new channels.

    Built from stock layers only (no Lambda): a 1x1 pooling with stride 2 takes
    every other pixel, and the channel padding is a ZeroPadding2D applied while
    channels are moved to axis 1 by Permute. It adds no parameters.
    """
    pad = (filters - x.shape[-1]) // 2
    x = layers.AveragePooling2D(pool_size=1, strides=2)(x)
    x = layers.Permute((3, 1, 2))(x)
    x = layers.ZeroPadding2D(((pad, pad), (0, 0)))(x)
    return layers.Permute((2, 3, 1))(x)


def _option_a_block(x, filters, strides):
    """Post-activation ResNet basic block (conv-BN-ReLU, conv-BN, add, ReLU), option A."""
    shortcut = x if strides == 1 else _zero_pad_shortcut(x, filters)
    y = _conv_bn_relu(x, filters, strides)
    y = _bn(_conv(y, filters))
    return layers.ReLU()(layers.Add()([shortcut, y]))


def _option_a_resnet(x, num_classes, n):
    """He et al. (2016) CIFAR ResNet of depth 6n+2 with option A shortcuts.

    Uses basic blocks at every depth, as in the paper. Strided convs pad "same", so
    they centre on odd pixels where the shortcut samples even ones (`_torch_conv` does not).
    """
    x = _conv_bn_relu(x, 16)
    for stage, filters in enumerate((16, 32, 64)):
        for i in range(n):
            x = _option_a_block(x, filters, 2 if stage > 0 and i == 0 else 1)
    return _classifier(x, num_classes)


def _add_shortcut(x, y, strides):
    """ReLU(y + shortcut): x itself, or where the shape changes a 1x1 conv (stride s) + BN."""
    if strides != 1 or x.shape[-1] != y.shape[-1]:
        x = _bn(_conv(x, y.shape[-1], kernel_size=1, strides=strides))
    return layers.ReLU()(layers.Add()([x, y]))


def _basic_block(x, planes, strides):
    """torchprune's BasicBlock: 3x3 conv (stride s)-BN-ReLU, 3x3 conv-BN, add, ReLU."""
    y = _bn_relu(_torch_conv(x, planes, strides=strides))
    return _add_shortcut(x, _bn(_conv(y, planes)), strides)


def _bottleneck_block(x, planes, strides):
    """torchprune's Bottleneck: 1x1-BN-ReLU, 3x3 (stride s)-BN-ReLU, 1x1 to 4x planes-BN,
    add, ReLU."""
    y = _bn_relu(_conv(x, planes, kernel_size=1))
    y = _bn_relu(_torch_conv(y, planes, strides=strides))
    return _add_shortcut(x, _bn(_conv(y, 4 * planes, kernel_size=1)), strides)


def _cifar_resnet(x, num_classes, depth):
    """torchprune's CIFAR ResNet (resnet.py, bearpaw's) of depth 6n+2.

    Bottleneck blocks from depth 44 on, basic blocks below. Its classifier is
    AvgPool2d(8) and a flatten on the 8x8 map of a 32x32 input, which is global pooling.
    """
    n = (depth - 2) // 6
    block = _bottleneck_block if depth >= 44 else _basic_block
    x = _conv_bn_relu(x, 16)
    for stage, planes in enumerate((16, 32, 64)):
        for i in range(n):
            x = block(x, planes, 2 if stage > 0 and i == 0 else 1)
    return _classifier(x, num_classes)


def _preact_block(x, filters, strides):
    """Wide-ResNet pre-activation block, as torchprune's wrn.py.

    When the width changes, BN-ReLU is applied once and feeds both the residual
    branch and the 1x1 projection shortcut (no BN on the projection).
    """
    act = _bn_relu(x)
    if x.shape[-1] == filters:
        shortcut = x
    else:
        shortcut = _conv(act, filters, kernel_size=1, strides=strides)
    y = _torch_conv(act, filters, strides=strides)
    y = _conv(_bn_relu(y), filters)
    return layers.Add()([shortcut, y])


def _wide_resnet(x, num_classes, depth, width):
    """Wide ResNet WRN-depth-width (Zagoruyko & Komodakis 2016), no dropout; its Linear's
    bias starts at zero, as torchprune's wrn.py."""
    n = (depth - 4) // 6
    x = _conv(x, 16)
    for stage, filters in enumerate((16 * width, 32 * width, 64 * width)):
        for i in range(n):
            x = _preact_block(x, filters, 2 if stage > 0 and i == 0 else 1)
    return _classifier(_bn_relu(x), num_classes, bias_initializer="zeros")


def _dense_bottleneck(x, growth_rate):
    """DenseNet-BC layer: BN-ReLU-1x1 conv (4k) - BN-ReLU-3x3 conv (k), concatenated."""
    y = _conv(_bn_relu(x), 4 * growth_rate, kernel_size=1)
    y = _conv(_bn_relu(y), growth_rate)
    return layers.Concatenate()([x, y])


def _transition(x, compression):
    """BN-ReLU-1x1 conv that compresses the channels, then 2x2 average pooling."""
    x = _conv(_bn_relu(x), int(x.shape[-1] * compression), kernel_size=1)
    return layers.AveragePooling2D(2)(x)


def _densenet_bc(x, num_classes, depth, growth_rate, compression=0.5):
    """DenseNet-BC (Huang et al. 2017) with 3 dense blocks, as torchprune's densenet.py."""
    n = (depth - 4) // 6
    x = _conv(x, 2 * growth_rate)
    for block in range(3):
        if block > 0:
            x = _transition(x, compression)
        for _ in range(n):
            x = _dense_bottleneck(x, growth_rate)
    return _classifier(_bn_relu(x), num_classes)


def _application(builder, x, num_classes, **options):
    """A tf.keras.applications network on `x` (the registry's normalised input), returning
    logits. MobileNetV3's own Rescaling is left out (the registry normalises already);
    EfficientNet always builds its Rescaling(1/255) and Normalization, which its stem
    BatchNormalization absorbs. BatchNormalization momentum becomes the study networks'
    0.9: the applications' 0.999 suits ImageNet-length epochs, and over a few thousand
    steps its moving statistics lag the weights (docs/methods.md has the measurement)."""
    network = builder(input_tensor=x, weights=None, classes=num_classes,
                      classifier_activation=None, **options)
    for layer in network.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = BATCH_NORM_MOMENTUM
    return network.output


MODELS = {
    "cnn_small": cnn_small,
    "vgg16_bn": vgg16_bn,
    "resnet20": functools.partial(_cifar_resnet, depth=20),
    "resnet56": functools.partial(_cifar_resnet, depth=56),
    "resnet110": functools.partial(_cifar_resnet, depth=110),
    "resnet20_option_a": functools.partial(_option_a_resnet, n=3),
    "resnet56_option_a": functools.partial(_option_a_resnet, n=9),
    "resnet110_option_a": functools.partial(_option_a_resnet, n=18),
    "wrn16_8": functools.partial(_wide_resnet, depth=16, width=8),
    "densenet22": functools.partial(_densenet_bc, depth=22, growth_rate=12),
}

# tf.keras.applications architectures, apart from the CIFAR networks above (which carry
# the reference's parameter counts and layouts); `build` takes the names of both.
APPLICATIONS = {
    "mobilenet_v2": functools.partial(_application, tf.keras.applications.MobileNetV2,
                                      alpha=0.35),
    "mobilenet_v3_small": functools.partial(_application,
                                            tf.keras.applications.MobileNetV3Small,
                                            include_preprocessing=False),
    "efficientnet_b0": functools.partial(_application, tf.keras.applications.EfficientNetB0),
    "resnet50": functools.partial(_application, tf.keras.applications.ResNet50),
}


def build(name, input_shape=(32, 32, 3), num_classes=10,
          mean=(0., 0., 0.), std=(1., 1., 1.), seed=0):
    """Build registered network `name` taking raw 0..255 pixels, returning logits.

    Normalisation lives in the model (a weightless Normalization layer) so that
    saved and converted models take raw pixels. `seed` goes through
    `tf.keras.utils.set_random_seed`, which also reseeds Python's `random`,
    NumPy and TensorFlow globally: two builds with one seed get equal weights.
    """
    builders = {**MODELS, **APPLICATIONS}
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(builders)}")
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(input_shape)
    normalization = _normalization(mean, std)
    x = inputs if normalization is None else normalization(inputs)
    return tf.keras.Model(inputs, builders[name](x, num_classes), name=name)


def _normalization(mean, std):
    """The data set's fixed normalisation of raw pixels, as a weightless layer; None for
    the identity (data.normalization=model), which would only cost an op in every file."""
    if all(float(m) == 0 for m in mean) and all(float(s) == 1 for s in std):
        return None
    return layers.Normalization(mean=[float(m) for m in mean],
                                variance=[float(s) ** 2 for s in std])


def network(model_config, input_shape, num_classes, mean, std, seed, log=print):
    """(model, source) of the network `model_config` gives: the user's file (model.path, as
    saved, see tfprune.user_models), the user's builder (model.builder, behind the data
    set's normalisation, seeded as `build`) or a registered one; `source` records where a
    user's network came from (None for a registered one)."""
    if model_config.path:
        return user_models.load(model_config.path, input_shape, num_classes, log)
    if model_config.builder:
        tf.keras.utils.set_random_seed(seed)
        return user_models.build(model_config.builder, input_shape, num_classes,
                                 _normalization(mean, std))
    return build(model_config.name, input_shape, num_classes, mean, std, seed), None


def describe(model_config):
    """The network's name in the log: the registry's name, or where the user's comes from."""
    if model_config.path:
        return f"model.path={model_config.path}"
    return f"model.builder={model_config.builder}" if model_config.builder else model_config.name


def count_params(model):
    """Trainable parameters (kernels, biases, BN gamma/beta), the count papers report.

    BN moving statistics and pruning masks are non-trainable, so they are excluded.
    """
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
