"""The robust-training mixture: nine corruptions, severities 0-5, uniformly drawn."""
import numpy as np

from tfprune import data


def test_mixture_draws_each_corruption_and_severity_uniformly():
    rng = np.random.default_rng(0)
    images = rng.integers(40, 216, (1800, 32, 32, 3), dtype=np.uint8)
    mixed, choice, severity = data.corruption_mixture(images, np.random.default_rng(1))
    assert mixed.shape == images.shape and mixed.dtype == np.uint8
    corruption_share = np.bincount(choice, minlength=9) / len(choice)
    severity_share = np.bincount(severity, minlength=6) / len(severity)
    np.testing.assert_allclose(corruption_share, 1 / 9, atol=0.03)
    np.testing.assert_allclose(severity_share, 1 / 6, atol=0.03)
    clean = severity == 0
    np.testing.assert_array_equal(mixed[clean], images[clean])  # severity 0 = clean
    changed = np.any(mixed[~clean] != images[~clean], axis=(1, 2, 3))
    assert changed.mean() > 0.95
    again, _, _ = data.corruption_mixture(images, np.random.default_rng(1))
    np.testing.assert_array_equal(again, mixed)


def test_robust_pipeline_streams_a_fresh_mixture_every_epoch():
    rng = np.random.default_rng(0)
    images = rng.integers(40, 216, (8, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(8, dtype=np.int32)
    stream = data.train_pipeline(images, labels, 8, "none", seed=0, shift="corruptions")
    batches = [b for _, b in zip(range(2), stream)]
    first, second = (b[0].numpy() for b in batches)
    assert sorted(batches[0][1].numpy()) == list(range(8))  # every image once per epoch
    assert not np.array_equal(np.sort(first, axis=0), np.sort(second, axis=0))


def test_augmix_pipeline_mixes_augmented_views():
    rng = np.random.default_rng(0)
    images = rng.integers(40, 216, (8, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(8, dtype=np.int32)
    plain = next(iter(data.train_pipeline(images, labels, 8, "none", seed=0)))
    mixed = next(iter(data.train_pipeline(images, labels, 8, "none", seed=0, shift="augmix")))
    assert mixed[0].shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(mixed[1].numpy(), plain[1].numpy())  # same order
    assert float(np.abs(mixed[0].numpy() - plain[0].numpy()).mean()) > 1.0
    assert 0 <= float(mixed[0].numpy().min()) and float(mixed[0].numpy().max()) <= 255.001


def test_fit_trains_on_the_robust_stream_for_whole_epochs():
    from tfprune import config as config_lib, models, train

    config = config_lib.base()
    config.data.train_shift = "corruptions"
    config.train.update(epochs=2, batch_size=64)
    dataset = data.load(config.data, 0)
    model = models.build("cnn_small", (32, 32, 3), 10, dataset.mean, dataset.std)
    history = train.fit(model, dataset, config, 2)
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))
