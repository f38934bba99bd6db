"""Evaluation of endpoints and of the alignment stages: judges, suites, runner and CLI."""
