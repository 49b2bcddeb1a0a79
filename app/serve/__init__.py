"""The studio's HTTP face: OpenAI- and llama.cpp-compatible endpoints over the models of a workspace (ASGI on
Starlette, served by uvicorn). It never imports textual; generation runs in one thread per slot so the event loop
stays free, and every request is recorded in the lineage store by a background writer, off the request path.

catalog.py  which models are served, from which GGUF, under which names
engine.py   loaded models (LRU within a memory budget), slots, the bounded queue, cancellation
recorder.py the background writer of usage rows
protocol.py the wire: OpenAI error objects, JSON bodies (1 MiB at most), parameters, JSON and SSE answers
state.py    one server's shared state: names, key check, routes, A/B splits, issued completions, the recorder
api.py      the Starlette application: the endpoints
server.py   uvicorn with the ready line, SIGTERM, the state file `serve --print-config` reads
clients.py  client configurations (Continue, llama.vim, OpenAI SDKs)
vllm.py     `serve --engine vllm`: the same model names through vLLM's OpenAI server
"""
