"""Which run of a study is the best: by validation accuracy or by seconds to the target, and in a study
with arms or repeats by the best mean over seeds first. ``export --best`` and the report both ask here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kerasbatch.config.commands import OBJECTIVES
from kerasbatch.errors import KerasbatchError
from kerasbatch.reports.tables import has_repeats, study_table, with_arm
from kerasbatch.store import STUDY, read_json


METRICS = {name: (objective.field, objective.direction) for name, objective in OBJECTIVES.items()}

def default_metric(study_dir: str | Path) -> str:
    """A tune study's objective (what its search ranked the trials by), else ``val_accuracy``."""
    path = Path(study_dir) / STUDY
    manifest = read_json(path) if path.is_file() else {}
    if manifest.get("kind") == "tune":
        return (manifest.get("settings") or {}).get("objective") or "val_accuracy"
    return "val_accuracy"

def best_run(study_dir: str | Path, metric: str | None = None) -> Path:
    """The folder of the study's best finished ``ok`` run.

    In a study with arms or repeats (:func:`has_repeats`) the setting comes first: the (arm, batch size)
    with the best mean over its seeds, then that setting's best seed.

    Args:
        study_dir: a study folder ``<out>/<study>``.
        metric: ``val_accuracy`` (highest ``best_val_accuracy``) or ``seconds_to_target`` (fewest
            seconds to the target; runs that never reached it are left out). By default a tune study's
            objective, else ``val_accuracy``. Ties go to the smaller batch size.

    Raises:
        KerasbatchError: the metric is unknown, or no ok run has a value for it.
    """
    study_dir = Path(study_dir)
    return study_dir / best_run_id(study_table(study_dir), metric or default_metric(study_dir), study_dir)

def best_run_id(table: pd.DataFrame, metric: str, study_dir: str | Path = "the study") -> str:
    """:func:`best_run` on a :func:`study_table` already read: the best run's id (``study_dir`` names the
    study in errors)."""
    if metric not in OBJECTIVES:
        raise KerasbatchError(f"unknown metric {metric!r}; choose one of {', '.join(OBJECTIVES)}")
    column, direction = OBJECTIVES[metric].field, OBJECTIVES[metric].direction
    ok = table[table["status"] == "ok"]
    if ok.empty:
        raise KerasbatchError(f"no ok run in {str(study_dir)!r}: every run failed")
    # Runs without a value (never reached the target) drop out; Int64 gaps become NaN first.
    values = pd.to_numeric(ok[column], errors="coerce").astype(float).dropna() if column in ok else ok.iloc[:0]
    if values.empty:
        raise KerasbatchError(f"no ok run in {str(study_dir)!r} has a {column} to rank by")
    if has_repeats(table):
        return _best_of_best_setting(table, column, direction)
    best = values.idxmax() if direction == "max" else values.idxmin()
    return str(ok.loc[best, "run_id"])

def _best_of_best_setting(table: pd.DataFrame, column: str, direction: str) -> str:
    """The run id of the best seed of the best (arm, batch size) by its mean over seeds.

    A setting whose every run is ok and has a value outranks one with a failed or unreached run (whose
    mean would count only its lucky seeds); only when no setting is complete do incomplete ones compete.
    """
    frame = with_arm(table)
    frame = frame.assign(_value=pd.to_numeric(frame[column], errors="coerce").astype(float)
                         .where(frame["status"] == "ok"))
    groups = frame.groupby(["arm", "batch_size"], sort=False)["_value"]
    settings = pd.DataFrame({"mean": groups.mean(), "complete": groups.count() == groups.size()}).dropna()
    if settings["complete"].any():
        settings = settings[settings["complete"]]
    arm, batch_size = settings["mean"].idxmax() if direction == "max" else settings["mean"].idxmin()
    members = frame[(frame["arm"] == arm) & (frame["batch_size"] == batch_size)].dropna(subset=["_value"])
    best = members["_value"].idxmax() if direction == "max" else members["_value"].idxmin()
    return str(members.loc[best, "run_id"])
