"""The errors a user can fix: each message is one line that names the fix, and the
command-line entry points turn them into that line and exit code 2 (tfprune.cli).

They live here, below every other module, so that any layer can raise them without
importing the layer that owns the concept.
"""


class UserError(Exception):
    """Base of every error whose message tells the user what to change."""


class ConfigError(UserError, ValueError):
    """A config value (or flag) that cannot run."""


class DataError(UserError, RuntimeError):
    """Missing or malformed data."""


class TrainingError(UserError, RuntimeError):
    """Training diverged; the message names where and what to change."""


class WorkdirError(UserError, RuntimeError):
    """A run's file that cannot be written (full disk, read-only folder) or read back
    (truncated, corrupt)."""
