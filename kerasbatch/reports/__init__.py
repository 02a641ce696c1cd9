"""What a study's runs are turned into: tables, text formats, figures and one HTML report."""

from kerasbatch.reports.html import write_report
from kerasbatch.reports.plots.figures import build_figures, plot_study
from kerasbatch.reports.tables import study_table

__all__ = ["build_figures", "plot_study", "study_table", "write_report"]
