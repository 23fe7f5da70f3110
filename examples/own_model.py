"""tfprune's Python API end to end on your own model and arrays (docs/api.md).

A small Keras CNN trained here on scikit-learn's digits stands in for your classifier:
it is evaluated and pruned once by hand (in Keras and as a TFLite file), then handed
with its data to tfprune.api.run, which retrains a control and prunes and retrains it
(WT, 2 cycles), evaluates every network on the test set and two
corruptions in Keras and as TFLite files, and writes results.json and report.md.

    .venv/bin/python -m examples.own_model [WORKDIR]   (default: workdirs/example)
"""
import sys

import numpy as np

from tfprune import api

import tensorflow as tf  # after tfprune: it selects the Keras tfprune and TF-MOT need


def digits():
    """scikit-learn's digits as uint8 32x32x3 images (what a user's loader returns)."""
    from sklearn import datasets
    found = datasets.load_digits()
    images = tf.image.resize(found.images[..., None] * (255 / 16), (32, 32)).numpy()
    images = np.repeat(np.clip(np.round(images), 0, 255).astype(np.uint8), 3, axis=-1)
    order = np.random.default_rng(0).permutation(len(images))
    test, train = order[:450], order[450:]
    labels = found.target.astype(np.int32)
    return images[train], labels[train], images[test], labels[test]


def my_classifier(x_train, y_train):
    """The user's own trained network: logits out, pixels 0..255 in."""
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((32, 32, 3))
    x = tf.keras.layers.Rescaling(1 / 255)(inputs)
    for filters in (16, 32):
        x = tf.keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Flatten()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(x))
    model.compile(tf.keras.optimizers.Adam(3e-3), tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=64, verbose=0)
    return model


def main(workdir):
    x_train, y_train, x_test, y_test = digits()
    model = my_classifier(x_train, y_train)
    config = api.config("configs/quickstart.py", {
        "train.lr": 0.01, "prune.ratios": (0.5, 0.8), "prune.retrain_epochs": 4,
        "eval.corruptions": ("gaussian_noise", "defocus_blur"), "eval.noise_images": 0,
        "eval.reference_network": False, "export.latency_runs": 0})
    arrays = (x_train, y_train, x_test, y_test)
    _, test_distributions = api.load_distributions(config, f"{workdir}-cache", arrays)
    print("yours:", api.evaluate(model, test_distributions))
    pruned = api.prune(model, "wt", 0.5)
    print("wt 50%, not retrained:", api.evaluate(pruned, test_distributions))
    print("its TFLite file:", api.evaluate_tflite(api.export_tflite(pruned), test_distributions))
    results = api.run(config, workdir, model=model, data_arrays=arrays)
    potential = results["methods"]["wt"]["prune_potential"]
    print("prune potential:", {name: f"{value:.0%}" for name, value in potential.items()})
    print("report:", api.report(workdir))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "workdirs/example")
