"""The commands that read a study: compare, plot, report and export."""

from __future__ import annotations

import io
import json

import pandas as pd

from kerasbatch.reports import tables

from tests.conftest import dots_run
from tests.cli.commands import assert_usage_error, call, one_error_line


def test_output_files_that_cannot_be_written(capsys, digits_sweep, tmp_path):
    store, _ = digits_sweep
    assert_usage_error(*call(capsys, "compare", str(store.study_dir), "--output", str(tmp_path / "no" / "t.md"))[::2],
                       "cannot write")
    assert_usage_error(*call(capsys, "report", str(store.study_dir), "--output", str(tmp_path))[::2], "cannot write")


def test_compare_formats_and_rerun_leaves_table_identical(capsys, digits_sweep):
    store, _ = digits_sweep
    code, csv_text, _ = call(capsys, "compare", str(store.study_dir), "--format", "csv")
    assert code == 0
    table = pd.read_csv(io.StringIO(csv_text))
    assert table["batch_size"].tolist() == [32, 256] and (table["status"] == "ok").all()
    for column in ("best_val_accuracy", "final_val_accuracy", "epochs_to_target", "steps_to_target",
                   "examples_to_target", "seconds_to_target", "samples_per_second", "train_seconds",
                   "generalization_gap", "learning_rate", "precision"):
        assert column in table.columns
    mtime = (store.study_dir / "bs32" / "summary.json").stat().st_mtime_ns
    code, _, err = call(capsys, "sweep", "--dataset", "digits", "--model", "mlp", "--batch-sizes", "32,256",
                        "--epochs", "3", "--precision", "float32", "--target", "0.5",
                        "--out", str(store.study_dir.parent), "--study", "s")
    assert code == 0 and err.count("already done") == 2
    assert (store.study_dir / "bs32" / "summary.json").stat().st_mtime_ns == mtime
    assert call(capsys, "compare", str(store.study_dir), "--format", "csv")[1] == csv_text
    for fmt, marker in (("markdown", "| batch |"), ("html", "<table"), ("latex", "\\begin{tabular}")):
        assert marker in call(capsys, "compare", str(store.study_dir), "--format", fmt)[1]
    records = json.loads(call(capsys, "compare", str(store.study_dir), "--format", "json")[1])
    assert [r["batch_size"] for r in records] == [32, 256]


def test_compare_columns_sort_and_output_file(capsys, digits_sweep, tmp_path):
    store, _ = digits_sweep
    target = tmp_path / "table.csv"
    code, out, _ = call(capsys, "compare", str(store.study_dir), "--format", "csv", "--columns",
                        "batch_size,learning_rate", "--sort", "learning_rate", "--output", str(target))
    assert code == 0 and out == ""
    assert target.read_text().splitlines()[0] == "batch_size,learning_rate"
    assert_usage_error(*call(capsys, "compare", str(store.study_dir), "--columns", "nope")[::2], "unknown column")


def test_plot_and_report_commands(capsys, tmp_path):
    from tests.study_factory import make_study

    study = make_study(tmp_path)
    code, out, _ = call(capsys, "plot", str(study), "--output", str(tmp_path / "figs"))
    assert code == 0 and (tmp_path / "figs" / "val_accuracy_vs_batch.png").stat().st_size > 0
    assert len(out.split()) == len(list((tmp_path / "figs").iterdir()))
    code, out, _ = call(capsys, "report", str(study), "--output", str(tmp_path / "r.html"))
    assert code == 0 and "<table" in (tmp_path / "r.html").read_text()
    assert_usage_error(*call(capsys, "report", str(tmp_path / "nothing"))[::2], "no study")


def test_export_into_a_folder_that_cannot_be_made_is_one_line(capsys, tmp_path):
    from kerasbatch.training import train
    from kerasbatch.store import Store

    result = train.run(dots_run(epochs=1, diagnostics=()), Store(tmp_path / "runs", "s"), verbose=0)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = call(capsys, "export", result.path, "--to", blocker / "export")
    one_error_line(code, err, "is not a folder")
    assert blocker.read_text() == "not a folder"


def test_export_best_takes_the_best_seed_of_the_best_mean_setting(study, tmp_path, capsys):
    _, result = study
    runs = tables.study_table(result.study_dir)
    means = runs.groupby(["arm", "batch_size"], sort=False)["best_val_accuracy"].mean()
    arm, batch_size = means.idxmax()
    setting = runs[(runs["arm"] == arm) & (runs["batch_size"] == batch_size)]
    expected = setting.loc[setting["best_val_accuracy"].idxmax(), "run_id"]
    code, out, err = call(capsys, "export", result.study_dir, "--best", "--to", tmp_path / "best")
    assert code == 0, err
    assert out.strip().startswith(f"exported {result.study_dir / expected} to")
    card = json.loads((tmp_path / "best" / "model_card.json").read_text())
    assert card["run_id"] == expected and card["study_run"] == {"arm": arm, "seed": int(expected[-1])}
