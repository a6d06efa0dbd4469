"""Discord's OpenAPI 3.1 spec: route matching and request-body validation.

The spec is loaded once per process. Validators are built lazily, one per
(operation, media type), and cached. A few deliberate leniencies are applied to
an in-memory copy of the spec where real Discord accepts more than the spec
says (see ``_LENIENCIES``); each is documented in README.md.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import referencing
from jsonschema import _keywords  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]
from referencing.jsonschema import DRAFT202012

# A verbatim copy of ../shared/reference/discord-openapi.json (Discord, MIT; see
# tests/data/discord-openapi.LICENSE), so the tests run from any clone.
SPEC_PATH = Path(__file__).resolve().parents[2] / "data" / "discord-openapi.json"
SPEC_URI = "urn:discord-openapi"

_HTTP_METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    """One OpenAPI operation: a method on a path template such as ``/channels/{channel_id}``."""

    method: str
    template: str
    operation_id: str
    params: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class FieldError:
    """One validation failure, located by JSON path, phrased like Discord's error codes."""

    path: tuple[str | int, ...]
    code: str
    message: str

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path) or "<body>"
        return f"{where}: {self.message} ({self.code})"


def _snowflake_lenient(spec: dict[str, Any]) -> None:
    # Discord accepts JSON integers wherever a snowflake string is expected, and
    # discord.py relies on it (attachment ids in payloads, allowed_mentions.users,
    # message_reference.message_id ...).
    spec["components"]["schemas"]["SnowflakeType"] = {
        "anyOf": [
            {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"},
            {"type": "integer", "minimum": 0},
        ]
    }


_LENIENCIES = (_snowflake_lenient,)


@functools.cache
def load_spec() -> dict[str, Any]:
    """The spec with leniencies applied (cached for the whole process)."""
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    spec = copy.deepcopy(spec)
    for patch in _LENIENCIES:
        patch(spec)
    return spec


@functools.cache
def load_spec_cached() -> dict[str, Any]:
    """The spec the validators resolve against (one copy per process)."""
    return _registry().contents(SPEC_URI)  # type: ignore[no-any-return]


@functools.cache
def _registry() -> referencing.Registry[Any]:
    resource: referencing.Resource[Any] = DRAFT202012.create_resource(load_spec())
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(SPEC_URI, resource)
    return registry


def _compile_template(template: str) -> tuple[re.Pattern[str], int]:
    literals = 0
    parts = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            literals += 1
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$"), literals


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], int, str]]:
    compiled = [(*_compile_template(t), t) for t in load_spec()["paths"]]
    # Most literal segments first, so /users/@me wins over /users/{user_id}.
    compiled.sort(key=lambda item: -item[1])
    return compiled


def match_path(path: str) -> tuple[str, dict[str, str]] | None:
    """Find the spec template for a concrete path (relative to ``/api/v10``)."""
    for pattern, _, template in _templates():
        m = pattern.match(path)
        if m:
            return template, m.groupdict()
    return None


def methods_for(template: str) -> list[str]:
    return [m.upper() for m in load_spec()["paths"][template] if m in _HTTP_METHODS]


def find_operation(method: str, path: str) -> Operation | None:
    matched = match_path(path)
    if matched is None:
        return None
    template, params = matched
    op = load_spec()["paths"][template].get(method.lower())
    if op is None:
        return None
    return Operation(method.upper(), template, op.get("operationId", ""), params)


def has_operation(method: str, template: str) -> bool:
    return method.lower() in load_spec()["paths"].get(template, {})


# --------------------------------------------------------------------------- formats

_format_checker = jsonschema.FormatChecker(formats=())


@_format_checker.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@_format_checker.checks("uri", raises=ValueError)  # type: ignore[untyped-decorator]
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.path):
        raise ValueError("Not a well formed URL.")
    return True


# ------------------------------------------------------------------------ validation


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


# --- a faster `oneOf` for the spec's two common shapes, with the same verdicts --------
# jsonschema's `oneOf` validates every branch and builds an error for each one that
# fails. The spec's enums are `oneOf` lists of `{"const": n}` (20 for a component type,
# checked for every component), and its component and option unions are `oneOf` lists of
# schemas told apart by `properties.type` (an `enum` of one value): validating a page of
# 40 components took ~50 ms. An instance matches exactly one const of a const list, or
# only the branch of its own `type` can match a discriminated union: both are decided
# here directly; anything else goes to jsonschema's own `oneOf`.
_ANNOTATIONS = {"title", "description", "deprecated"}
_ONE_OF_PLANS: dict[int, tuple[list[Any], Any]] = {}


