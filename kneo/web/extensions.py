"""flask-smorest objects shared by the blueprints."""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask_smorest import abort
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from kneo.web.openapi import Api


class KneoParser(FlaskParser):
    """Malformed JSON is a 422 ``json_invalid`` like every other validation error."""

    def _raw_load_json(self, req: Any) -> Any:
        try:
            return super()._raw_load_json(req)
        except HTTPException:
            raise
        except Exception:
            abort(422, messages={"json": {"_schema": ["JSON decode error: invalid JSON body."]}})

    def handle_invalid_json_error(self, error: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        abort(422, messages={"json": {"_schema": ["JSON decode error: invalid JSON body."]}})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = KneoParser()


api = Api()
