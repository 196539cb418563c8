"""How a command reaches a use case: in this process beside the keys, or through the server.

    records = usecase("records")
    found = records.find_records(get_settings(), token, field, value)

Without KURA_SERVER_URL `usecase` is the module storage.usecases.<subject> itself (the
embedded default, and the services beside the keys). With it, `usecase` is a stand-in whose
functions send the call to the Kura server (web/api.py) with the signed-in session as the
bearer token, and give back the same typed result or raise the same error of the one
family; this machine then needs no key and no database credentials. Commands that work
beside the keys (`kura web`, `kura worker`, `kura db upgrade`, `kura keys`) do not use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from inspect import signature
from types import ModuleType
from typing import Any

import httpx

from schemas.errors import ExitCode, InvalidInput, KuraError, Unavailable
from schemas.i18n import _, language
from schemas.settings import Settings, get_settings
from schemas.wire import decode, encode, hints

API = "/api/v1"
LOCAL = frozenset({"records.searchable_field"})
"""Helpers that only check what was typed: they run here, needing nothing of the server's."""


def usecase(subject: str) -> Any:
    """The use cases of `subject` (records, holds, people …): the module, or the server."""
    module = importlib.import_module(f"storage.usecases.{subject}")
    url = get_settings().server_url
    return Remote(module, subject, url) if url else module


class Remote:
    """The functions of a use-case module, each called on the server."""

    def __init__(self, module: ModuleType, subject: str, url: str) -> None:
        self._module, self._subject, self._url = module, subject, url.rstrip("/")

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._module, name)
        if (f"{self._subject}.{name}" in LOCAL or isinstance(real, type)
                or not callable(real)):
            return real  # a helper, a result type, a constant
        special = {("people", "sign_in"): self._sign_in,
                   ("intake", "take_in_batch"): self._take_in}.get((self._subject, name))
        if special is not None:
            return special
        return lambda settings, token, *args, **kwargs: self._call(
            real, token, signature(real).bind(settings, token, *args, **kwargs).arguments)

    def _call(self, function: Callable[..., Any], token: Any,
              arguments: dict[str, Any]) -> Any:
        from web.api import SUPPLIED

        types = hints(function)
        sent = {}
        for key, value in arguments.items():
            if key in ("settings", "token", *SUPPLIED):  # the server's own, not sent
                continue
            if callable(value):
                raise InvalidInput(_("This cannot be done through the Kura server ({name})."
                                     ).format(name=key))
            sent[key] = encode(value, types[key])
        session = token() if callable(token) else token
        answer = self._post(f"/call/{self._subject}.{function.__name__}", session,
                            json={"arguments": sent})
        return decode(answer["result"], types["return"])

    def _sign_in(self, settings: Settings, username: str, password: str,
                 enrol: bool = False) -> Any:
        """The password, checked by the server; a second factor then follows as calls
        with the session it answered (`access.begin_enrolment` for a duty that has none yet,
        `access.check_second_factor`, kura.cli_people). The server always asks a duty that
        needs a second factor to set one up (`enrol`), whatever the client says."""
        from storage.accounts import SignedIn

        answer = self._post("/signin", json={"username": username, "password": password})
        return decode(answer["signed_in"], SignedIn)

    def _take_in(self, settings: Settings, token: Any, arrivals: Sequence[Any],
                 channel: str, checks: object) -> Any:
        """`kura ingest`: the files stream to the server (kura/uploading.py), which runs its
        own intake checks (`checks` are this machine's, unused) and has the pages read."""
        from kura.uploading import StreamedBatch
        from storage.intake import IntakeResult
        from web.api import too_many_files
        from web.uploads import MAX_FILES

        body = StreamedBatch(arrivals, channel)
        if body.sent > MAX_FILES:  # refused before a byte is sent, as the server would
            raise too_many_files()
        session = token() if callable(token) else token
        answer = self._post("/intake", session, content=iter(body),
                            headers={"content-type": body.content_type})
        return decode(answer["result"], IntakeResult)

    def _post(self, path: str, token: str | None = None, **request: Any) -> Any:
        """POST `request` (json=…, or content=… with its headers) to the API; the answer's
        JSON, or the family's error it carries raised here."""
        headers = {"accept-language": language(), **request.pop("headers", {})}
        if token:
            headers["authorization"] = f"Bearer {token}"
        try:
            response = httpx.post(f"{self._url}{API}{path}", headers=headers,
                                  timeout=get_settings().server_timeout_s, **request)
        except httpx.HTTPError as error:
            raise Unavailable(
                _("The Kura server at {url} cannot be reached ({error}).").format(
                    url=self._url, error=type(error).__name__),
                hint=_("Check KURA_SERVER_URL and the network, or ask the administrator "
                       "whether the server runs.")) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and "error" in answer:
            raise again(answer["error"])
        if response.status_code != 200 or not isinstance(answer, dict):
            raise Unavailable(_("The Kura server answered HTTP {status}.").format(
                status=response.status_code))
        return answer


def again(error: dict[str, Any]) -> KuraError:
    """The server's error as this process raises it: the same class of the family when this
    process knows it, else one with the same code and exit status."""
    known = _family().get(str(error.get("type")))
    raised = (known or ServerError).__new__(known or ServerError)  # no class's own __init__
    KuraError.__init__(raised, str(error.get("message", "")), hint=str(error.get("hint", "")))
    if known is None:
        raised.code = str(error.get("code", ServerError.code))
        raised.exit_code = ExitCode(int(error.get("exit_code", ExitCode.failed)))
    return raised


class ServerError(KuraError):
    """An error of the server's family this client does not know by name."""

    code = "server"


def _family() -> dict[str, type[KuraError]]:
    """Every class of the error family this process has imported, by name."""
    found: dict[str, type[KuraError]] = {}
    waiting: list[type[KuraError]] = [KuraError]
    while waiting:
        kind = waiting.pop(0)
        found.setdefault(kind.__name__, kind)
        waiting.extend(kind.__subclasses__())
    return found
