"""Secrets out of the data: our high-signal rules over the whole file, detect-secrets' plugins on candidate lines.

A finding is (line, end_line, kind, fingerprint, masked, false_positive); the value itself is only held in memory
long enough to replace every occurrence of it with a typed placeholder (`<redacted:KIND>`), and it is never
returned, logged or stored. The fingerprint (a salted SHA-256 of the value, like a detect-secrets baseline's
hashed_secret) is what a reviewer marks as a false positive: a marked value is reported but neither redacted nor
held against the code around it, in this snapshot and every later one. `masked` shows the value's shape (its
length, and its first and last characters when it is long enough) for the review.
detect-secrets' `scan_file` is far too slow to run on every file (13 files/s on the standard library, docs/benchmarks.md),
so its plugins see only the lines that our cheap prefilter marks: long quoted strings and secret-looking names.
"""
from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

PLACEHOLDER = "<redacted:{kind}>"
_SECRET_NAME = (r"(?:secret|passw(?:or)?d|passwd|pwd|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|"
                r"private[_-]?key|client[_-]?secret|credentials?|signing[_-]?key)")
_NAMED_LINE = re.compile(r"(?i)" + _SECRET_NAME + r"|(?:\b|_)key(?:\b|_)")


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: re.Pattern
    anchors: tuple[str, ...]     # literal substrings one of which must be present (case-sensitive) to run it
    group: int = 0               # the group holding the value
    lower_anchors: bool = False  # anchors are matched against the lowercased text


def _r(kind, pattern, anchors, group=0, flags=0, lower=False) -> Rule:
    return Rule(kind, re.compile(pattern, flags), tuple(anchors), group, lower)


