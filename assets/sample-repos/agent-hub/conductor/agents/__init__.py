"""Agents: the base class, the spawner that supervises them, and patterns for composing them."""
