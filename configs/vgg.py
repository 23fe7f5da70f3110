"""VGG16-BN on CIFAR-10 with the study's schedule (torchprune paper/lost vgg16)."""
from tfprune import config as config_lib


def get_config():
    config = config_lib.base()
    config.data.name = "cifar10"
    config.model.name = "vgg16_bn"
    config.train.update(epochs=300, batch_size=256, lr=0.05, momentum=0.9, weight_decay=5e-4,
                        warmup_epochs=0, lr_schedule="step", lr_step_epochs=30, lr_gamma=0.5)
    config.prune.spacing = ("geometric(0.99, 0.855, 2)", "geometric(0.85, 0.02, 58)")
    config.prune.cycles = 20
    config.prune.retrain_epochs = 150
    config_lib.use_study_evaluation(config)
    return config
