"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Something the user asked for cannot be done as asked.

    The message says what was wrong, what was expected and how to fix it, in one line.
    """

    exit_code = 2


class DataUnavailable(UserError):
    """A named dataset has no source on this machine."""


class ExportError(UserError):
    """A model could not be exported or its export does not match the model."""
