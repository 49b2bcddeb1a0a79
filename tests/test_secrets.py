"""Secrets never reach the data: 25+ kinds of planted fake credentials, fresh random values each run, must not
appear in any byte the workspace (or --out) holds after `curate`, while the clean code beside them is kept."""
import json
import random
import string

import pytest

from training.curation import secrets as scanner

RNG = random.SystemRandom()
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"


def _r(n, alphabet=ALNUM):
    return "".join(RNG.choice(alphabet) for _ in range(n))


def planted() -> list[tuple[str, str, list[str]]]:
    """(kind, python source line, values that must never be written) for each planted credential."""
    pw = _r(14) + "!" + _r(3)
    key_body = [_r(64, B64) for _ in range(4)]
    jwt = "eyJ" + _r(30, ALNUM + "_-") + ".eyJ" + _r(40, ALNUM + "_-") + "." + _r(43, ALNUM + "_-")
    items = [
        ("aws-access-key-id", "AKIA" + _r(16, string.ascii_uppercase + string.digits)),
        ("github-token", "ghp_" + _r(36)),
        ("github-token", "github_pat_" + _r(22) + "_" + _r(59)),
        ("gitlab-token", "glpat-" + _r(20)),
        ("slack-token", "xoxb-" + _r(11, string.digits) + "-" + _r(12, string.digits) + "-" + _r(24)),
        ("slack-webhook", "https://hooks.slack.com/services/T" + _r(8, string.ascii_uppercase) + "/B"
         + _r(8, string.ascii_uppercase) + "/" + _r(24)),
        ("stripe-key", "sk_live_" + _r(24)),
        ("google-api-key", "AIza" + _r(35, ALNUM + "_-")),
        ("google-oauth-secret", "GOCSPX-" + _r(28)),
        ("openai-key", "sk-proj-" + _r(48)),
        ("anthropic-key", "sk-ant-api03-" + _r(80, ALNUM + "_-")),
        ("huggingface-token", "hf_" + _r(34)),
        ("npm-token", "npm_" + _r(36)),
        ("pypi-token", "pypi-AgEIcHlwaS5vcmc" + _r(60, ALNUM + "_-")),
        ("sendgrid-key", "SG." + _r(22, ALNUM + "_-") + "." + _r(43, ALNUM + "_-")),
        ("twilio-key", "SK" + _r(32, HEX)),
        ("telegram-bot-token", _r(9, "123456789") + ":AA" + _r(33, ALNUM + "_-")),
        ("mailgun-key", "key-" + _r(32, HEX)),
        ("square-token", "sq0atp-" + _r(22, ALNUM + "_-")),
        ("shopify-token", "shpat_" + _r(32, HEX)),
        ("digitalocean-token", "dop_v1_" + _r(64, HEX)),
        ("jwt", jwt),
        ("discord-bot-token", "M" + _r(23, string.digits) + "." + _r(6) + "." + _r(27)),
    ]
    out = [(kind, f'    token = "{value}"', [value]) for kind, value in items]
    aws_secret = _r(40, B64)
    out.append(("aws-secret-access-key", f'    aws_secret_access_key = "{aws_secret}"', [aws_secret]))
    azure = _r(86, B64) + "=="
    out.append(("azure-storage-key", f'    conn = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={azure};"',
                [azure]))
    out.append(("url-password", f'    url = "postgres://admin:{pw}@db.internal:5432/orders"', [pw]))
    pw2 = _r(12) + "#" + _r(4)
    out.append(("connection-string-password", f'    dsn = "Server=db;Database=app;User Id=sa;Password={pw2};"', [pw2]))
    generic = _r(32)
    out.append(("generic-secret", f'    client_secret = "{generic}"', [generic]))
    pw3 = _r(10) + "$" + _r(3)
    out.append(("generic-secret", f'    db_password = "{pw3}"', [pw3]))
    block = "\\n".join(["-----BEGIN RSA PRIVATE KEY-----", *key_body, "-----END RSA PRIVATE KEY-----"])
    out.append(("private-key", f'    pem = """{block}"""'.replace("\\n", "\n"), key_body))
    return out


def _clean(i: int) -> str:
    return (f"def clean_helper_{i}(values):\n    \"\"\"Sum the values scaled by {i}.\"\"\"\n    total = 0\n"
            f"    for v in values:\n        total += v * {i} + len(str(v))\n    return total\n\n\n")


