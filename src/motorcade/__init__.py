"""Motorcade's conductor: the runbook as data, applied step by step with every rule enforced as a gate.

The library never prints and never exits: it raises `motorcade.errors.MotorcadeError` subclasses and
reports progress through a `motorcade.context.Reporter`. The CLI lives in `motorcade.cli`.
"""

__version__ = "0.1.0"
