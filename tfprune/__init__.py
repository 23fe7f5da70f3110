"""tfprune: prune tf.keras networks and check them beyond test accuracy.

TF-MOT works only with legacy Keras 2, which TensorFlow selects when
TF_USE_LEGACY_KERAS is set before it is first imported. Every module of the
package (and of `export`) is imported through this file, so setting it here,
once, covers them all.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
