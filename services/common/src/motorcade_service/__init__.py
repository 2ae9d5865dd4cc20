"""What the Motorcade services share: settings, the database pool, migrations, API-key authentication, errors,
middleware, JSON logs, health routes, the app's common parts and the command line."""

__version__ = "0.1.0"
