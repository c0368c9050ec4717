"""Strict copies of the `openai` SDK's pydantic models, to hold fakes to exactly what it declares.

The SDK's models accept unknown keys (`extra="allow"`) and its unions carry the discriminator
only as SDK metadata (`PropertyInfo`), which pydantic ignores. So every model reachable from a
given SDK type is rebuilt as a fresh pydantic model with the same fields, defaults and aliases but
`extra="forbid"`, recursing through Optional/Union/list/dict/Annotated field types. Rejection of
unknown keys therefore happens inside pydantic at every depth, with the key's exact path, and it
still holds inside plain unions: a member only matches if it knows every key. Unions whose members
all have a required `Literal` tag field become pydantic discriminated unions (members sharing a
tag, like the three `"message"` items, are told apart by a second literal field such as `role`),
so an error names the one member that was meant. Unions that cannot be tagged (e.g. audio formats
whose `type` is optional) stay plain unions. Validation runs in strict JSON mode, so `"100"` for
an integer is an error, as on the wire.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

import pydantic
from pydantic import ConfigDict, Discriminator, Field, Tag, TypeAdapter

_STRICT: dict[type[pydantic.BaseModel], type[pydantic.BaseModel]] = {}


def _is_model(tp: object) -> typing.TypeGuard[type[pydantic.BaseModel]]:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _is_union(tp: object) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _sdk_discriminator(metadata: Sequence[object]) -> str | None:
    for item in metadata:
        if type(item).__name__ == "PropertyInfo":  # openai._utils.PropertyInfo
            found = getattr(item, "discriminator", None)
            if isinstance(found, str):
                return found
    return None


def _without_sdk_metadata(metadata: Sequence[object]) -> list[object]:
    return [item for item in metadata if type(item).__name__ != "PropertyInfo"]


def _literal_values(model: type[pydantic.BaseModel], name: str) -> tuple[object, ...] | None:
    """The values of a required `Literal` field, or None if the field is not one."""
    info = model.model_fields.get(name)
    if info is None or not info.is_required() or get_origin(info.annotation) is not Literal:
        return None
    return get_args(info.annotation)


def tagged_union(members: list[type[pydantic.BaseModel]], key: str) -> Any:
    """A union discriminated on `key` (and a second literal field where tags repeat), or None."""
    tags: dict[object, list[type[pydantic.BaseModel]]] = {}
    for member in members:
        values = _literal_values(member, key)
        if values is None or len(values) != 1:
            return None
        tags.setdefault(values[0], []).append(member)
    second: dict[object, str] = {}
    for tag, group in tags.items():
        if len(group) == 1:
            continue
        names = set(group[0].model_fields)
        for member in group[1:]:
            names &= set(member.model_fields)
        for name in sorted(names - {key}):
            found = [_literal_values(m, name) for m in group]
            flat = [v[0] for v in found if v is not None and len(v) == 1]
            if len(flat) == len(group) and len(set(flat)) == len(flat):
                second[tag] = name
                break
        else:
            return None

    def tag_of(model: type[pydantic.BaseModel]) -> str:
        tag = cast("tuple[object, ...]", _literal_values(model, key))[0]
        if tag in second:
            return f"{tag}/{cast('tuple[object, ...]', _literal_values(model, second[tag]))[0]}"
        return str(tag)

    def pick(value: Any) -> str | None:
        get: Callable[[str], object] = (
            value.get if isinstance(value, dict) else lambda n: getattr(value, n, None)
        )
        tag = get(key)
        if tag is None:
            return None
        if tag in second:
            return f"{tag}/{get(second[tag])}"
        return str(tag)

    choices = tuple(Annotated[m, Tag(tag_of(m))] for m in members)
    expected = ", ".join(repr(tag_of(m)) for m in members)
    what = key if not second else f"{key} (and {'/'.join(sorted(set(second.values())))})"
    unknown = Discriminator(
        pick,
        custom_error_type="unknown_tag",
        custom_error_message=f"missing or unknown {what}; expected one of {expected}",
    )
    return Annotated[Union[choices], unknown]  # noqa: UP007


def _strict_union(tp: Any, key: str | None) -> Any:
    args = get_args(tp)
    optional = type(None) in args
    members = [_strict(arg) for arg in args if arg is not type(None)]
    result: Any = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
    if len(members) > 1 and all(_is_model(m) for m in members):
        tagged = tagged_union(members, key or "type")
        if tagged is not None:
            result = tagged
    return Union[result, None] if optional else result  # noqa: UP007


def _strict(tp: Any) -> Any:
    """The same type with every SDK model replaced by its strict copy."""
    if _is_model(tp):
        return strict_model(tp)
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metadata = get_args(tp)
        inner = (
            _strict_union(base, _sdk_discriminator(metadata)) if _is_union(base) else _strict(base)
        )
        keep = _without_sdk_metadata(metadata)
        return Annotated[(inner, *keep)] if keep else inner
    if _is_union(tp):
        return _strict_union(tp, None)
    if origin is list:
        return list.__class_getitem__(_strict(get_args(tp)[0]))
    if origin is dict:
        key, value = get_args(tp)
        return dict.__class_getitem__((key, _strict(value)))
    return tp


def strict_model(model: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """The SDK model `model` rebuilt with `extra="forbid"` at every depth (cached)."""
    if model in _STRICT:
        return _STRICT[model]
    _STRICT[model] = model  # a self-reference (none exist today) falls back to the SDK model
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = _sdk_discriminator(info.metadata)
        annotation = (
            _strict_union(info.annotation, key)
            if _is_union(info.annotation)
            else _strict(info.annotation)
        )
        keep = _without_sdk_metadata(info.metadata)
        if keep:
            annotation = Annotated[(annotation, *keep)]
        default: Any = ... if info.is_required() else info.default
        fields[name] = (annotation, Field(default, alias=info.alias))
    strict = cast(
        "type[pydantic.BaseModel]",
        pydantic.create_model(
            model.__name__,
            __config__=ConfigDict(extra="forbid"),
            __module__=__name__,
            **fields,
        ),
    )
    _STRICT[model] = strict
    return strict


def union_adapter(sdk_union: Any) -> TypeAdapter[Any]:
    """A strict adapter for an SDK union tagged by `type` (`Annotated[Union, PropertyInfo]`)."""
    union, *_ = get_args(sdk_union)
    members = [strict_model(member) for member in get_args(union)]
    tagged = tagged_union(members, "type")
    if tagged is None:
        raise RuntimeError("the SDK's union is no longer tagged by `type`")
    return TypeAdapter(tagged)


def problems(adapter: TypeAdapter[Any], raw: str | bytes, root: str = "<root>") -> list[str]:
    """Why the JSON `raw` does not validate strictly with `adapter` (empty when it does).

    Each problem starts with the path of the offending value (`root` for the whole document).
    """
    try:
        adapter.validate_json(raw, strict=True)
    except pydantic.ValidationError as exc:
        found = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or root
            shown = json.dumps(error.get("input"), default=str)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            found.append(f"{where}: {error['msg']} (input: {shown})")
        return found
    return []
