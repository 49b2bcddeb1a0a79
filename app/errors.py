"""The one error type the CLI turns into a one-line message and exit code 1."""


class StudioError(Exception):
    """A user-facing failure: bad input, a refused action, a missing file. The message is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def one_line(exc: BaseException) -> str:
    """How an error reads in a toast or a status line: a StudioError's own words, else the type and message."""
    if isinstance(exc, StudioError):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