def plant_repo(root):
    """A repo whose python module alternates clean functions and functions holding one credential each."""
    items = planted()
    parts, lines_of = ["import os\n\n\n"], {}
    for i, (kind, line, values) in enumerate(items):
        parts.append(_clean(i))
        header = f"def connect_{i}():\n"
        before = "".join(parts) + header
        lines_of[i] = (before.count("\n") + 1, kind)
        parts.append(header + line + "\n    return os.environ.get('X', '')\n\n\n")
    parts.append(_clean(len(items)))
    (root / "src").mkdir(parents=True)
    (root / "src" / "settings.py").write_text("".join(parts))
    env_value = _r(30)
    (root / ".env").write_text(f"API_TOKEN={env_value}\nDEBUG=1\n")
    ts_value = "ghp_" + _r(36)
    (root / "src" / "client.ts").write_text(
        "export function makeClient(base: string): Client {\n"
        f"  const auth = \"{ts_value}\";\n  return new Client(base, auth);\n}}\n\n"
        "export function retryDelay(attempt: number): number {\n  const base = 100;\n"
        "  return Math.min(base * 2 ** attempt, 30000);\n}\n")
    values = [v for _, _, vs in items for v in vs] + [env_value, ts_value]
    return items, lines_of, values


def test_each_kind_detected_and_redacted_in_memory():
    items = planted()
    assert len({k for k, _, _ in items}) >= 20
    for kind, line, values in items:
        result = scanner.scan("def f():\n" + line + "\n", "f.py", use_detect_secrets=False)
        assert kind in {f.kind for f in result.findings}, (kind, line)
        for value in values:
            assert value not in result.text, kind
        assert f"<redacted:{kind}>" in result.text


def test_clean_code_has_no_findings():
    text = (b"import hashlib\n\ndef digest(data):\n    token_count = len(data)\n    return hashlib.sha256(data)"
            b".hexdigest(), token_count\n\nPASSWORD_PROMPT = 'Password: '\nTOKEN_RE = r'[a-z]+'\n").decode()
    assert scanner.scan(text, "clean.py").findings == []


def _scan_tree(root, values):
    leaks = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks.extend((str(path), v[:6]) for v in values if v.encode() in data)
    return leaks


def test_planted_secrets_never_written(tmp_path, ws_root, tiny_qwen2, cli):
    repo = tmp_path / "repo"
    items, lines_of, values = plant_repo(repo)
    assert cli("fork", str(tiny_qwen2), "--id", "forkies/tiny@v0.1.0").returncode == 0
    assert cli("repos", "add", str(repo), "--name", "planted").returncode == 0
    out_dir = tmp_path / "out"
    run = cli("curate", "--json", "--heldout", "0")
    assert run.returncode == 0, run.stderr
    run2 = cli("curate", "--repo", "planted", "--out", str(out_dir), "--json", "--heldout", "0")
    assert run2.returncode == 0, run2.stderr
    result = json.loads(run.stdout)
    for stream in (run.stdout, run.stderr, run2.stdout, run2.stderr):
        assert not [v for v in values if v in stream]
    assert _scan_tree(ws_root, values) == []
    assert _scan_tree(out_dir, values) == []

    found = {(f["path"], f["line"], f["kind"]) for f in result["secret_findings"]}
    for i, (line, kind) in lines_of.items():
        assert ("src/settings.py", line, kind) in found, (i, kind)
    assert any(p == ".env" and k == "env-file" for p, _, k in found)
    assert any(p == "src/client.ts" for p, _, _ in found)
    assert result["secrets_found"] >= len(items) + 2
    assert result["dropped"].get("env_file") == 1
    assert set(result["secret_findings"][0]) == {"repo", "path", "line", "kind", "fingerprint", "masked"}
    for f in result["secret_findings"]:
        assert not [v for v in values if v[:6] in f["masked"] or v in f["fingerprint"]]

    train = (ws_root / "datasets" / result["snapshot"] / "train.jsonl").read_text()
    names = {json.loads(line)["prompt"].rsplit("def ", 1)[-1].split("(")[0] for line in train.splitlines()}
    assert {f"clean_helper_{i}" for i in range(len(items) + 1)} <= names      # the clean code is kept
    assert not any(n.startswith("connect_") for n in names)                  # units touching a secret are not
    assert "retryDelay" in train and "makeClient" not in train


def test_redact_policy_keeps_units_with_placeholders(tmp_path, tiny_qwen2):
    from training.curation.curate import CurateConfig, Source, build

    repo = tmp_path / "repo"
    items, _, values = plant_repo(repo)
    cfg = CurateConfig(tokenizer_dir=str(tiny_qwen2), secrets_policy="redact", heldout_rate=0)
    result = build([Source("planted", str(repo))], cfg, tmp_path / "cache.db", tmp_path / "datasets")
    train = (tmp_path / "datasets" / result["snapshot"] / "train.jsonl").read_text()
    assert "connect_3" in train and "<redacted:" in train
    assert not [v for v in values if v in train]
    assert _scan_tree(tmp_path, values) == [] or all(p.startswith(str(repo)) for p, _ in _scan_tree(tmp_path, values))


