"""opscenter: a terminal operations console for batch data pipelines."""

__version__ = "0.1.0"
