"""python -m export.bundle --workdir RUN_DIR --out kit.tar.gz \\
    [--variants=float32,int8] [--distributions=nominal,contrast_3]

Packs what an edge device needs to re-run a finished run's check itself (export.kit):
the exported .tflite files, the test images, the expected results and runner.py.
"""
import sys

from absl import app, flags

from export import kit
from tfprune import cli, lock

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory of a finished tfprune.run.")
_OUT = flags.DEFINE_string("out", None, "The kit to write (.tar.gz).")
_VARIANTS = flags.DEFINE_list("variants", None, "TFLite variants to pack (default: all exported).")
_DISTRIBUTIONS = flags.DEFINE_list("distributions", None,
                                   "Distributions to pack (default: all of the run).")
flags.mark_flags_as_required(["workdir", "out"])


def main(argv):
    del argv

    def job():
        # A shared lock: the kit only reads the run, as other readers may meanwhile.
        with lock.held(_WORKDIR.value, "export.bundle", shared=True, existing=True):
            kit.build(_WORKDIR.value, _OUT.value, _VARIANTS.value, _DISTRIBUTIONS.value)

    cli.guarded(job)


if __name__ == "__main__":
    app.run(main, argv=sys.argv)
