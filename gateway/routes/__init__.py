"""HTTP routers, one module per surface: chat, pass-through, models, admin, health, metrics."""
