"""Fill-in-the-middle formats: which FIM tokens a tokenizer has, and how to lay out a FIM prompt with them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FimFormat:
    name: str
    prefix: str
    suffix: str
    middle: str
    pad: str | None = None
    file_sep: str | None = None

    def psm(self, prefix: str, suffix: str) -> str:
        """Prefix-suffix-middle: the prompt ends where the model writes the middle."""
        return f"{self.prefix}{prefix}{self.suffix}{suffix}{self.middle}"

    def spm(self, prefix: str, suffix: str) -> str:
        """Suffix-prefix-middle (the variant of Bavarian et al.): suffix first, then prefix, then the middle."""
        return f"{self.suffix}{suffix}{self.prefix}{prefix}{self.middle}"

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (self.prefix, self.suffix, self.middle, self.pad, self.file_sep) if t)


QWEN = FimFormat("qwen", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|file_sep|>")
STARCODER = FimFormat("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>", "<file_sep>")
FORMATS = (QWEN, STARCODER)


def detect(vocab: dict[str, int] | set[str] | list[str]) -> FimFormat | None:
    """The FIM format whose prefix, suffix and middle tokens are all in the vocabulary, or None (plain prefix)."""
    names = set(vocab)
    for fmt in FORMATS:
        if {fmt.prefix, fmt.suffix, fmt.middle} <= names:
            return fmt
    return None


def split(prompt: str) -> tuple[str, str] | None:
    """(prefix, suffix) of a PSM or SPM FIM prompt in any known format, or None when it is not one."""
    for fmt in FORMATS:
        if not prompt.endswith(fmt.middle) or fmt.prefix not in prompt or fmt.suffix not in prompt:
            continue
        body = prompt[: -len(fmt.middle)]
        if body.startswith(fmt.prefix):  # PSM
            prefix, _, suffix = body[len(fmt.prefix):].partition(fmt.suffix)
        else:  # SPM
            suffix, _, prefix = body[len(fmt.suffix):].partition(fmt.prefix)
        return prefix, suffix
    return None
