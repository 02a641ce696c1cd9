"""The Keras feed of the study progress display."""

from __future__ import annotations

import re

from kerasbatch.studies.progress import StudyProgress


def test_the_keras_feed_reports_each_epoch_with_val_accuracy_and_gns(tmp_path):
    from kerasbatch.training import train
    from kerasbatch.store import Store
    from tests.conftest import dots_run

    lines = []
    with StudyProgress(1, live=False, write=lines.append, every=0) as progress:
        progress.start_run(1, 32, epochs=2)
        result = train.run(dots_run(epochs=2, diagnostics=("gns",), diagnostics_every=2), Store(tmp_path, "p"),
                           verbose=0, callbacks=[progress.callback()])
        progress.finish_run(train.describe(result))
    epoch_lines = [line for line in lines if ": epoch" in line]
    assert [line.split(": ")[1].split(",")[0] for line in epoch_lines] == ["epoch 1/2", "epoch 2/2"]
    final = result.summary["final_val_accuracy"]
    assert f"val acc {final:.3f}" in epoch_lines[-1] and re.search(r"gns [0-9.e+]+,", epoch_lines[-1])
    assert lines[-1].startswith("[1/1] batch 32 ok, val_accuracy")
