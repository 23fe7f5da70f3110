"""tfprune: prune tf.keras networks and check them beyond test accuracy.

TF-MOT works only with legacy Keras 2, which TensorFlow selects when
TF_USE_LEGACY_KERAS is set before it is first imported. Every module of the
package (and of `export`) is imported through this file, so setting it here,
once, covers them all.

TF_CPP_MIN_LOG_LEVEL=2 keeps TensorFlow's native INFO and WARNING lines out of the logs;
tfprune.native_logs applies it to the lines TensorFlow prints while it loads, too.
"""
import os

from tfprune import native_logs

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
native_logs.install()
