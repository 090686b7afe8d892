"""The territorial police forces, by the codes the service uses."""

from __future__ import annotations

from flask import jsonify
from flask.wrappers import Response

from service import web
from service.api import Blueprint
from service.resources.forces.schemas import ForcesSchema

blp = Blueprint("forces", __name__, url_prefix="/api/v1/forces", description="The forces known to the service.")


@blp.route("", methods=["GET"])
@blp.response(200, ForcesSchema)
def list_forces() -> Response:
    """The 43 territorial forces of England and Wales and their codes

    Every force field of the API takes one of these codes; `name` is the force's name for people.
    """
    return jsonify({"items": web.queries().forces()})
