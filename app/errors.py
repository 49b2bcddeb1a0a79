"""The one error type the CLI turns into a one-line message and exit code 1."""


class StudioError(Exception):
    """A user-facing failure: bad input, a refused action, a missing file. The message is one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
