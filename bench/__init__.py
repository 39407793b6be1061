"""Benchmarks for hookline, run with ``python -m bench`` from the repository root.

Every figure is judged as a ratio against a ceiling measured in the same run on
the same machine (see the brief, "How the speed is judged"). Nothing here is part
of the test suite.
"""
