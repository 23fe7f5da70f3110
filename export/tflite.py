"""python -m export.tflite --workdir RUN_DIR [--variants=float32,int8,...|all]

Exports and evaluates the networks of a finished run in the given TFLite variants
(export.variants; default: the run's export.variants) with ai-edge-litert's interpreter;
`tfprune.run` does the same when `export.tflite` is on. pqat_int8 fine-tunes each network
first (export.pqat), on the run's training data. Files and measurements already
in the workdir are kept; latencies are timed again when their settings change. An
unfinished run is refused (exporting it would train what it lacks first), and so is a
workdir another command holds (tfprune.lock).
"""
import sys

from absl import app, flags, logging

from export import variants
from tfprune import cli, lock, pipeline

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory of a finished tfprune.run.")
_VARIANTS = flags.DEFINE_string("variants", None, "Comma-separated TFLite variants, or 'all' "
                                f"({', '.join(variants.VARIANTS)}); default: the run's "
                                "export.variants.")
_THREADS = flags.DEFINE_integer("threads", None, "Interpreter threads; default: export.threads.")
_LATENCY_RUNS = flags.DEFINE_integer(
    "latency_runs", None, "Timed batch-1 invokes per file (0 = no latency); default: "
    "export.latency_runs. Files are timed again when the threads or runs differ from their "
    "last timing.")
_OUTPUT_TILE = flags.DEFINE_integer(
    "output_tile", None, "Output channels the target runtime computes at a time, for the "
    "tiled FLOP counts; default: export.output_tile.")
flags.mark_flag_as_required("workdir")


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the table

    def job():
        chosen = _VARIANTS.value and variants.parse(_VARIANTS.value, "--variants")
        with lock.held(_WORKDIR.value, "export.tflite", existing=True):
            pipeline.run_stored(_WORKDIR.value, variants=chosen, threads=_THREADS.value,
                                latency_runs=_LATENCY_RUNS.value, output_tile=_OUTPUT_TILE.value)

    cli.guarded(job)


if __name__ == "__main__":
    app.run(main, argv=sys.argv)
