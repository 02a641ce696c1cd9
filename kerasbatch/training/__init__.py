"""One run: config, dataset, model, ``fit`` with the measuring callbacks, a summary in the store."""
