"""Packs: versioned bundles of agent capabilities, resolved and loaded at runtime."""
