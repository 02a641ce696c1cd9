"""history.csv: one row per epoch, columns that appear later, appended or rewritten whole."""

import math

import pandas as pd

from kerasbatch.callbacks import HistoryFile

from tests.callbacks.driver import drive


def test_history_file_keeps_columns_that_appear_later(tmp_path):
    writer = HistoryFile(tmp_path / "history.csv")
    drive(writer, 3, 1, lambda e: {"loss": 1.0 / (e + 1), **({"gns": 40.0 + e} if e else {})})
    frame = pd.read_csv(tmp_path / "history.csv")
    assert list(frame.columns) == ["epoch", "loss", "gns"]
    assert frame["epoch"].tolist() == [1, 2, 3]
    assert math.isnan(frame["gns"][0]) and frame["gns"][2] == 42.0
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_history_file_appends_rows_without_new_columns_and_rewrites_for_a_new_one(tmp_path):
    path = tmp_path / "history.csv"
    writer = HistoryFile(path)
    writer.on_train_begin()
    logs = [{"loss": 0.9}, {"loss": 0.8, "gns": 40.0}, {"loss": 0.7, "gns": 41.0}, {"loss": 0.6},
            {"loss": 0.5, "gns": 43.0, "lr": 0.1}]
    files = []
    for epoch, row in enumerate(logs):
        writer.on_epoch_end(epoch, dict(row))
        files.append(path.stat().st_ino)
    # Epochs 3 and 4 add no column: appended to the file epoch 2 wrote; epoch 5's lr rewrites it.
    assert files[2] == files[3] and files[4] != files[3]
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["epoch", "loss", "lr", "gns"]
    assert frame["loss"].tolist() == [0.9, 0.8, 0.7, 0.6, 0.5]
    assert frame["gns"].tolist()[1:3] == [40.0, 41.0] and math.isnan(frame["gns"][3])
    assert frame["lr"].tolist()[4] == 0.1 and frame["lr"].isna().sum() == 4