# Token-shaped credentials: searched only inside "candidate tokens" (runs of 20+ token characters), one combined
# pattern per token, so a file costs one cheap regex pass however many vendors there are.
TOKEN_RULES: tuple[tuple[str, str], ...] = (
    ("aws-access-key-id", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}(?![A-Z0-9])"),
    ("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
    ("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,}"),
    ("slack-webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}"),
    ("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("stripe-key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    ("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    ("google-oauth-secret", r"\bGOCSPX-[A-Za-z0-9_\-]{20,}"),
    ("anthropic-key", r"\bsk-ant-[A-Za-z0-9_\-]{32,}"),
    ("openai-key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}"),
    ("huggingface-token", r"\bhf_[A-Za-z0-9]{34,}"),
    ("npm-token", r"\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    ("pypi-token", r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"),
    ("sendgrid-key", r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"),
    ("twilio-key", r"\b(?:SK|AC)[0-9a-f]{32}(?![0-9a-f])"),
    ("telegram-bot-token", r"\b\d{8,10}:AA[A-Za-z0-9_\-]{33}"),
    ("mailgun-key", r"\bkey-[0-9a-f]{32}(?![0-9a-f])"),
    ("square-token", r"\bsq0(?:atp|csp)-[A-Za-z0-9_\-]{22,60}"),
    ("shopify-token", r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"),
    ("digitalocean-token", r"\bdo[opr]_v1_[a-f0-9]{64}"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("discord-bot-token", r"\b[MNO][A-Za-z\d_\-]{23,27}\.[\w-]{6}\.[\w-]{27,40}"),
)
_TOKEN_KINDS = [k for k, _ in TOKEN_RULES]
_TOKEN_PATTERN = re.compile("|".join(f"(?P<t{i}>{p})" for i, (_, p) in enumerate(TOKEN_RULES)))
# Each rule without its leading \b: no longer anchored, a pattern that starts with a literal or a character class lets
# the regex engine skip ahead to where it could begin, so a file's candidate tokens, joined, are searched rule by rule
# in microseconds. It matches wherever its rule matches (and more), so a file none of them matches has no token
# credential, and only the rare file one does match goes through the combined pattern token by token.
_TOKEN_HINTS = tuple(re.compile(p.removeprefix(r"\b")) for _, p in TOKEN_RULES)
_TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=.:"
_TO_RUNS = bytes(ord("a") if b in _TOKEN_CHARS else ord(" ") for b in range(256))
_RUN = b"a" * 20


def _candidate_tokens(data: bytes):
    """(byte offset, token) for each run of 20+ token characters, found with C-speed byte searches."""
    runs = data.translate(_TO_RUNS)
    pos = runs.find(_RUN)
    while pos >= 0:
        end = runs.find(b" ", pos)
        end = len(runs) if end < 0 else end
        yield pos, data[pos:end].decode("ascii")
        pos = runs.find(_RUN, end)

# Credentials that need their context (a name, a URL, a key block): each runs only when its anchor is present.
RULES: tuple[Rule, ...] = (
    _r("aws-secret-access-key", r"(?i)aws.{0,24}?(?:secret|key).{0,24}?['\"=:\s]\s*['\"]?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
       ("aws",), 1, lower=True),
    _r("azure-storage-key", r"(?i)AccountKey=([A-Za-z0-9+/=]{40,})", ("accountkey=",), 1, lower=True),
    _r("private-key", r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
       ("PRIVATE KEY",)),
    _r("url-password", r"://[^\s:/@'\"<>]{1,64}:([^\s@'\"/<>]{3,128})@[^\s'\"<>]+",
       ("://",), 1),
    _r("connection-string-password", r"(?i)(?:^|[;'\"])\s*(?:password|pwd)\s*=\s*([^;'\"\s]{3,})",
       ("password=", "pwd=", "password =", "pwd ="), 1, lower=True),
)
# A value assigned to a secret-looking name: matched at each occurrence of a keyword (found with str.find).
_GENERIC_KEYWORDS = ("secret", "passw", "pwd", "token", "api_key", "api-key", "apikey", "access_key", "access-key",
                     "auth_key", "private_key", "credential", "signing_key")
_GENERIC = re.compile(r"(?i)[\w.\-]*['\"]?\s*(?::=|=>|:|=)\s*[rbuf]?(['\"])([^'\"\s]{6,200})\1")

_PLACEHOLDER_VALUE = re.compile(r"(?i)^(?:x+|\*+|\.+|<.*>|\$\{.*\}|\{\{.*\}\}|%\(.*\)s|your[_-].*|changeme|example.*|"
                                r"dummy.*|placeholder|none|null|true|false|redacted.*|"
                                r"pass|password|passwd|secret|test|testing|foo|bar|baz)$")
# A word right after the secret keyword that makes the name describe something else: token_type, password_prompt,
# secret_name, TOKEN_RE, api_key_url. (secret_key, api_token, db_password keep their meaning.)
_OTHER_THING = frozenset(
    "type types kind kinds name names count counts num number len length size id ids index idx url uri urls "
    "endpoint file filename files path paths dir prompt prompts field fields header headers regex re pattern "
    "patterns format fmt prefix suffix label labels class mode method attr attrs char chars policy ttl expiry "
    "expires timeout var env enabled required error errors message msg help text spec".split())
_NAME_TAIL = re.compile(r"[a-z0-9_.\-]*")
_DOC_HOST = re.compile(r"(?i)@(?:[\w.\-]+\.)?(?:example\.(?:com|org|net)|localhost)\b")
_CANDIDATE_STRING = re.compile(r"['\"`][A-Za-z0-9+/=_\-]{20,}['\"`]")
_ASSIGNED_STRING = re.compile(r"[\w.\-]*['\"]?\s*(?::=|=>|:|=)\s*[rbuf]?['\"]")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _names_other_thing(lower: str, end: int) -> bool:
    """The identifier going on past a secret keyword (ending at `end`) names something else: token_type."""
    words = [w for w in re.split(r"[^a-z0-9]+", _NAME_TAIL.match(lower, end).group()) if w]
    return bool(words) and words[0] in _OTHER_THING


def _char_classes(value: str) -> int:
    return (any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
            + any(not c.isalnum() for c in value))


def _generic_ok(name_line: str, value: str) -> bool:
    """A value assigned to a secret-looking name counts when it looks like a credential, not a placeholder: any
    6+ characters for a password; 12+ characters of some entropy mixing letters with digits, case or symbols for
    a token or secret (a lowercase word list like 'quoted-string' is a label)."""
    if _PLACEHOLDER_VALUE.match(value) or value.isidentifier() and "_" in value and value.lower() == value:
        return False
    if re.search(r"(?i)pass|pwd", name_line) and len(value) >= 6:
        return True
    if re.fullmatch(r"[a-z]+(?:[-_. /][a-z]+)*", value):
        return False
    return len(value) >= 12 and entropy(value) >= 3.0 and _char_classes(value) >= 2


def _charset_like(value: str) -> bool:
    """An alphabet or character set ('abcdefghijklmnopqrstuvwxyz', b32's 'ABC...234567', 'QWERTYUIOP...'), not a
    key: mostly runs of consecutive characters, or 24+ characters none repeated (random 24-character keys over
    62 symbols repeat one with probability 0.99)."""
    steps = sum(abs(ord(b) - ord(a)) == 1 for a, b in zip(value, value[1:]))
    return steps >= 0.5 * (len(value) - 1) or (len(value) >= 24 and len(set(value)) == len(value))


def _plugin_value_ok(kind: str, value: str, line: str) -> bool:
    """detect-secrets' entropy plugins flag digests, test vectors and alphabets as readily as keys. A hex string
    counts only beside a secret-looking name (unnamed, it is taken for a digest: vendor keys in hex have their own
    rules above), an all-decimal one never; a base64-ish one unless it is a character set."""
    if kind == "ds-hex-high-entropy-string":
        return not value.isdigit() and bool(_NAMED_LINE.search(line))
    if kind == "ds-base64-high-entropy-string":
        return not _charset_like(value)
    return True


@lru_cache(maxsize=1)
def _detect_secrets_plugins() -> tuple:
    """detect-secrets' plugins (all but public IPs, which are not credentials), instantiated once."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    out = []
    for secret_type, cls in sorted(get_mapping_from_secret_type_to_class().items()):
        if secret_type == "Public IP (ipv4)":
            continue
        out.append(cls())
    return tuple(out)


def warm_up() -> None:
    """Import and instantiate detect-secrets' plugins now (before forking workers that inherit them)."""
    _detect_secrets_plugins()


def _slug(secret_type: str) -> str:
    return "ds-" + re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


FINGERPRINT_SALT = b"blackroad-studio secret fingerprint v1\0"


def fingerprint(value: str) -> str:
    """A finding's identity across files and snapshots, never its value: salted SHA-256, 32 hex characters."""
    return hashlib.sha256(FINGERPRINT_SALT + value.encode("utf-8")).hexdigest()[:32]


def mask(value: str) -> str:
    """The value's shape for a reviewer: its length always, its first and last two characters only when 16 or more
    long (so at most 4 characters of a 16+ character value show), one line."""
    n = len(value)
    if n >= 16:
        shown = value[:2] + "*" * 8 + value[-2:]
    else:
        shown = "*" * min(n, 12)
    return f"{shown} ({n} chars)".replace("\n", " ")


class Finding(NamedTuple):
    line: int                 # 1-based first line
    end_line: int
    kind: str
    fingerprint: str = ""
    masked: str = ""
    false_positive: bool = False   # marked by a reviewer: reported, not redacted, not held against its code


@dataclass
class ScanResult:
    text: str                          # the text with every found value replaced by its placeholder
    findings: list[Finding] = field(default_factory=list)   # sorted; never the value

    @property
    def live(self) -> list[Finding]:
        """The findings that count (not marked false positives)."""
        return [f for f in self.findings if not f.false_positive]


def scan(text: str, filename: str = "file", use_detect_secrets: bool = True,
         false_positives: frozenset[str] | set[str] = frozenset()) -> ScanResult:
    """Find secrets in one file's text and return it redacted, with the findings (no values). A value whose
    fingerprint is in `false_positives` is reported with false_positive=True and left in the text."""
    hits: list[tuple[int, int, str, str]] = []     # (start, end, kind, value), values held in memory only
    data = text.encode("utf-8")
    candidates = list(_candidate_tokens(data))
    joined = "\n".join(token for _, token in candidates)      # "\n" is no token character: no hint spans two
    if not any(hint.search(joined) for hint in _TOKEN_HINTS):
        candidates = []
    for offset, token in candidates:
        for m in _TOKEN_PATTERN.finditer(token):
            kind = _TOKEN_KINDS[int(m.lastgroup[1:])]
            if kind == "discord-bot-token" and not re.search(r"\d", m.group()):
                continue
            start = offset if len(data) == len(text) else len(data[:offset].decode("utf-8"))
            hits.append((start + m.start(), start + m.end(), kind, m.group()))
    lower = text.lower()
    same_length = len(lower) == len(text)
    for rule in RULES:
        if not any(a in (lower if rule.lower_anchors else text) for a in rule.anchors):
            continue
        for m in rule.pattern.finditer(text):
            value = m.group(rule.group)
            if value and not (rule.kind == "url-password" and (_PLACEHOLDER_VALUE.match(value)
                                                               or _DOC_HOST.match(text, m.end(rule.group)))):
                hits.append((m.start(rule.group), m.end(rule.group), rule.kind, value))
    named = []          # positions of secret-looking names with a string assigned (candidates for plugins)
    for kw in _GENERIC_KEYWORDS if same_length else ():
        pos = lower.find(kw)
        while pos >= 0:
            if _ASSIGNED_STRING.match(text, pos + len(kw)) and not _names_other_thing(lower, pos + len(kw)):
                named.append(pos)
                m = _GENERIC.match(text, pos + len(kw))
                if m and _generic_ok(text[pos:m.end()], m.group(2)):
                    hits.append((m.start(2), m.end(2), "generic-secret", m.group(2)))
            pos = lower.find(kw, pos + len(kw))
    if use_detect_secrets:
        hits.extend(_plugin_hits(text, filename, named))
    if not hits:
        return ScanResult(text, [])
    newlines = [i for i, ch in enumerate(text) if ch == "\n"] if len(text) < 2048 else \
        [m.start() for m in re.finditer("\n", text)]
    best: dict[str, str] = {}       # value -> the most specific kind that found it
    for _, _, kind, value in hits:
        if value not in best or _rank(kind) < _rank(best[value]):
            best[value] = kind
    prints = {value: fingerprint(value) for value in best}
    findings = set()
    for start, end, _, value in hits:     # one finding per value and place, named by its most specific kind
        line = bisect.bisect_left(newlines, start) + 1
        end_line = bisect.bisect_left(newlines, max(start, end - 1)) + 1
        fp = prints[value]
        findings.add(Finding(line, end_line, best[value], fp, mask(value), fp in false_positives))
    redacted = text
    for value in sorted(best, key=lambda v: (-len(v), v)):
        if prints[value] in false_positives:
            continue
        # a multi-line value keeps its line breaks, so line numbers stay those of the findings
        redacted = redacted.replace(value, PLACEHOLDER.format(kind=best[value]) + "\n" * value.count("\n"))
    return ScanResult(redacted, sorted(findings))


def _rank(kind: str) -> int:
    """Vendor-specific rules first, then the secret-name rule, then detect-secrets' plugins."""
    return 2 if kind.startswith("ds-") else 1 if kind == "generic-secret" else 0


def _plugin_hits(text: str, filename: str, named: list[int]):
    """detect-secrets' plugins, on candidate lines only: long quoted strings and secret-looking names."""
    positions = {m.start() for m in _CANDIDATE_STRING.finditer(text)}
    positions.update(named)
    if not positions:
        return
    plugins = _detect_secrets_plugins()
    seen_lines = set()
    for pos in sorted(positions):
        start = text.rfind("\n", 0, pos) + 1
        if start in seen_lines:
            continue
        seen_lines.add(start)
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[start:end]
        if len(line) > 1000:
            continue
        for plugin in plugins:
            try:
                found = plugin.analyze_line(filename=filename, line=line, line_number=0)
            except Exception:  # a plugin crash on odd input must not stop curation; the line is still scanned by ours
                continue
            for secret in found or ():
                value = secret.secret_value
                if not value or len(value) < 6 or _PLACEHOLDER_VALUE.match(value) or any(c.isspace() for c in value):
                    continue
                if not _plugin_value_ok(_slug(secret.type), value, line):
                    continue
                offset = line.find(value)
                if offset < 0:
                    continue
                yield start + offset, start + offset + len(value), _slug(secret.type), value


ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*[=:]\s*\S", re.M)


def env_file_findings(text: str) -> list[Finding]:
    """Every assignment in a .env file is treated as a secret (the file itself never enters the data, marked or
    not)."""
    out = []
    for m in ENV_LINE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        end = text.find("\n", m.end(1))
        value = text[m.end(1):len(text) if end < 0 else end].strip().lstrip("=:").strip()
        out.append(Finding(line, line, "env-file", fingerprint(value), mask(value)))
    return out
