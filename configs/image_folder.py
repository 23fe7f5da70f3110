"""A deployable network on your own image folder: tf.keras.applications MobileNetV2
(alpha 0.35, built without downloaded weights) trained by tfprune on the folder given by
--config.data.dir (train/ and test/ of class subfolders, or class subfolders alone;
docs/data.md), then pruned by the study's four methods to three targets, evaluated on
all nineteen corruptions at the images' size (the reference's parameter set for it) in Keras
and as float32 and full-integer TFLite files, with latency.

    .venv/bin/python -m tfprune.run --config configs/image_folder.py \
        --config.data.dir=FOLDER [--config.data.image_size='(96, 96)']

Arguments after the file name (`configs/image_folder.py:mobilenet_v3_small`): the
network, one of tfprune.models.APPLICATIONS (default mobilenet_v2).
"""
from tfprune import config as config_lib
from tfprune import corruptions, models


def get_config(arg=""):
    network = arg or "mobilenet_v2"
    if network not in models.APPLICATIONS:
        raise ValueError(f"configs/image_folder.py: unknown network {network!r}; allowed: "
                         f"{', '.join(models.APPLICATIONS)}")
    config = config_lib.base()
    config.data.name = "folder"
    config.model.name = network
    config.train.update(epochs=30, batch_size=128, lr=0.1, warmup_epochs=0,
                        lr_schedule="one_cycle", one_cycle_peak=0.3, weight_decay=4e-5,
                        precision="auto")
    config.prune.methods = "wt,sipp,ft,pfp"
    config.prune.ratios = (0.3, 0.5, 0.7)
    config.prune.retrain_epochs = 4
    config.prune.retrain_schedule = "rescaled"
    config.eval.corruptions = corruptions.NAMES  # all nineteen of CIFAR-10-C, severity 3
    config.eval.noise_images = 0
    config.eval.reference_network = False
    config.export.variants = ("float32", "int8")
    return config
