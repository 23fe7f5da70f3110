"""The workdir's exported files are its networks' files alone: a temporary that a killed
write left behind (.tmp-*) is no network (it once became network "" of variant tmp-*)."""
from tfprune import workdir


def test_a_killed_writes_temporary_is_not_an_exported_file(tmp_path):
    folder = tmp_path / "tflite"
    folder.mkdir()
    for name in ("wt-01.int8.tflite", "parent.float32.tflite", ".tmp-bpds6iom.tflite",
                 "parent.float32.json"):
        (folder / name).write_bytes(b"x")
    assert list(workdir.tflite_files(str(tmp_path))) == [("parent", "float32"), ("wt-01", "int8")]