# -- precision: what the standard library made detect-secrets and the earlier scanner flag -------------------------
STDLIB_FALSE_POSITIVES = [
    "    token_type = 'quoted-string'",                                     # email/_header_value_parser.py
    "    mailbox.token_type = 'invalid-mailbox'",
    "ascii_lowercase = 'abcdefghijklmnopqrstuvwxyz'",                       # string.py
    "_b32alphabet = b'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'",                   # base64.py
    "    input2 = b'QWERTYUIOPASDFGHJKLZXCVBNM'",                             # test_zlib.py
    "        self.check('md5', b'abc', '900150983cd24fb0d6963f7d28e17f72')",  # hash test vectors
    "    'a4337bc45a8fc544c03f52dc550cd6e1e87021bc896588bd79e901e2'",
    "    testcommon('%034d', big, '0000123456789012345678901234567890')",
    "    fp = urlopen('http://user:pass@python.org/')",
    "    ('http://joe:password@proxy.example.com/', 'joe')",
    "    TOKEN_RE = 'Bearer [A-Za-z0-9._-]{20,}'",
    "    password_prompt = 'Enter your password please:'",
]


@pytest.mark.parametrize("line", STDLIB_FALSE_POSITIVES)
def test_standard_library_false_positives_are_not_findings(line):
    assert scanner.scan(line + "\n", "m.py").findings == []


def test_named_hex_and_real_tokens_still_caught():
    hexkey = _r(40, HEX)
    token = _r(28)
    for line, value in ((f'API_KEY = "{hexkey}"', hexkey), (f'    auth_token = "{token}"', token),
                        (f'    headers["X-Api-Key"] = "{hexkey}"', hexkey)):
        result = scanner.scan(line + "\n", "m.py")
        assert result.live and value not in result.text, line


# -- review: fingerprints, masks and false-positive marks ------------------------------------------------------------
def test_fingerprint_mask_and_marked_value():
    value = "ghp_" + _r(36)
    text = f'def f():\n    token = "{value}"\n    return token\n'
    first = scanner.scan(text, "f.py")
    (finding,) = first.findings
    assert finding.fingerprint == scanner.fingerprint(value) and len(finding.fingerprint) == 32
    assert value not in finding.fingerprint and value[2:-2] not in finding.masked
    assert finding.masked == f"{value[:2]}********{value[-2:]} ({len(value)} chars)"
    assert scanner.mask("hunter22") == "******** (8 chars)"
    marked = scanner.scan(text, "f.py", false_positives={finding.fingerprint})
    assert marked.findings == [finding._replace(false_positive=True)]
    assert marked.live == [] and marked.text == text  # reported, but neither redacted nor counted
    other = scanner.scan(text.replace(value, "ghp_" + _r(36)), "f.py", false_positives={finding.fingerprint})
    assert len(other.live) == 1  # a mark is for that value only


def _review_repo(root):
    (root / "src").mkdir(parents=True)
    secret = "Zq" + _r(20) + "9x"
    (root / "src" / "auth.py").write_text(
        "def login(client):\n    password = 'correct-horse-battery'\n    return client.auth(password)\n\n\n"
        "def clean(values):\n    return [v * 2 for v in values if v]\n\n\n"
        f"def connect(client):\n    api_token = '{secret}'\n    return client.connect(api_token)\n")
    (root / ".env").write_text("DB_URL=postgres://localhost/app\n")
    return secret


def _train_names(ws, snapshot):
    text = (ws.root / "datasets" / snapshot / "train.jsonl").read_text()
    return {json.loads(line)["prompt"].rsplit("def ", 1)[-1].split("(")[0] for line in text.splitlines()}


