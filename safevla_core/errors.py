"""Errors the CLI reports as one line (no traceback): the user's input was wrong."""


class UserError(Exception):
    """A mistake in the user's input (path, value, option). The message names the value and
    the fix; ``safevla`` prints it and exits with status 2."""
