"""Curation: a team's repos -> filtered, secret-free, deduplicated, split samples -> a hashed dataset snapshot.

walk and filters (files), units (snippets), samples, secrets, dedup, split, snapshot, the per-file cache
(file_cache), and the engine that runs them (curate). Training reads only the snapshot it writes.
"""
