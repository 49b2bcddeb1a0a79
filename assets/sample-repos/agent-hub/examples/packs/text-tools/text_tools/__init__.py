"""The text-tools pack: normalize and chunk text (an example pack for agent-hub)."""
