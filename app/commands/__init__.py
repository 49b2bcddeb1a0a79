"""CLI command modules; each defines register(app). Shared helpers live in app.commands.common."""
