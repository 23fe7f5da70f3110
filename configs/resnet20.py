"""ResNet20 on CIFAR-10 with the study's schedule (torchprune paper/lost resnet20).

`--config configs/resnet20.py:quick` is a CPU-sized run (about 20-25 minutes on 2 cores)
that still prunes past 90%: a short parent schedule and 3 retraining epochs per cycle.
"""
from tfprune import config as config_lib
from tfprune import corruptions


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
    # The study's test sets: all 19 corruptions at severity 3, severities 1-5 of four.
    config.eval.corruptions = corruptions.NAMES
    config.eval.extra_corruptions = tuple(
        f"{name}_{severity}" for name in ("brightness", "fog", "jpeg_compression", "zoom_blur")
        for severity in (1, 2, 4, 5))
    config.eval.shifts = ("cifar10_1",)
    config.eval.noise_images = 1000
    config.eval.noise_draws = 100
    config.eval.reference_network = True
    if arg == "quick":
        config.train.update(epochs=15, warmup_epochs=1, lr_milestones=(8, 12))
        config.prune.spacing = ("geometric(0.7, 0.08, 6)",)  # 30% ... 92% pruned
        config.prune.cycles = 0
        config.prune.retrain_epochs = 3
        config.eval.corruptions = config_lib.base().eval.corruptions  # six, at severity 3
        config.eval.extra_corruptions = ()
        config.eval.noise_images, config.eval.noise_draws = 200, 4
        config.eval.reference_network = False
    elif arg:
        raise ValueError(f"configs/resnet20.py takes no argument or 'quick', not {arg!r}")
    return config
