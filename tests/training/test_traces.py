"""One trace of the train step serves every batch size of a run whose batch changes."""


def test_one_trace_of_the_train_step_serves_every_batch_size(adaptive_cli_run):
    _, history, summary = adaptive_cli_run
    assert history["batch_size"].nunique() > 1 and summary["train_traces"] == 1
