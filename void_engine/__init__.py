"""VOID Bridge engine: the persistent GPU process that runs the VOID model on studio plates."""

__version__ = "0.1.0"
