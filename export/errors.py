"""The export engine's one error type: a one-line reason the app turns into a StudioError."""


class ExportError(ValueError):
    """Bad input or a failed check; the message is one line for the user and names what failed."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def read_json(path) -> dict:
    """A JSON file of the source (config, tokenizer, adapter config); unreadable or malformed is an ExportError."""
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None


class ParityError(ExportError):
    """A written file that does not match its source; `check` names the failing check."""

    def __init__(self, check: str, message: str):
        self.check = check
        super().__init__(f"parity check '{check}' failed: {message}")
