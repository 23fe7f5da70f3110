"""CIFAR-style classification networks as functional tf.keras models.

Every network is built only from built-in Keras layers so that TF-MOT can wrap
its Conv2D/Dense layers and the model can be cloned, saved as `.keras` and
converted to TFLite without custom objects. Architectures follow the CIFAR
definitions used by torchprune (github.com/lucaslie/torchprune, which vendors
bearpaw/pytorch-classification), except where noted in a builder's docstring.
Builders return logits; softmax belongs to the loss.
"""
import functools

import numpy as np
import tensorflow as tf

layers = tf.keras.layers


# --- shared building blocks -------------------------------------------------

def _conv(x, filters, kernel_size=3, strides=1):
    """Bias-free conv: each one reaches a BN (maybe after an add or concat) that absorbs a bias."""
    return layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                         use_bias=False, kernel_initializer="he_normal")(x)


def _bn(x):
    """BatchNorm with PyTorch's momentum/epsilon, as the reference models train with."""
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def _bn_relu(x):
    return layers.ReLU()(_bn(x))


def _conv_bn_relu(x, filters, strides=1):
    return _bn_relu(_conv(x, filters, strides=strides))


def _classifier(x, num_classes):
    """Global average pooling + linear layer (the only layer with a bias)."""
    return layers.Dense(num_classes)(layers.GlobalAveragePooling2D()(x))


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
    pooling equals torchprune's flatten.
    """
    for v in _VGG16_CFG:
        x = layers.MaxPooling2D(2)(x) if v == "M" else _conv_bn_relu(x, v)
    return _classifier(x, num_classes)


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


def _basic_block(x, filters, strides):
    """Post-activation ResNet basic block (conv-BN-ReLU, conv-BN, add, ReLU)."""
    shortcut = x if strides == 1 else _zero_pad_shortcut(x, filters)
    y = _conv_bn_relu(x, filters, strides)
    y = _bn(_conv(y, filters))
    return layers.ReLU()(layers.Add()([shortcut, y]))


def _cifar_resnet(x, num_classes, n):
    """He et al. (2016) CIFAR ResNet of depth 6n+2 with option A shortcuts.

    Uses basic blocks at every depth, as in the paper. (torchprune's copy of
    bearpaw's code switches to bottleneck blocks with 1x1-conv shortcuts for
    depth >= 44; its resnet56/110 have about the same parameter counts.)
    """
    x = _conv_bn_relu(x, 16)
    for stage, filters in enumerate((16, 32, 64)):
        for i in range(n):
            x = _basic_block(x, filters, 2 if stage > 0 and i == 0 else 1)
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
    y = _conv(act, filters, strides=strides)
    y = _conv(_bn_relu(y), filters)
    return layers.Add()([shortcut, y])


def _wide_resnet(x, num_classes, depth, width):
    """Wide ResNet WRN-depth-width (Zagoruyko & Komodakis 2016), no dropout."""
    n = (depth - 4) // 6
    x = _conv(x, 16)
    for stage, filters in enumerate((16 * width, 32 * width, 64 * width)):
        for i in range(n):
            x = _preact_block(x, filters, 2 if stage > 0 and i == 0 else 1)
    return _classifier(_bn_relu(x), num_classes)


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


MODELS = {
    "cnn_small": cnn_small,
    "vgg16_bn": vgg16_bn,
    "resnet20": functools.partial(_cifar_resnet, n=3),
    "resnet56": functools.partial(_cifar_resnet, n=9),
    "resnet110": functools.partial(_cifar_resnet, n=18),
    "wrn16_8": functools.partial(_wide_resnet, depth=16, width=8),
    "densenet22": functools.partial(_densenet_bc, depth=22, growth_rate=12),
}


def build(name, input_shape=(32, 32, 3), num_classes=10,
          mean=(0., 0., 0.), std=(1., 1., 1.), seed=0):
    """Build registered network `name` taking raw 0..255 pixels, returning logits.

    Normalisation lives in the model (a weightless Normalization layer) so that
    saved and converted models take raw pixels. `seed` goes through
    `tf.keras.utils.set_random_seed`, which also reseeds Python's `random`,
    NumPy and TensorFlow globally: two builds with one seed get equal weights.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(MODELS)}")
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(input_shape)
    x = layers.Normalization(mean=[float(m) for m in mean],
                             variance=[float(s) ** 2 for s in std])(inputs)
    return tf.keras.Model(inputs, MODELS[name](x, num_classes), name=name)


def count_params(model):
    """Trainable parameters (kernels, biases, BN gamma/beta), the count papers report.

    BN moving statistics and pruning masks are non-trainable, so they are excluded.
    """
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
