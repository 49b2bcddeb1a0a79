"""Client configurations for a server: Continue (config.yaml), llama.vim (g:llama_config), llama.vscode
(settings.json) and the OpenAI SDKs (environment variables). The key is never printed: a placeholder stands for it."""
from __future__ import annotations

import json

from app.errors import StudioError

CLIENTS = ("continue", "llama.vim", "llama.vscode", "openai")
KEY_PLACEHOLDER = "<KEY from `blackroad-studio keys create NAME`>"


def config_for(client: str, url: str, models: list[dict], auth: bool) -> str:
    if client not in CLIENTS:
        raise StudioError(f"--print-config takes one of {', '.join(CLIENTS)}, not {client!r}")
    key = KEY_PLACEHOLDER if auth else "unused"
    first = models[0]
    name = (first.get("aliases") or [first["id"]])[0]
    if client == "continue":
        lines = ["# ~/.continue/config.yaml", "models:"]
        for m in models:
            model_name = (m.get("aliases") or [m["id"]])[0]
            lines += [f"  - name: {model_name}", "    provider: openai", f"    model: {model_name}",
                      f"    apiBase: {url}/v1", f"    apiKey: {json.dumps(key)}",
                      "    roles: [chat, edit, autocomplete]"]
        return "\n".join(lines)
    if client == "llama.vim":
        extra = f", 'api_key': '{key}'" if auth else ""
        return ("\" in your vimrc (llama.vim sends /infill requests; the server's first model answers them: "
                f"{first['id']})\nlet g:llama_config = {{'endpoint': '{url}/infill'{extra}}}")
    if client == "llama.vscode":
        settings = {"llama-vscode.endpoint": url}
        if auth:
            settings["llama-vscode.api_key"] = key
        return "// settings.json (llama.vscode sends /infill requests)\n" + json.dumps(settings, indent=2)
    return "\n".join([f"export OPENAI_BASE_URL={url}/v1", f"export OPENAI_API_KEY='{key}'",
                      f"# python: OpenAI().completions.create(model={name!r}, prompt=PREFIX, suffix=SUFFIX, "
                      "max_tokens=32)"])