def _branch(schema: Any) -> Any:
    prefix = "#/components/schemas/"
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        ref = schema["$ref"]
        if len(schema) != 1 or not isinstance(ref, str) or not ref.startswith(prefix):
            return None
        schema = load_spec_cached()["components"]["schemas"].get(ref[len(prefix) :])
        seen += 1
    return schema


def _one_of_plan(one_of: list[Any]) -> Any:
    if all(
        isinstance(b, dict) and "const" in b and set(b) <= {"const", *_ANNOTATIONS} for b in one_of
    ):
        consts = [b["const"] for b in one_of]
        if all(type(c) in (int, str) for c in consts) and len(set(consts)) == len(consts):
            return ("consts", {(type(c), c) for c in consts})
        return None
    by_type: dict[int, list[int]] = {}
    for index, raw in enumerate(one_of):
        branch = _branch(raw)
        if not isinstance(branch, dict) or "type" not in branch.get("required", ()):
            return None
        discriminator = branch.get("properties", {}).get("type")
        values = discriminator.get("enum") if isinstance(discriminator, dict) else None
        if not isinstance(values, list) or not all(type(v) is int for v in values):
            return None
        for value in values:
            by_type.setdefault(value, []).append(index)
    return ("types", by_type)


def _fast_one_of(validator: Any, one_of: list[Any], instance: Any, schema: Any) -> Any:
    known = _ONE_OF_PLANS.get(id(one_of))
    if known is None or known[0] is not one_of:
        known = _ONE_OF_PLANS[id(one_of)] = (one_of, _one_of_plan(one_of))
    plan = known[1]
    if plan is not None and plan[0] == "consts":
        if (type(instance), instance) in plan[1]:
            return  # equal to exactly one (the consts are distinct)
    elif plan is not None and isinstance(instance, dict) and type(instance.get("type")) is int:
        indexes = plan[1].get(instance["type"], [])
        if len(indexes) == 1:
            index = indexes[0]
            errors = list(validator.descend(instance, one_of[index], schema_path=index))
            if errors:
                yield ValidationError(
                    f"{instance!r} is not valid under any of the given schemas", context=errors
                )
            return
    yield from _keywords.oneOf(validator, one_of, instance, schema)


_SpecValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, validators={"oneOf": _fast_one_of}
)


def _validator_for_pointer(pointer: str) -> jsonschema.Draft202012Validator:
    # Reference the schema *inside* the registered spec resource, so its own
    # "#/components/schemas/..." refs resolve against the spec.
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": SPEC_URI + "#" + pointer,
    }
    return _SpecValidator(schema, registry=_registry(), format_checker=_format_checker)


@functools.cache
def _validator(method: str, template: str, media: str) -> jsonschema.Draft202012Validator | None:
    op = load_spec()["paths"][template].get(method.lower(), {})
    content = op.get("requestBody", {}).get("content", {})
    if media == "multipart/form-data" and "application/json" in content:
        # The multipart schemas are the JSON schema plus ``files[n]`` string
        # properties (or the very same anyOf). ``payload_json`` carries the JSON
        # part, so it is validated against the application/json schema.
        media = "application/json"
    if media not in content:
        return None
    ptr = _pointer("paths", template, method.lower(), "requestBody", "content", media, "schema")
    return _validator_for_pointer(ptr)


def body_schema_exists(method: str, template: str) -> bool:
    op = load_spec()["paths"][template].get(method.lower(), {})
    return "requestBody" in op


def body_required(method: str, template: str) -> bool:
    op = load_spec()["paths"][template].get(method.lower(), {})
    return bool(op.get("requestBody", {}).get("required"))


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    if error.context:
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


