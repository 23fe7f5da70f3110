"""python -m tfprune.profile: where a training step's time goes, by TensorFlow op type.

Traces `--steps` steady-state `fit` steps of a registered model (under the pruning
wrappers with --wrapped, as a prune-retrain cycle trains) with TensorFlow's profiler and
sums the time of the ops its executor threads ran, by op type, next to the time the
input pipeline's threads took. The trace (WORKDIR/plugins/profile) also opens in
TensorBoard's profile plugin where it is installed.
"""
import collections
import glob
import os
import tempfile
import time

import numpy as np

import tfprune  # noqa: F401
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from absl import app, flags, logging
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from tfprune import config as config_lib
from tfprune import data, models, precision, train, wrappers


class StepClock(tf.keras.callbacks.Callback):
    """Wall and CPU seconds of the steps after the first `skip` of a `fit`: the steady
    state, without the input pipeline's start-up and teardown."""

    def __init__(self, skip):
        super().__init__()
        self._supports_tf_logs = True  # the step hook must not pull logs to the host
        self.skip = skip
        self.start = self.last = None

    def on_train_batch_end(self, batch, logs=None):
        now = (time.perf_counter(), time.process_time())
        if batch == self.skip - 1:
            self.start = now
        self.last = now

    def seconds(self):
        return self.last[0] - self.start[0], self.last[1] - self.start[1]


def compiled(model, steps, batch_size, **train_keys):
    """`model` compiled as tfprune trains, for timing (one epoch of `steps`)."""
    config = config_lib.base()
    config.train.update(dict(batch_size=batch_size, **train_keys))
    train.compile_model(model, config.train, 1, steps)
    return model


OP_THREADS = ("tf_Compute", "tf_numa")  # the executor's and Eigen's thread pools
INPUT_THREADS = ("tf_data",)


def thread_times(xspace_path):
    """({op type: seconds} on the op threads, seconds on the input pipeline's threads)."""
    space = xplane_pb2.XSpace()
    with open(xspace_path, "rb") as stream:
        space.ParseFromString(stream.read())
    ops, input_seconds = collections.Counter(), 0.0
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            seconds = [(names.get(event.metadata_id, ""), event.duration_ps * 1e-12)
                       for event in line.events]
            if line.name.startswith(OP_THREADS):
                for name, duration in seconds:
                    if ":" in name and not name.startswith("ExecutorState"):
                        ops[name.rsplit(":", 1)[1]] += duration  # "layer/op:OpType"
            elif line.name.startswith(INPUT_THREADS):
                # Top-level iterator events only: nested ones would count twice.
                input_seconds += sum(d for n, d in seconds if n.startswith("Iterator::Root"))
    return dict(ops), input_seconds


def profile_training(model, images, labels, steps, workdir, batch_size=128, wrapped=False):
    """Trace `steps` training steps; returns thread_times of the trace and the wall time."""
    network = wrappers.wrap(model, wrappers.one_shot_schedule(0.5)) if wrapped else model
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()] if wrapped else []
    compiled(network, steps, batch_size)
    batches = data.train_pipeline(images, labels, batch_size, "crop_flip", 0)
    network.fit(batches, epochs=1, steps_per_epoch=5, verbose=0, callbacks=callbacks)
    clock = StepClock(1)
    tf.profiler.experimental.start(workdir)
    network.fit(batches, epochs=1, steps_per_epoch=steps + 1, verbose=0,
                callbacks=[*callbacks, clock])
    tf.profiler.experimental.stop()
    trace, = glob.glob(os.path.join(workdir, "plugins", "profile", "*", "*.xplane.pb"))
    return (*thread_times(trace), clock.seconds()[0])


def main(argv=None):
    import sys

    model_flag = flags.DEFINE_string("model", "resnet20", "Registered model to profile.")
    steps = flags.DEFINE_integer("steps", 20, "Traced training steps (after 5 untraced ones).")
    wrapped = flags.DEFINE_bool("wrapped", False, "Train under the pruning wrappers.")
    policy = flags.DEFINE_enum("precision", precision.FLOAT32, precision.EVAL_PRECISIONS,
                               "Training policy (tfprune.precision), e.g. mixed_bfloat16.")
    workdir_flag = flags.DEFINE_string("workdir", "", "Where the trace goes (default: temp).")
    top = flags.DEFINE_integer("top", 12, "Op types to list.")

    def run(_):
        logging.set_verbosity(logging.WARNING)
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (5000, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, len(images)).astype(np.int32)
        model = precision.with_policy(
            models.build(model_flag.value, (32, 32, 3), 10, (125.0,) * 3, (63.0,) * 3),
            policy.value)
        workdir = workdir_flag.value or tempfile.mkdtemp(prefix="tfprune-profile-")
        ops, input_seconds, wall = profile_training(model, images, labels, steps.value,
                                                    workdir, wrapped=wrapped.value)
        total = sum(ops.values())
        print(f"{model_flag.value} at {policy.value}"
              f"{' under pruning wrappers' if wrapped.value else ''}: "
              f"{steps.value} steps of 128 images in {wall:.2f} s wall; op threads busy "
              f"{total:.2f} s, input pipeline threads {input_seconds:.2f} s "
              f"({input_seconds / (total + input_seconds):.1%} of both)")
        for name, seconds in sorted(ops.items(), key=lambda item: -item[1])[:top.value]:
            print(f"  {seconds / total:6.1%}  {seconds:7.3f} s  {name}")
        print(f"trace: {workdir}")

    app.run(run, argv=argv or sys.argv)


if __name__ == "__main__":
    main()
