"""Any study network on CIFAR-10 with the study's protocol as its reference code runs it
(tfprune.study): `--config configs/study.py:resnet56` (resnet20, resnet56, resnet110,
vgg16_bn, wrn16_8, densenet22)."""
from tfprune import study


def get_config(network="resnet20"):
    if network not in study.NETWORKS:
        raise ValueError(f"configs/study.py: unknown network {network!r}; allowed: "
                         f"{', '.join(study.NETWORKS)} (e.g. configs/study.py:resnet56)")
    return study.config(network)
