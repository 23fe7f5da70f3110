"""ResNet20 on CIFAR-10 with the study's schedule (torchprune paper/lost resnet20).

`--config configs/resnet20.py:quick` is a CPU-sized run (about 20-25 minutes on 2 cores)
that still prunes past 90%: a short parent schedule and 3 retraining epochs per cycle.
"""
from tfprune import config as config_lib


def get_config(arg=None):
    config = config_lib.base()
    config.data.name = "cifar10"
    config.model.name = "resnet20"
    config.train.update(epochs=182, batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4,
                        warmup_epochs=5, lr_schedule="multistep", lr_milestones=(91, 136),
                        lr_gamma=0.1)
    # 69 keep ratios from 0.99 to 0.02, every third a prune-retrain cycle: 15% ... 98%.
    config.prune.spacing = ("geometric(0.99, 0.855, 2)", "geometric(0.85, 0.15, 58)",
                            "linear(0.132, 0.02, 9)")
    config.prune.cycles = 23
    config.prune.retrain_epochs = 182
    if arg == "quick":
        config.train.update(epochs=15, warmup_epochs=1, lr_milestones=(8, 12))
        config.prune.spacing = ("geometric(0.7, 0.08, 6)",)  # 30% ... 92% pruned
        config.prune.cycles = 0
        config.prune.retrain_epochs = 3
    elif arg:
        raise ValueError(f"configs/resnet20.py takes no argument or 'quick', not {arg!r}")
    return config
