"""The one error type every layer may raise for bad user input."""


class UsageError(Exception):
    """Bad user input: the message says what to fix. The CLI exits 2."""
