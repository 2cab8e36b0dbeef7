"""Evaluation: datasets, metrics and the runner behind ``rag eval``."""
