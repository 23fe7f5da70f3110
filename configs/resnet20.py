"""ResNet20 on CIFAR-10 with the study's schedule (torchprune paper/lost resnet20).

Arguments, comma-separated after the file name (`configs/resnet20.py:quick,robust`):
- quick: a CPU-sized run (under half an hour on 2 cores) that still prunes past 90%:
  a 10-epoch parent, 5 cycles of 3 retraining epochs, six corruptions, no noise sweep
  (with a 12-epoch parent it took 30.4 minutes here).
- robust: the study's robust-training arm: train and prune on images corrupted by nine
  CIFAR-10-C corruptions (severity 0-5); report the held-out ten and CIFAR-10.1.
- augmix: the same evaluation, with keras-cv AugMix training instead.
"""
from tfprune import config as config_lib
from tfprune import corruptions, data

ARGUMENTS = ("quick", "robust", "augmix")


def get_config(arg=""):
    arguments = [a for a in (arg or "").split(",") if a]
    unknown = [a for a in arguments if a not in ARGUMENTS]
    if unknown:
        raise ValueError(f"configs/resnet20.py: unknown argument {unknown[0]!r}; "
                         f"allowed: {', '.join(ARGUMENTS)} (comma-separated)")
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
    config_lib.use_study_evaluation(config)
    if "quick" in arguments:
        config.train.update(epochs=10, warmup_epochs=1, lr_milestones=(5, 8))
        config.prune.spacing = ("geometric(0.7, 0.08, 5)",)  # 30% ... 92% pruned
        config.prune.cycles = 0
        config.prune.retrain_epochs = 3
        config.eval.corruptions = config_lib.base().eval.corruptions  # six, at severity 3
        config.eval.extra_corruptions = ()
        config.eval.noise_images = 0  # noise similarity: the full config (1000 x 100 draws)
        config.eval.reference_network = False
    if "robust" in arguments or "augmix" in arguments:
        config.data.train_shift = "corruptions" if "robust" in arguments else "augmix"
        held_out = [c for c in corruptions.NAMES if c not in data.ROBUST_CORRUPTIONS]
        config.eval.corruptions = corruptions.NAMES
        config.eval.groups = (
            "train-like=nominal," + ",".join(f"{c}_3" for c in data.ROBUST_CORRUPTIONS),
            "held-out=cifar10_1," + ",".join(f"{c}_3" for c in held_out))
    return config
