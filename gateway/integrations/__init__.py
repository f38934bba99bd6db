"""Ways to run the stages from outside the gateway's own routes: LiteLLM's guardrail hooks
and LiteLLM's Generic Guardrail API."""
