"""synthclf.generation: synthetic training data from any OpenAI-compatible LLM.

Entry points
- `generate.run(params, task, setting)`: the `synthclf generate` stage (see generate.py for the
  output contract, the shortfall policy and the metrics).
- `server.serve_forever(llm, host, port)`: `synthclf serve`; `server.local_server(llm)` is the
  context manager that runs the bundled SmolLM2 model on a free loopback port.

Pieces, each usable on its own
- access.py    the one way to the LLM for every stage (generate, judge): `open_session` holds the
               endpoint, client, response cache, limits, budget, prompt style and backend options
- prompts.py   Li et al. (2023) prompts rendered from templates/*.yaml (stable prompt ids)
- client.py    AsyncOpenAI with concurrency, rpm/tpm limits, retries with backoff and Retry-After
- cache.py     the SQLite response cache shared by processes and queued dvc experiments
- cleaning.py  assistant-artifact stripping and the keep/reject filters
- engine.py    the async loop that keeps results deterministic under concurrency
- limits.py    token-bucket rate limiters; accounting.py tokens, calls and cost
"""
