"""HTTP routers, one module per surface: the generation routes (chat, completions,
responses, each a thin layer over the one handler through ``respond``), pass-through,
models, admin, health and metrics."""
