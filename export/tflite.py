"""TFLite export of a run's networks, and their re-evaluation with ai-edge-litert.

`python -m export.tflite --workdir RUN_DIR` exports and evaluates the networks of a
finished run (its stored config says which); `tfprune.run` calls the same code when
`export.tflite` is on. Each .tflite file is converted from the stripped checkpoint and
run in batches on every test distribution of the run.
"""
import os
import sys


import tfprune  # noqa: F401
import tensorflow as tf

from export import litert
from tfprune import evaluate
from tfprune import io as io_lib

VARIANT = "float32"


def convert(model):
    """The float32 TFLite flatbuffer of a plain Keras model (input batch left dynamic)."""
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def export_and_evaluate(network_id, checkpoint, workdir, threads, measure, required):
    """Convert (once) and evaluate (once) a checkpoint; returns file, size, delegate, outputs.

    `measure(logits_of)` computes the run's outputs (see tfprune.evaluate) from a
    function that runs the network; `required` are the keys a stored result must hold.
    """
    path = os.path.join(workdir, "tflite", f"{network_id}.{VARIANT}.tflite")
    if not os.path.exists(path):
        model = tf.keras.models.load_model(checkpoint, compile=False)
        io_lib.write_bytes(path, convert(model))
    interpreter = litert.TFLiteModel(path, threads=threads)
    outputs = evaluate.cached_outputs(
        os.path.join(workdir, "predictions", f"{network_id}.tflite-{VARIANT}.npz"),
        lambda: measure(interpreter.predict_logits), required)
    return dict(file=os.path.relpath(path, workdir), size_bytes=os.path.getsize(path),
                delegate=interpreter.delegate, outputs=outputs)


def main(argv=None):
    from absl import app, flags
    from tfprune import pipeline

    flags.DEFINE_string("workdir", None, "Run directory of a finished tfprune.run.")
    flags.mark_flag_as_required("workdir")

    def run(_):
        return pipeline.main_guarded(lambda: pipeline.run_stored(flags.FLAGS.workdir))

    app.run(run, argv=argv or sys.argv)


if __name__ == "__main__":
    main()
