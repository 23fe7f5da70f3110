"""A cached corruption array is checked against the digest saved beside it: corrupt bytes
behind an intact .npy header (which changed accuracies without a word), a truncated file
or a missing digest make it generated again, with a log line saying why."""
import os

import numpy as np
import pytest

from tfprune import config as config_lib
from tfprune import data, distributions, storage


@pytest.fixture(scope="module")
def digits():
    return data.load(config_lib.base().data, seed=0)


def build(dataset, cache_dir):
    """The contrast-3 distribution, from the cache when it is sound: (images, log lines)."""
    eval_config = config_lib.base().eval
    eval_config.corruptions, eval_config.severities = ("contrast",), (3,)
    eval_config.corruption_source = "generated"
    logs = []
    built, _ = distributions.build(dataset, eval_config, config_lib.base().data, cache_dir,
                                   logs.append)
    return built["contrast_3"].images, [line for line in logs if "generating" in line]


def cache_file(cache_dir):
    name, = [n for n in os.listdir(cache_dir) if n.endswith(".npy")]
    return os.path.join(cache_dir, name)


def test_a_cached_array_is_used_only_while_its_content_matches_its_digest(digits, tmp_path):
    cache_dir = str(tmp_path / "cache")
    generated, logs = build(digits, cache_dir)
    path = cache_file(cache_dir)
    assert logs == [f"generating contrast severity 3 (cached at {path})"]
    assert sorted(os.listdir(cache_dir)) == [os.path.basename(path),
                                             os.path.basename(path) + storage.DIGEST_SUFFIX]
    assert build(digits, cache_dir)[1] == []  # sound: read back
    again = (f"generating contrast severity 3 again: the cached file is corrupt, incomplete "
             f"or lacks its digest (cached at {path})")

    with open(path, "r+b") as stream:  # bytes behind the header: a valid array, other images
        stream.seek(-1000, os.SEEK_END)
        stream.write(bytes(1000))
    assert np.load(path).shape == generated.shape
    images, logs = build(digits, cache_dir)
    assert logs == [again]
    np.testing.assert_array_equal(images, generated)
    np.testing.assert_array_equal(np.load(path), generated)

    with open(path, "r+b") as stream:
        stream.truncate(os.path.getsize(path) // 2)
    images, logs = build(digits, cache_dir)
    assert logs == [again]
    np.testing.assert_array_equal(images, generated)

    os.remove(path + storage.DIGEST_SUFFIX)  # written before digests, or killed between
    images, logs = build(digits, cache_dir)
    assert logs == [again]
    np.testing.assert_array_equal(images, generated)
    assert build(digits, cache_dir)[1] == []
