"""The studio's theme: every base colour is an exact xterm-256 palette entry, so it reads the same in 256 colours."""
from __future__ import annotations

from textual.theme import Theme

STUDIO_THEME = Theme(
    name="blackroad",
    primary="#5f87d7",     # 68
    secondary="#5fafaf",   # 73
    accent="#d7875f",      # 173
    warning="#d7af5f",     # 179
    error="#d75f5f",       # 167
    success="#87af5f",     # 107
    foreground="#d0d0d0",  # 252
    background="#1c1c1c",  # 234
    surface="#262626",     # 235
    panel="#303030",       # 236
    boost="#3a3a3a",       # 237
    dark=True,
)
