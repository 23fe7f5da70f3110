"""VGG16-BN on CIFAR-10, the study's protocol as its reference code runs it (torchprune
paper/lost/param/cifar/vgg16.yaml, training/cifar/vgg.yaml; tfprune.study): 3 networks,
300 epochs with a 10-epoch warm-up and the lr halved every 30 epochs; each of 20
retrainings runs 150 epochs of the same schedule, still halving every 30."""
from tfprune import study


def get_config():
    return study.config("vgg16_bn")
