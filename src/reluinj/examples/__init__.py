"""Runnable examples: ``python -m reluinj.examples.<name> --help``."""
