"""Secrets out of the data: our high-signal rules over the whole file, detect-secrets' plugins on candidate lines.

A finding is (line, end_line, kind); the value itself is only held in memory long enough to replace every
occurrence of it with a typed placeholder (`<redacted:KIND>`), and it is never returned, logged or stored.
detect-secrets' `scan_file` is far too slow to run on every file (13 files/s on the standard library, STACK.md),
so its plugins see only the lines that our cheap prefilter marks: long quoted strings and secret-looking names.
"""
from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

PLACEHOLDER = "<redacted:{kind}>"
_SECRET_NAME = (r"(?:secret|passw(?:or)?d|passwd|pwd|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|"
                r"private[_-]?key|client[_-]?secret|credentials?|signing[_-]?key)")


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
                                r"dummy.*|placeholder|none|null|true|false|redacted.*)$")
_CANDIDATE_STRING = re.compile(r"['\"`][A-Za-z0-9+/=_\-]{20,}['\"`]")
_ASSIGNED_STRING = re.compile(r"[\w.\-]*['\"]?\s*(?::=|=>|:|=)\s*[rbuf]?['\"]")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _generic_ok(name_line: str, value: str) -> bool:
    """A value assigned to a secret-looking name counts when it looks like a credential, not a placeholder."""
    if _PLACEHOLDER_VALUE.match(value) or value.isidentifier() and "_" in value and value.lower() == value:
        return False
    if re.search(r"(?i)pass|pwd", name_line) and len(value) >= 6:
        return True
    return len(value) >= 12 and entropy(value) >= 3.0


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


@dataclass
class ScanResult:
    text: str                          # the text with every found value replaced by its placeholder
    findings: list[tuple[int, int, str]]   # (line, end_line, kind), 1-based, sorted; never the value


def scan(text: str, filename: str = "file", use_detect_secrets: bool = True) -> ScanResult:
    """Find secrets in one file's text and return it redacted, with the findings (no values)."""
    hits: list[tuple[int, int, str, str]] = []     # (start, end, kind, value), values held in memory only
    data = text.encode("utf-8")
    for offset, token in _candidate_tokens(data):
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
            if value:
                hits.append((m.start(rule.group), m.end(rule.group), rule.kind, value))
    named = []          # positions of secret-looking names with a string assigned (candidates for plugins)
    for kw in _GENERIC_KEYWORDS if same_length else ():
        pos = lower.find(kw)
        while pos >= 0:
            if _ASSIGNED_STRING.match(text, pos + len(kw)):
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
    findings = set()
    for start, end, kind, _ in hits:
        line = bisect.bisect_left(newlines, start) + 1
        end_line = bisect.bisect_left(newlines, max(start, end - 1)) + 1
        findings.add((line, end_line, kind))
    best: dict[str, str] = {}       # value -> the most specific kind that found it
    for _, _, kind, value in hits:
        if value not in best or _rank(kind) < _rank(best[value]):
            best[value] = kind
    redacted = text
    for value in sorted(best, key=lambda v: (-len(v), v)):
        # a multi-line value keeps its line breaks, so line numbers stay those of the findings
        redacted = redacted.replace(value, PLACEHOLDER.format(kind=best[value]) + "\n" * value.count("\n"))
    return ScanResult(redacted, sorted(findings))


def _rank(kind: str) -> int:
    """Vendor-specific rules first, then detect-secrets' plugins, then the generic name rule."""
    return 2 if kind == "generic-secret" else 1 if kind.startswith("ds-") else 0


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
                offset = line.find(value)
                if offset < 0:
                    continue
                yield start + offset, start + offset + len(value), _slug(secret.type), value


ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*[=:]\s*\S", re.M)


def env_file_findings(text: str) -> list[tuple[int, int, str]]:
    """Every assignment in a .env file is treated as a secret (the file itself never enters the data)."""
    out = []
    for m in ENV_LINE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        out.append((line, line, "env-file"))
    return out
