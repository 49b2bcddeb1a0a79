"""Default promotion checklists, one TOML file per target stage (read by app.checklists)."""
