"""HTTP routers: each validates, calls a service and maps the result."""