def test_review_marks_apply_to_later_snapshots(tmp_path, workspace, tiny_qwen2, cli):
    """list -> mark (CLI) -> the next curation keeps the code; manifest and store say so; unmark drops it again."""
    from app.curation import curate
    from app.forks import fork
    from app.secret_marks import findings, list_marks, unmark

    fork(workspace, str(tiny_qwen2), "forkies/tiny@v0.1.0")
    repo = tmp_path / "repo"
    secret = _review_repo(repo)
    first = curate(workspace, paths=[str(repo)], heldout_rate=0)
    assert first["secrets_found"] == 3 and {"login", "connect"}.isdisjoint(_train_names(workspace, first["snapshot"]))
    listed = json.loads(cli("--workspace", str(workspace.root), "secrets", "list", "--json").stdout)
    assert listed["snapshot"] == first["snapshot"] and len(listed["findings"]) == 3
    assert secret not in json.dumps(listed)
    pw = next(f for f in listed["findings"] if f["line"] == 2)
    env = next(f for f in listed["findings"] if f["kind"] == "env-file")
    assert pw["kind"] == "generic-secret" and pw["path"] == "src/auth.py" and not pw["marked"]

    run = cli("--workspace", str(workspace.root), "secrets", "mark", pw["fingerprint"][:10], "--by", "alice",
              "--note", "a test fixture's password", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["marked"][0]["fingerprint"] == pw["fingerprint"]
    for bad, why in ((env["fingerprint"], ".env files never enter the data"), (pw["fingerprint"], "already marked"),
                     ("0123456789abcdef", "no secret finding has the fingerprint"), ("nothex!", "not a finding")):
        refused = cli("--workspace", str(workspace.root), "secrets", "mark", bad)
        assert refused.returncode == 1 and why in refused.stderr, (bad, refused.stderr)

    second = curate(workspace, paths=[str(repo)], heldout_rate=0)
    names = _train_names(workspace, second["snapshot"])
    assert "login" in names and "connect" not in names and "clean" in names
    assert second["secrets_found"] == 2 and second["secrets_marked_false_positive"] == 1
    manifest = json.loads((workspace.root / "datasets" / second["snapshot"] / "manifest.json").read_text())
    assert manifest["secret_false_positives"] == [{"fingerprint": pw["fingerprint"], "findings": 1}]
    assert findings(workspace, marked=True)["findings"][0]["fingerprint"] == pw["fingerprint"]
    (mark,) = list_marks(workspace)["marks"]
    assert (mark["by"], mark["kind"], mark["path"], mark["line"]) == ("alice", "generic-secret", "src/auth.py", 2)
    assert "correct-horse" not in json.dumps(mark)

    unmark(workspace, [pw["fingerprint"]], by="bob")
    third = curate(workspace, paths=[str(repo)], heldout_rate=0)
    assert third["snapshot"] == first["snapshot"] and "login" not in _train_names(workspace, third["snapshot"])
    store = workspace.store()
    assert [e["kind"] for e in store.events() if e["kind"].startswith("secret.")] == ["secret.marked",
                                                                                       "secret.unmarked"]
    store.close()


def test_lineage_lists_the_marks_a_snapshot_applied(workspace):
    from app.cards import lineage_card
    from lineage_seed import RESEARCH, SNAPSHOT, seed

    seed(workspace)
    store = workspace.store()
    snap = store.snapshot(SNAPSHOT)
    fp = "ab" * 16
    store.update("snapshots", "id", SNAPSHOT, {"config": {**snap["config"], "secret_false_positives": [fp]}})
    store.insert("secret_marks", {"fingerprint": fp, "kind": "generic-secret", "repo": "svc", "path": "a.py",
                                  "line": 3, "masked": "******** (8 chars)", "by": "alice", "note": "fixture",
                                  "created": store.now()})
    store.close()
    text = lineage_card(workspace, RESEARCH)
    section = text.split("### Secret false positives", 1)[1].split("###", 1)[0]
    assert fp in section and "alice" in section and "generic-secret" in section and "fixture" in section


@pytest.mark.slow
async def test_review_in_the_snippets_pane_marks_a_finding(tmp_path, workspace, tiny_qwen2):
    """The Snippets pane's review (command palette: Review secret findings) lists each finding with its masked
    value and marks the highlighted one a false positive in the store."""
    import asyncio

    from app.curation import curate
    from app.forks import fork
    from app.secret_marks import marked_fingerprints
    from app.ui.studio import StudioApp

    fork(workspace, str(tiny_qwen2), "forkies/tiny@v0.1.0")
    repo = tmp_path / "repo"
    secret = _review_repo(repo)
    snap = curate(workspace, paths=[str(repo)], heldout_rate=0)["snapshot"]
    app = StudioApp(workspace, seed=False, watch=False)

    async def until(condition, what):
        for _ in range(600):
            if condition():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    async with app.run_test(size=(140, 42)) as pilot:
        await pilot.press("2")
        pane = app.query_one("SnippetsPane")
        await until(lambda: pane.snapshot_id == snap, "the snapshot")
        pane.review_secrets()
        table = app.query_one("#secret-review-table")
        await until(lambda: table.row_count == 3, "the findings")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert ["generic-secret", "repo/src/auth.py", "2", "co********ry (21 chars)", ""] in rows, rows
        assert secret not in str(rows) and secret[2:-2] not in str(rows)
        table.move_cursor(row=[r[2] for r in rows].index("2"))
        await pilot.click("#secret-mark")
        await until(lambda: "false positive" in [str(c) for c in table.get_row_at(table.cursor_row)],
                    "the mark to show")
    store = workspace.store()
    try:
        assert len(marked_fingerprints(store)) == 1
    finally:
        store.close()
