"""Motorcade people API: the directory of clients, staff and contacts, and the conversion of leads into people."""

__version__ = "0.1.0"
