"""Every resource's blueprint, registered on the app's Api in the order the OpenAPI document lists them."""

from __future__ import annotations

from service.api import Api
from service.resources.audit.routes import blp as audit
from service.resources.benefits.routes import blp as benefits
from service.resources.collaborations.routes import blp as collaborations
from service.resources.decisions.routes import blp as decisions
from service.resources.event_types.routes import blp as event_types
from service.resources.events.routes import blp as events
from service.resources.exit_cases.routes import blp as exit_cases
from service.resources.forces.routes import blp as forces
from service.resources.meta.routes import blp as meta
from service.resources.webhooks.routes import blp as webhooks


def register_resources(api: Api) -> None:
    api.register_blueprints(
        (meta, forces, collaborations, exit_cases, benefits, decisions, events, event_types, webhooks, audit)
    )
