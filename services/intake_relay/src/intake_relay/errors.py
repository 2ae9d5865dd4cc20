"""The relay's errors: one base class; each message is one line a person can act on."""


class RelayError(Exception):
    """Base of every error the relay raises on purpose."""


class ConfigError(RelayError, ValueError):
    """The settings file is missing, unreadable or incomplete."""


class LockedError(RelayError):
    """Another relay run holds the lock."""
