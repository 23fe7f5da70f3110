"""Files a run writes follow the process umask, as open() would make them: the atomic
writes' temporaries (tempfile.mkstemp, mode 0600) and published files used to keep 0600
whatever the umask."""
import os
import stat

import numpy as np
import pytest

from tfprune import storage


def write_every_kind(folder):
    """One file of each of storage's writers: {name: path}."""
    paths = {name: os.path.join(folder, name) for name in
             ("record.json", "file.bin", "array.npy", "arrays.npz", "published.tar")}
    storage.write_json(paths["record.json"], {"a": 1})
    storage.write_bytes(paths["file.bin"], b"content")
    storage.save_array(paths["array.npy"], np.arange(4, dtype=np.uint8))
    paths["array.npy.sha256"] = paths["array.npy"] + storage.DIGEST_SUFFIX
    storage.save_arrays(paths["arrays.npz"], {"x": np.zeros(3)}, {"checkpoint": "0" * 64})
    staged = os.path.join(folder, "staged")
    with open(staged, "wb") as stream:
        stream.write(b"archive")
    os.chmod(staged, 0o600)  # as tempfile made it
    storage.publish(staged, paths["published.tar"])
    return paths


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        paths = write_every_kind(str(tmp_path))
    finally:
        os.umask(previous)
    assert {name: oct(stat.S_IMODE(os.stat(path).st_mode)) for name, path in paths.items()} == {
        name: oct(mode) for name in paths}
    assert sorted(os.listdir(tmp_path)) == sorted(paths)  # no temporaries left behind
