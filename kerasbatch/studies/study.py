"""Study: every arm × batch size × seed of a study file, trained as runs of one study folder, then written up.

The runs are named ``<arm>-bs<B>-s<seed>`` and each summary records its ``arm`` and ``seed``, so the
table, the figures and the report can take the seeds of one setting together (mean ± std). Like a sweep,
a study is safe to run again: finished runs are kept and skipped, an interrupted one is redone, and more
repeats (``--repeats``) add seeds to the runs already there. TensorFlow is imported when a study runs.

Example::

    from kerasbatch.studies.study import run_study
    result = run_study("experiments/batch_sweep.yaml", "runs", quick=True, repeats=2)
    print(result.text)  # the mean ± std table
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from kerasbatch.reports import tables
from kerasbatch.studies.progress import StudyProgress
from kerasbatch.store import Store, check_writable
from kerasbatch.config.study import StudyConfig, StudyRun, load_study
from kerasbatch.studies.sweep import tracked_run

if TYPE_CHECKING:
    from kerasbatch.training import train

KIND = "study"


@dataclass
class StudyResult:
    """What a study left behind.

    Attributes:
        study_dir: the study folder.
        runs: every run's result (skipped ones included), in the order they ran.
        table: the study table taken together per (arm, batch size): :func:`kerasbatch.reports.tables.aggregate`.
        text: the table as printed (mean ± std).
        figures: the figure files written (``plots/``), empty when no run finished ok.
        report: the HTML report, ``None`` when no run finished ok.
    """

    study_dir: Path
    runs: list[train.RunResult]
    table: pd.DataFrame
    text: str
    figures: list[Path] = field(default_factory=list)
    report: Path | None = None

    @property
    def ok(self) -> bool:
        return all(run.ok for run in self.runs)


def run_study(config: StudyConfig | str | Path, out: str | Path = "runs", *, quick: bool = False,
              repeats: int | None = None, progress: StudyProgress | None = None, verbose: int = 0) -> StudyResult:
    """Train every run of a study into ``<out>/<study name>``, then write its table, figures and report.

    Everything is checked (the data, each arm's model, every batch size, the study's earlier settings and
    runs) before the first run starts, so a mistake costs nothing and writes nothing.

    Args:
        config: the study, or the path of a study file (see :func:`kerasbatch.config.study.load_study`).
        out: the folder of studies.
        quick: with a path, apply the file's ``quick:`` block (a config has made that choice already).
        repeats: with a path, the seeds per setting instead of the file's (a config has its own).
        progress: the display to keep up to date; ``None`` for silence.
        verbose: Keras's own per-epoch output inside each run (0 for none, 2 for a line per epoch).
    """
    if isinstance(config, (str, Path)):
        config = load_study(config, quick=quick, repeats=repeats)
    elif quick or repeats is not None:
        raise ValueError("quick and repeats apply to a study file; a StudyConfig has its own")
    store = Store(out, config.name)
    check_writable(store.study_dir)
    runs = list(config.runs())
    _validate(runs, store)
    store.claim_study(KIND, config.shared_settings())
    results = []
    for index, run in enumerate(runs, start=1):
        results.append(tracked_run(run.config, store, progress, index=index, run_id=run.run_id, verbose=verbose,
                                   extra={"arm": run.arm}, label=f"[{index}/{len(runs)}] {run.run_id}"))
        results[-1].model = None  # a study keeps summaries, not networks
    return _write_up(store.study_dir, results)


def _validate(runs: list[StudyRun], store: Store) -> None:
    """Check every run before any trains: data and batch size per setting, the model per arm, the store."""
    from kerasbatch.training import train

    checked: set[tuple[str, int]] = set()
    for run in runs:
        setting = (run.arm, run.config.batch_size)
        if setting not in checked:  # the seed changes neither the data nor the model's shape
            # One model per arm serves every batch size.
            train.validate(run.config, model=not any(arm == run.arm for arm, _ in checked))
            checked.add(setting)
        store.check_run(run.run_id, run.config.identity())


def _write_up(study_dir: Path, results: list[train.RunResult]) -> StudyResult:
    """The table of this command's runs, then the figures and the report of the whole study folder."""
    frame = tables.study_table(study_dir)
    frame = frame[frame["run_id"].isin([result.run_id for result in results])]
    summary = StudyResult(study_dir, results, tables.aggregate(frame), tables.render_aggregate(frame))
    if any(result.ok for result in results):
        from kerasbatch.reports.plots.figures import plot_study
        from kerasbatch.reports.html import write_report

        summary.figures = plot_study(study_dir)
        pngs = {path.stem: path.read_bytes() for path in summary.figures if path.suffix == ".png"}
        summary.report = write_report(study_dir, figures=pngs)
    return summary
