"""``GET /v1/models``."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.dependencies import CallContextDep, ServicesDep, TenantDep
from gateway.protocol import ModelCard, ModelList

router = APIRouter()


@router.get("/v1/models", response_model=None)
async def list_models(
    services: ServicesDep, tenant: TenantDep, context: CallContextDep
) -> dict[str, object]:
    """The configured models, plus the upstream's own when any model name is accepted."""
    cards = [ModelCard(id=route.name) for route in services.config.models]
    if services.config.default_backend is not None:
        upstream = await services.router.backend(services.router.route("*")).list_models(context)
        known = {card.id for card in cards}
        cards += [card for card in upstream if card.id not in known]
    return ModelList(data=cards).to_wire()


@router.get("/v1/models/{model:path}", response_model=None)
async def retrieve_model(model: str, services: ServicesDep, tenant: TenantDep) -> dict[str, object]:
    """One model, if the gateway serves it."""
    services.router.route(model)
    return ModelCard(id=model).to_wire()
