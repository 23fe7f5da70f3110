"""TFLite export of pruned networks, their re-evaluation with the TFLite interpreter, and
the device kit. Importing the package loads nothing: export.runner and export.litert run
on devices without TensorFlow or tfprune."""
