"""The OpenAPI a client can learn from: every body and answer typed, the token to send, and the
docs (Swagger UI) served from an installed package, so they work offline.

Command bodies are their Structs' schemas as Litestar draws them, with two changes that say what
`bodies.decode_body` accepts: the tag naming the command may be left out (the route names it),
and an unknown field is refused. Each carries the examples of `casework.domain.examples`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Schema, SecurityScheme
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from casework.api.deps import SESSION_COOKIE
from casework.domain.commands import TAG, Command
from casework.domain.examples import EXAMPLES

ASSETS = "/schema/assets"
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="A token of the identity provider, or in development `casework token`.",
    ),
    "session": SecurityScheme(
        type="apiKey",
        name=SESSION_COOKIE,
        security_scheme_in="cookie",
        description="The browser UI's session cookie (HttpOnly, SameSite=Strict).",
    ),
}
API_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
"""Every /api operation: a bearer token, or the session cookie."""


def swagger_assets() -> Path:
    """Swagger UI 5 (the first to read OpenAPI 3.1) as the swagger-ui-py package ships it."""
    spec = importlib.util.find_spec("swagger_ui")  # found, not imported: its own code is unused
    if spec is None or spec.origin is None:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(spec.origin).parent / "static"


class CommandSchemas(OpenAPISchemaPlugin):
    """A command's schema, as `decode_body` reads a body sent to the command's own route."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return not field_definition.is_union and field_definition.is_subclass_of(Command)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        drawn = next(  # Litestar's own plugin for msgspec Structs, which comes after ours
            plugin
            for plugin in schema_creator.plugins
            if plugin is not self and schema_creator.plugin_supports_field(plugin, field_definition)
        )
        schema: Schema = drawn.to_openapi_schema(field_definition, schema_creator)
        command: type[Command] = field_definition.annotation
        schema.required = [name for name in schema.required or [] if name != TAG] or None
        schema.additional_properties = False
        schema.examples = list(EXAMPLES.get(command.name(), {}).values()) or None
        return schema


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="casework",
        version="1",
        description="Case management for the Uusimaa TE office's partial-work-ability programme."
        " Authorize with a bearer token. Errors are `application/problem+json`.",
        path="/schema",
        components=Components(security_schemes=SECURITY_SCHEMES),
        use_handler_docstrings=True,
        render_plugins=[
            SwaggerRenderPlugin(
                path="/swagger",
                js_url=f"{ASSETS}/swagger-ui-bundle.js",
                css_url=f"{ASSETS}/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
            )
        ],
    )
