"""The HTTP resources, one package each: ``routes.py`` (a blueprint of thin routes) and
``schemas.py`` (what the routes accept and answer)."""

from __future__ import annotations

from service.api import Api


def register_resources(api: Api) -> None:
    from service.resources.audit.routes import blp as audit
    from service.resources.benefits.routes import blp as benefits
    from service.resources.collaborations.routes import blp as collaborations
    from service.resources.decisions.routes import blp as decisions
    from service.resources.events.routes import blp as events
    from service.resources.exit_cases.routes import blp as exit_cases
    from service.resources.forces.routes import blp as forces
    from service.resources.meta.routes import blp as meta

    for blueprint in (meta, forces, collaborations, exit_cases, benefits, decisions, events, audit):
        api.register_blueprint(blueprint)
