"""TFLite export of pruned networks and their re-evaluation with the TFLite interpreter."""
import tfprune  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
