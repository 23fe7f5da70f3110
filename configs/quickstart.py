"""Offline quickstart: digits, a small CNN, WT pruned in 5 cycles; about 2 minutes on 2 cores."""
from tfprune import config as config_lib


def get_config():
    config = config_lib.base()
    config.data.name = "digits"
    config.data.augment = "crop"  # no flips: digits are not mirror-symmetric
    config.model.name = "cnn_small"
    # 40 epochs: the parent passes its control (retrained 6 epochs without pruning, it
    # gains less than delta on every distribution); 15 left it 0.9 points short nominal.
    config.train.epochs = 40
    config.train.batch_size = 64
    config.train.lr = 0.1
    config.train.warmup_epochs = 1
    config.train.lr_milestones = (25, 35)
    config.train.weight_decay = 5e-4
    config.prune.method = "wt"
    config.prune.spacing = ("geometric(0.7, 0.05, 5)",)
    config.prune.retrain_epochs = 6
    config.eval.batch_size = 256
    config.eval.noise_images = 200
    config.eval.reference_network = True
    return config
