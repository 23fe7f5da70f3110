"""ResNet20 on CIFAR-10, the study's protocol as its reference code runs it (torchprune
paper/lost/param/cifar/resnet20.yaml): 3 networks, 23 prune-retrain cycles through 69
keep ratios, every retraining the full 182-epoch schedule (docs/methods.md lists the
reference's rules this selects).

Arguments, comma-separated after the file name (`configs/resnet20.py:quick,robust`):
- quick: a CPU-sized run (under half an hour on 2 cores) that still prunes past 90%:
  one network, a 10-epoch parent, 5 cycles of 3 retraining epochs on the schedule
  rescaled to them, six corruptions, no noise sweep.
- robust: the study's robust-training arm (paper/lost/param/cifar_c): train and prune on
  images corrupted by nine CIFAR-10-C corruptions (severity 0-5), 16 keep ratios from
  0.80 to 0.03, each one retrained; the train group is nominal and the nine at
  severity 3, the test group CIFAR-10.1 and the held-out ten.
- augmix: the same evaluation, with keras-cv AugMix training instead.
"""
from tfprune import config as config_lib
from tfprune import corruptions, data, study

ARGUMENTS = ("quick", "robust", "augmix")


def get_config(arg=""):
    arguments = [a for a in (arg or "").split(",") if a]
    unknown = [a for a in arguments if a not in ARGUMENTS]
    if unknown:
        raise ValueError(f"configs/resnet20.py: unknown argument {unknown[0]!r}; "
                         f"allowed: {', '.join(ARGUMENTS)} (comma-separated)")
    config = study.config("resnet20")
    if "robust" in arguments or "augmix" in arguments:
        config.data.train_shift = "corruptions" if "robust" in arguments else "augmix"
        held_out = [c for c in corruptions.NAMES if c not in data.ROBUST_CORRUPTIONS]
        config.prune.spacing = study.ROBUST_SPACING
        config.prune.cycles = 0  # every keep ratio retrained
        config.eval.groups = (
            "train=nominal," + ",".join(f"{c}_3" for c in data.ROBUST_CORRUPTIONS),
            "test=cifar10_1," + ",".join(f"{c}_3" for c in held_out))
    if "quick" in arguments:
        config.seeds = ()
        config.train.update(epochs=10, warmup_epochs=1, lr_milestones=(5, 8))
        config.prune.spacing = ("geometric(0.7, 0.08, 5)",)  # 30% ... 92% pruned
        config.prune.cycles = 0
        config.prune.retrain_epochs = 3
        config.prune.retrain_schedule = "rescaled"  # 3 epochs of a 10-epoch schedule
        config.eval.extra_corruptions = ()
        config.eval.noise_images = 0  # noise similarity: the full config (1000 x 100 draws)
        config.eval.reference_network = False
        if "robust" not in arguments and "augmix" not in arguments:
            config.eval.corruptions = config_lib.base().eval.corruptions  # six, severity 3
            config.eval.groups = ("train=nominal", "test=*_3")
    return config
