"""Small persistent state for agents: a key-value store with in-memory and JSON-file backends."""
