"""The report's figures, one module each; REGISTRY is the only list of them: the report
draws them in this order, and removes the file of any it did not draw this time."""
from tfprune.report.figures import (accuracy_distributions, accuracy_groups, calibration,
                                    corruption_samples, excess_error, keras_vs_tflite,
                                    noise_similarity, prune_potential_heatmap,
                                    prune_potential_runs)

REGISTRY = (
    accuracy_groups.FIGURE,
    accuracy_distributions.FIGURE,
    prune_potential_heatmap.KERAS,
    prune_potential_heatmap.TFLITE,
    prune_potential_runs.FIGURE,
    excess_error.FIGURE,
    noise_similarity.FIGURE,
    calibration.FIGURE,
    keras_vs_tflite.FIGURE,
    corruption_samples.FIGURE,
)
