"""One trace of the train step serves every batch size of a run whose batch changes."""


def test_one_trace_of_the_train_step_serves_every_batch_size(adaptive_cli_run):
    _, history, summary = adaptive_cli_run
    sizes = {entry["batch_size"] for entry in summary["schedule"]}
    assert len(sizes) > 1 and summary["train_traces"] == 1
