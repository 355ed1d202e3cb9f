"""OpenAPI post-processing: every operation documents the error answers it can give, in the one error shape
of ``dispatch/api/errors.py`` (``{"detail": "...", "errors": {field: [messages]}}``)."""

from django.utils.translation import gettext_lazy as _

ERROR_COMPONENT = {
    "type": "object",
    "description": "Every error answer of the API.",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "errors": {
            "type": "object",
            "description": "Messages per field at fault (dotted paths for nested fields); empty when no field is.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["detail", "errors"],
}

ERROR_DESCRIPTIONS = {
    "400": _("Invalid input; `errors` names the fields at fault."),
    "401": _("Not authenticated."),
    "403": _("Authenticated, but this role may not do this."),
    "404": _("No such object, or not visible to you."),
    "409": _("Conflict with the object's current state (for example a transition that another user made first)."),
    "413": _("Request body too large."),
    "415": _("Unsupported Content-Type."),
    "429": _("Rate limit exceeded; retry after the Retry-After header's seconds."),
    "503": _("Overloaded or the database is unreachable; nothing was changed, retry after Retry-After seconds."),
}
# 401 is what an anonymous caller gets everywhere but on the login endpoint; 409 only where state can conflict.
WRITE_METHODS = {"post", "put", "patch", "delete"}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_COMPONENT
    ref = {"$ref": "#/components/schemas/Error"}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                # Filters refuse an empty or whitespace-only value (dispatch.rest.filters.StrictFilterSet): say so.
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and schema.get("type") == "string" and "enum" not in schema:
                    schema.setdefault("minLength", 1)
                    schema.setdefault("pattern", r"\S")
            codes = ["400", "401", "403", "404", "429", "503"]
            if method in WRITE_METHODS:
                codes += ["409", "413", "415"]
            if path == "/api/auth/token/":
                codes = ["400", "413", "415", "429", "503"]
            responses = operation["responses"]
            for code in codes:
                responses.setdefault(code, {
                    "description": str(ERROR_DESCRIPTIONS[code]),
                    "content": {"application/json": {"schema": ref}},
                })
    return result
