"""ResNet20 on CIFAR-10, the study's protocol as its reference code runs it (torchprune
paper/lost/param/cifar/resnet20.yaml): 3 networks, 23 prune-retrain cycles through 69
keep ratios, every retraining the full 182-epoch schedule (docs/methods.md lists the
reference's rules this selects).

Arguments, comma-separated after the file name (`configs/resnet20.py:quick,robust`):
- quick: a CPU-sized run (under half an hour on 2 cores) that still prunes past 90%:
  one network, a 10-epoch parent, 5 cycles of 3 retraining epochs on the schedule
  rescaled to them, six corruptions, no noise sweep.
- cpu: a CPU-sized protocol whose parent passes its own control (retrained without
  pruning, its nominal accuracy should move less than 0.25 points): an 80-epoch one-cycle
  parent, then 6 targets from 30% to 95% pruned, each retrained 8 epochs on the
  one-cycle schedule rescaled to them; WT and FT; the six corruptions at severity 3 and
  a noise sweep of 500 images; bf16 training where the CPU has it (train.precision=auto).
  About 2.5 hours on 2 cores (docs/trust.md has the measured cost).
- robust: the study's robust-training arm (paper/lost/param/cifar_c): train and prune on
  images corrupted by nine CIFAR-10-C corruptions (severity 0-5), 16 keep ratios from
  0.80 to 0.03, each one retrained; the train group is nominal and the nine at
  severity 3, the test group CIFAR-10.1 and the held-out ten.
- augmix: the same evaluation, with keras-cv AugMix training instead.
"""
from tfprune import config as config_lib
from tfprune import corruptions, data, study

ARGUMENTS = ("quick", "cpu", "robust", "augmix")


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
    if "quick" in arguments and "cpu" in arguments:
        raise ValueError("configs/resnet20.py: quick and cpu are two protocols; pick one")
    if "cpu" in arguments:
        config.seeds = ()
        config.train.update(epochs=80, warmup_epochs=0, lr_schedule="one_cycle",
                            one_cycle_peak=0.3, precision="auto")
        config.prune.ratios = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
        config.prune.methods = "wt,ft"
        config.prune.retrain_epochs = 8
        config.prune.retrain_schedule = "rescaled"  # one cycle up and down in 8 epochs
        config.eval.extra_corruptions = ()
        config.eval.noise_images = 500
        config.eval.reference_network = False
        config.eval.control_network = True
        if "robust" not in arguments and "augmix" not in arguments:
            config.eval.corruptions = config_lib.base().eval.corruptions  # six, severity 3
            config.eval.groups = ("train=nominal", "test=*_3")
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
