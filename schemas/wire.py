"""How a use case's arguments and results cross the wire between `kura` and the server.

One small typed codec: a value is turned into JSON, and back, by the type the use case's
own signature gives it (`typing.get_type_hints`), so a dataclass result comes back as the
same dataclass, a date as a date, and bytes (an original) as base64. Nothing in the
message names a Python type: a message can only become what the signature expects."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any, get_type_hints

from pydantic import ConfigDict, TypeAdapter, ValidationError

from schemas.errors import InvalidInput
from schemas.i18n import _

_CONFIG = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")


@lru_cache(maxsize=256)
def _adapter(hint: Any) -> TypeAdapter[Any]:
    # wrapped in a tuple: a dataclass cannot take the config itself, its fields inherit it
    return TypeAdapter(tuple[hint], config=_CONFIG)


def hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The parameter and return types of `function` ("return" for the result)."""
    return get_type_hints(function)


def encode(value: Any, hint: Any) -> Any:
    """`value` as JSON-ready data, by its type `hint`."""
    return _adapter(hint).dump_python((value,), mode="json")[0]


def decode(data: Any, hint: Any) -> Any:
    """The value of type `hint` that `data` (from `encode`) stands for."""
    try:
        return _adapter(hint).validate_json(json.dumps([data]))[0]
    except ValidationError as error:
        raise InvalidInput(_("A value sent to or from the Kura server does not have the "
                             "expected form ({count} problems).").format(
                                 count=error.error_count())) from None
