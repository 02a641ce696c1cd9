"""The batch over training, for runs whose batch changed."""


def test_the_study_figures_show_the_batch_over_training(increase_run):
    from kerasbatch.reports.plots.figures import build_figures

    figure = build_figures(increase_run.path.parent)["batch_schedule"]
    batch_axis = figure.axes[0]
    assert batch_axis.get_lines()[0].get_ydata().tolist() == [32, 32, 320, 320]
