"""Dialogue evals: YAML suites run against a live avatar server over the real protocol.

``python -m evals run SUITE...`` (or ``avatar-eval``); see docs/evals.md.
"""
