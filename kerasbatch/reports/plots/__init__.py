"""The figures of a study, one module a kind of figure."""
