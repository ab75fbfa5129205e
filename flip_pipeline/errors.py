"""The one exception type users see: bad input, named precisely."""


class FlipInputError(Exception):
    """Bad input: the message names the file, row or config key at fault.

    The CLI prints it without a traceback and exits with status 2.
    """
