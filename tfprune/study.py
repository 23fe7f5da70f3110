"""The study's networks and protocol as its reference code runs them (torchprune:
paper/lost/param/cifar/<network>.yaml and src/experiment/.../training/cifar/*.yaml).

`config(network)` is the whole study run of one network: its training schedule, the
cascade's keep ratios, the reference's rules where tfprune's defaults differ
(`use_reference_protocol`) and the study's test distributions (`use_study_evaluation`).
The shipped configs (configs/resnet20.py, configs/vgg.py, configs/study.py) are thin
users of it.
"""
import dataclasses

from tfprune import config as config_lib
from tfprune import corruptions


@dataclasses.dataclass(frozen=True)
class Network:
    """One study network: its training (train.* keys), its keep-ratio spacing and how
    many prune-retrain cycles split it, and its retraining epochs (0 = as training)."""
    train: dict
    spacing: tuple
    cycles: int
    retrain_epochs: int = 0


_RESNET = dict(epochs=182, batch_size=128, lr=0.1, momentum=0.9, nesterov=False,
               weight_decay=1e-4, warmup_epochs=5, lr_schedule="multistep",
               lr_milestones=(91, 136), lr_gamma=0.1)
_TO_2_PERCENT = ("geometric(0.99, 0.855, 2)", "geometric(0.85, 0.02, 58)")
NETWORKS = {
    "resnet20": Network(_RESNET, ("geometric(0.99, 0.855, 2)", "geometric(0.85, 0.15, 58)",
                                  "linear(0.132, 0.02, 9)"), cycles=23),
    "resnet56": Network(_RESNET, _TO_2_PERCENT, cycles=20),
    "resnet110": Network(_RESNET, _TO_2_PERCENT, cycles=20),
    "vgg16_bn": Network(dict(epochs=300, batch_size=256, lr=0.05, momentum=0.9, nesterov=False,
                             weight_decay=5e-4, warmup_epochs=10, lr_schedule="step",
                             lr_step_epochs=30, lr_gamma=0.5),
                        _TO_2_PERCENT, cycles=20, retrain_epochs=150),
    "wrn16_8": Network(dict(epochs=200, batch_size=128, lr=0.1, momentum=0.9, nesterov=True,
                            weight_decay=5e-4, warmup_epochs=5, lr_schedule="multistep",
                            lr_milestones=(60, 120, 160), lr_gamma=0.2),
                       ("geometric(0.99, 0.855, 2)", "geometric(0.85, 0.10, 58)",
                        "linear(0.09182, 0.02, 9)"), cycles=23),
    "densenet22": Network(dict(epochs=300, batch_size=64, lr=0.1, momentum=0.9, nesterov=True,
                               weight_decay=1e-4, warmup_epochs=10, lr_schedule="multistep",
                               lr_milestones=(150, 225), lr_gamma=0.1),
                          ("geometric(0.99, 0.855, 2)", "geometric(0.85, 0.10, 58)",
                           "linear(0.0918, 0.0469, 6)"), cycles=22),
}
# The robust-training arm (paper/lost/param/cifar_c): 16 keep ratios, each retrained.
ROBUST_SPACING = ("geometric(0.80, 0.03, 16)",)


def use_reference_protocol(config):
    """The reference's rules where tfprune's defaults differ: 3 networks (seeds 0, 1, 2),
    retraining on the training schedule's epochs, dead weights found by zero gradient
    with BatchNorm counted as kept, the budget met within 0.5%, the data set's fixed
    normalisation, frost from the reference's photographs (docs/methods.md, "The
    reference protocol")."""
    config.seeds = (0, 1, 2)
    config.prune.retrain_schedule = "as_training"
    config.prune.dead_weights = "zero_gradient"
    config.prune.budget_tolerance = 0.005
    config.data.normalization = "auto"
    config.eval.frost = "photographs"


def use_study_evaluation(config):
    """The study's CIFAR test sets: all 19 corruptions at severity 3, severities 1-5 of
    brightness, fog, jpeg and zoom, CIFAR-10.1, noise on 1000 images x 100 draws, and a
    separately trained reference network. The test group is CIFAR-10.1 and the 19 at
    severity 3; the extra severities are reported apart, not averaged into it."""
    config.eval.corruptions = corruptions.NAMES
    config.eval.severities = (3,)
    config.eval.extra_corruptions = tuple(
        f"{name}_{severity}" for name in ("brightness", "fog", "jpeg_compression", "zoom_blur")
        for severity in (1, 2, 4, 5))
    config.eval.shifts = ("cifar10_1",)
    config.eval.noise_images, config.eval.noise_draws = 1000, 100
    config.eval.reference_network = True
    config.eval.groups = ("train=nominal", "test=cifar10_1,*_3")
    config.eval.excess_error_groups = ("train", "test")


def config(network):
    """The study run of `network` (a key of NETWORKS) on CIFAR-10."""
    if network not in NETWORKS:
        raise ValueError(f"{network!r} is not a study network; allowed: {', '.join(NETWORKS)}")
    spec = NETWORKS[network]
    run = config_lib.base()
    run.data.name = "cifar10"
    run.model.name = network
    run.train.update(spec.train)
    run.prune.spacing = spec.spacing
    run.prune.cycles = spec.cycles
    run.prune.retrain_epochs = spec.retrain_epochs or spec.train["epochs"]
    use_reference_protocol(run)
    use_study_evaluation(run)
    return run
