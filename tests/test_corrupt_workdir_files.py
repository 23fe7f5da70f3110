"""A truncated file in a workdir ends in one line, never a traceback: a finished stage's
record (checkpoints/**/*.json) is refused, naming the file and how to redo the stage
(JSONDecodeError before); a truncated predictions .npz (BadZipFile before) or tflite facts
file is rebuilt, with a log line, and the results are those of the intact run."""

import pytest

from conftest import results_differences, rerun, tiny_config
from tfprune import cli, pipeline, workdir


def truncate(path):
    with open(path, "rb") as stream:
        content = stream.read()
    with open(path, "wb") as stream:
        stream.write(content[: len(content) // 2])


@pytest.mark.parametrize("network_id", [workdir.PARENT, "wt-01"])
def test_a_truncated_stage_record_is_refused_in_one_line(copy, network_id, capsys):
    checkpoint = workdir.checkpoint(copy, network_id)
    truncate(workdir.record(checkpoint))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.guarded(lambda: pipeline.run(tiny_config(), copy, log=lambda _: None))
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {workdir.record(checkpoint)} is unreadable (")
    assert error.endswith(f"); delete it and {checkpoint} to redo that stage, then rerun the "
                          "same command\n")
    assert error.count("\n") == 1


def test_truncated_predictions_and_facts_are_rebuilt(finished, copy):
    parent_predictions = workdir.predictions(copy, workdir.PARENT)
    exported_predictions = workdir.predictions(copy, "wt-02", "float32")
    facts = workdir.tflite_facts(copy, "wt-01", "float32")
    for path in (parent_predictions, exported_predictions, facts):
        truncate(path)
    results, logs = rerun(copy)
    for path in (parent_predictions, exported_predictions):
        assert (f"{path}: computed again (unreadable, or written before a metric was added)"
                in logs)
    tflite_file = workdir.tflite_file(copy, "wt-01", "float32")
    assert (f"{tflite_file}: exporting it again (wt-01.float32.json is missing or "
            "unreadable)") in logs
    assert results_differences(finished[1], results) == []
