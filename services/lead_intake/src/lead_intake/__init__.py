"""Motorcade lead-intake API: the public intake form's endpoint and the staff's view of leads."""

__version__ = "0.1.0"