def _best_leaf(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf failures, the deepest failing leaf is the one that matters.

    (``{"type": 4, "data": {"content": <2001 chars>}}`` fails every branch of the
    callback union, but only the ``data.content`` failure is interesting.)
    """
    leaves = list(_leaves(error))
    if not leaves:
        return error
    return max(leaves, key=lambda e: len(e.absolute_path))


def _describe(error: ValidationError) -> FieldError:
    path = tuple(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    if kind == "maxLength" or kind == "maxItems":
        return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length.")
    if kind == "minLength" or kind == "minItems":
        return FieldError(path, "BASE_TYPE_MIN_LENGTH", f"Must be {value} or more in length.")
    if kind == "required":
        return FieldError(path, "BASE_TYPE_REQUIRED", f"This field is required ({error.message}).")
    if kind in ("enum", "const"):
        return FieldError(path, "BASE_TYPE_CHOICES", f"Value must be one of {value!r}.")
    if kind in ("maximum", "minimum"):
        return FieldError(
            path, "NUMBER_TYPE_MAX" if kind == "maximum" else "NUMBER_TYPE_MIN", error.message
        )
    if kind == "format":
        return FieldError(
            path, "URL_TYPE_INVALID_URL" if value == "uri" else "BASE_TYPE_BAD", error.message
        )
    return FieldError(path, "BASE_TYPE_BAD", error.message)


def validate_body(method: str, template: str, media: str, body: Any) -> list[FieldError]:
    """Validate a parsed request body. Returns Discord-style field errors (empty = valid).

    A body seen before is not validated again: validation is a pure function of the
    schema and the body, and jsonschema's `oneOf` over Discord's component and callback
    unions made it most of the emulator's CPU (bench/load.py), where a bot sends the
    same page, deferral or answer many times."""
    if _validator(method, template, media) is None:
        return []
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return list(_validate_text(method, template, media, text))


@functools.lru_cache(maxsize=4096)
def _validate_text(method: str, template: str, media: str, text: str) -> tuple[FieldError, ...]:
    validator = _validator(method, template, media)
    assert validator is not None
    body = json.loads(text)
    return tuple(_describe(_best_leaf(e)) for e in validator.iter_errors(body))


def validate_query(method: str, template: str, query: Mapping[str, str]) -> list[FieldError]:
    """Loose query check: known parameters must parse as their declared type."""
    op = load_spec()["paths"][template].get(method.lower(), {})
    errors: list[FieldError] = []
    for param in op.get("parameters", []):
        if param.get("in") != "query" or param["name"] not in query:
            continue
        value = query[param["name"]]
        schema = param.get("schema", {})
        if schema.get("$ref", "").endswith("/SnowflakeType"):
            if not value.isdigit():
                errors.append(
                    FieldError(
                        (param["name"],), "NUMBER_TYPE_COERCE", f"Value {value!r} is not snowflake."
                    )
                )
        elif schema.get("type") == "boolean":
            if value.lower() not in ("true", "false", "1", "0"):
                errors.append(
                    FieldError(
                        (param["name"],),
                        "BOOLEAN_TYPE_COERCE",
                        f"Value {value!r} is not a boolean.",
                    )
                )
        elif schema.get("type") == "integer":
            try:
                number = int(value)
            except ValueError:
                errors.append(
                    FieldError(
                        (param["name"],), "NUMBER_TYPE_COERCE", f"Value {value!r} is not int."
                    )
                )
                continue
            lo, hi = schema.get("minimum"), schema.get("maximum")
            if (lo is not None and number < lo) or (hi is not None and number > hi):
                errors.append(
                    FieldError(
                        (param["name"],), "NUMBER_TYPE_MAX", f"Value {number} is out of range."
                    )
                )
    return errors


def discord_errors(errors: list[FieldError]) -> dict[str, Any]:
    """Nest field errors the way Discord does: ``{"data": {"content": {"_errors": [...]}}}``."""
    tree: dict[str, Any] = {}
    for err in errors:
        node = tree
        for part in err.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": err.code, "message": err.message})
    return tree


def validate_response(operation_template: str, method: str, status: int, body: Any) -> list[str]:
    """Check one of the emulator's own responses against the spec (used by self-tests)."""
    validator = _response_validator(operation_template, method.lower(), str(status))
    if validator is None:
        return []
    return [str(_describe(_best_leaf(e))) for e in validator.iter_errors(body)]


@functools.cache
def _response_validator(
    template: str, method: str, status: str
) -> jsonschema.Draft202012Validator | None:
    response = load_spec()["paths"][template][method]["responses"].get(status)
    if response is None or "content" not in response:
        return None
    ptr = _pointer(
        "paths", template, method, "responses", status, "content", "application/json", "schema"
    )
    return _validator_for_pointer(ptr)
