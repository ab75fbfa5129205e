"""The one exception type users see: bad input, named precisely."""


class FlipInputError(Exception):
    """Bad input: the message names the file, row or config key at fault.

    The CLI prints it without a traceback and exits with status 2.
    """


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (for one-line errors), or its type's name when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
