"""The lineage store's schema as forward migrations. Append a migration; never edit a published one."""

MIGRATIONS: list[str] = [
    # 1: the lineage core
    """
    CREATE TABLE models (
        id TEXT PRIMARY KEY,
        stage TEXT NOT NULL CHECK (stage IN ('forkies', 'research', 'internal', 'production')),
        name TEXT NOT NULL,
        version TEXT,
        owner TEXT,
        parent_id TEXT REFERENCES models(id),
        relation TEXT,
        license TEXT,
        architecture TEXT,
        parameters INTEGER,
        context_length INTEGER,
        vocab_size INTEGER,
        source TEXT,
        source_sha256 TEXT,
        path TEXT,
        gguf_path TEXT,
        details TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL,
        expires TEXT,
        CHECK (substr(id, 1, length(stage) + 1) = stage || '/'),
        CHECK (stage != 'research' OR expires IS NOT NULL),
        CHECK (stage = 'forkies' OR parent_id IS NOT NULL)
    );
    CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        content_hash TEXT NOT NULL,
        path TEXT NOT NULL,
        config TEXT NOT NULL DEFAULT '{}',
        stats TEXT NOT NULL DEFAULT '{}',
        sources TEXT NOT NULL DEFAULT '[]',
        created TEXT NOT NULL
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        base_id TEXT REFERENCES models(id),
        model_id TEXT REFERENCES models(id),
        snapshot_id TEXT REFERENCES snapshots(id),
        config TEXT NOT NULL DEFAULT '{}',
        config_hash TEXT,
        seed INTEGER,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed', 'cancelled', 'interrupted')),
        host TEXT,
        pid INTEGER,
        started TEXT,
        finished TEXT,
        error TEXT,
        log_path TEXT,
        result TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE TABLE run_metrics (
        run_id TEXT NOT NULL REFERENCES runs(id),
        step INTEGER NOT NULL,
        loss REAL,
        lr REAL,
        grad_norm REAL,
        tokens_per_second REAL,
        memory_bytes INTEGER,
        time TEXT NOT NULL,
        PRIMARY KEY (run_id, step)
    );
    CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id TEXT REFERENCES models(id),
        run_id TEXT REFERENCES runs(id),
        kind TEXT NOT NULL,
        quant_type TEXT,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        details TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE TABLE eval_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id TEXT NOT NULL REFERENCES models(id),
        suite TEXT NOT NULL,
        metric TEXT NOT NULL,
        value REAL,
        category TEXT,
        settings_hash TEXT NOT NULL,
        settings TEXT NOT NULL DEFAULT '{}',
        artifact_id INTEGER REFERENCES artifacts(id),
        baseline_model_id TEXT REFERENCES models(id),
        run_id TEXT REFERENCES runs(id),
        details TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE TABLE promotions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id TEXT NOT NULL REFERENCES models(id),
        parent_id TEXT NOT NULL REFERENCES models(id),
        to_stage TEXT NOT NULL,
        ready INTEGER NOT NULL,
        created TEXT NOT NULL
    );
    CREATE TABLE promotion_items (
        promotion_id INTEGER NOT NULL REFERENCES promotions(id),
        name TEXT NOT NULL,
        passed INTEGER NOT NULL,
        evidence TEXT NOT NULL,
        PRIMARY KEY (promotion_id, name)
    );
    CREATE TABLE repos (
        name TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('git', 'folder')),
        head_commit TEXT,
        added TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        kind TEXT NOT NULL,
        model_id TEXT,
        run_id TEXT,
        payload TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE INDEX artifacts_model ON artifacts(model_id);
    CREATE INDEX eval_results_model ON eval_results(model_id, suite);
    CREATE INDEX events_model ON events(model_id);
    """,
    # 2: manual sign-offs for promotion checklists, and the files a watcher marked changed
    """
    CREATE TABLE approvals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id TEXT NOT NULL REFERENCES models(id),
        item TEXT NOT NULL,
        by TEXT NOT NULL,
        note TEXT,
        created TEXT NOT NULL
    );
    CREATE TABLE repo_changes (
        repo TEXT NOT NULL REFERENCES repos(name) ON DELETE CASCADE,
        relpath TEXT NOT NULL,
        seen TEXT NOT NULL,
        PRIMARY KEY (repo, relpath)
    );
    CREATE INDEX models_parent ON models(parent_id);
    """,
    # 3: serving: API keys (hashes only), the capability map, per-request usage and completion events
    """
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created TEXT NOT NULL,
        revoked TEXT
    );
    CREATE UNIQUE INDEX api_keys_live_name ON api_keys(name) WHERE revoked IS NULL;
    CREATE TABLE routes (
        capability TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        split TEXT,
        updated TEXT NOT NULL
    );
    CREATE TABLE serve_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        completion_id TEXT UNIQUE,
        endpoint TEXT NOT NULL,
        key_name TEXT,
        requested TEXT,
        model_id TEXT,
        artifact_sha256 TEXT,
        capability TEXT,
        split TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'cancelled', 'rejected')),
        http_status INTEGER NOT NULL,
        error TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        queue_ms REAL,
        first_token_ms REAL,
        total_ms REAL,
        completion_chars INTEGER
    );
    CREATE INDEX serve_requests_time ON serve_requests(time);
    CREATE INDEX serve_requests_model ON serve_requests(model_id, time);
    CREATE TABLE completion_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        completion_id TEXT NOT NULL REFERENCES serve_requests(completion_id),
        choice_index INTEGER NOT NULL DEFAULT 0,
        kind TEXT NOT NULL CHECK (kind IN ('view', 'select', 'dismiss')),
        elapsed_ms REAL,
        accepted_chars INTEGER,
        key_name TEXT,
        time TEXT NOT NULL,
        UNIQUE (completion_id, choice_index, kind)
    );
    CREATE TABLE feedback_captures (
        completion_id TEXT PRIMARY KEY REFERENCES serve_requests(completion_id),
        model_id TEXT NOT NULL,
        prompt TEXT NOT NULL,
        suffix TEXT NOT NULL DEFAULT '',
        accepted TEXT NOT NULL,
        language TEXT,
        time TEXT NOT NULL
    );
    """,
    # 4: per-sample eval scores (intervals and paired deltas are computed from them)
    """
    CREATE TABLE eval_samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT REFERENCES runs(id),
        model_id TEXT NOT NULL REFERENCES models(id),
        suite TEXT NOT NULL,
        settings_hash TEXT NOT NULL,
        sample_key TEXT NOT NULL,
        category TEXT,
        scores TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL,
        UNIQUE (run_id, model_id, suite, sample_key)
    );
    CREATE INDEX eval_samples_lookup ON eval_samples(model_id, suite, settings_hash, run_id);
    """,
    # 5: secret findings marked as false positives, by fingerprint (never the value)
    """
    CREATE TABLE secret_marks (
        fingerprint TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        repo TEXT,
        path TEXT,
        line INTEGER,
        masked TEXT,
        by TEXT NOT NULL,
        note TEXT,
        created TEXT NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
