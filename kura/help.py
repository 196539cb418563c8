"""What `kura … --help` says, in the reader's language.

Typer reads every help text when the modules are imported, before anyone has chosen a
language; so the texts stay English in the code (docstrings, `help=N_(…)`) and are
translated here, on the command tree built when the command runs (`speak`), after KURA_LANG
is known. Each command's help is its docstring reflowed into sentences, translated paragraph
by paragraph, then who may run it — the duty, read from the one permission table
(storage.accounts.PERMISSIONS) — and one example (USAGE)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from typer.core import TyperGroup

from kura.usage_errors import speaking
from schemas.i18n import N_, _

ROLE_NAMES: dict[str, str] = {
    "scanning_clerk": N_("scanning clerk"),
    "verifier": N_("verifier"),
    "checker": N_("checker (the second person)"),
    "records_manager": N_("records manager"),
    "security_admin": N_("security administrator"),
    "backup_operator": N_("backup operator"),
    "auditor": N_("auditor"),
}
"""The duties by the names the office gives them."""


def duty_names(roles: list[str] | tuple[str, ...]) -> str:
    """A person's duties in the reader's words."""
    return _(", ").join(_(ROLE_NAMES.get(role, role)) for role in roles)

ANYONE = "anyone"
SIGNED_IN = "signed_in"
OPERATOR = "operator"
WHO: dict[str, str] = {
    ANYONE: N_("anyone at this machine; no sign-in is needed"),
    SIGNED_IN: N_("anyone with an account"),
    OPERATOR: N_("the operator of the installation (who holds its settings and keys)"),
}

USAGE: dict[str, tuple[str, str]] = {
    # command → (the permission its use case asks for, or one of WHO; one example)
    "login": (SIGNED_IN, "kura login tanaka"),
    "logout": (SIGNED_IN, "kura logout"),
    "whoami": (SIGNED_IN, "kura whoami"),
    "find": ("record.read", "kura find basic_pension_number"),
    "backup": ("backup", "kura backup --out /media/backup/kura-2026-11-29.tar"),
    "restore": ("restore", "kura restore kura-2026-11-29.tar --username sato"),
    "watch": (OPERATOR, "kura watch /srv/scans/inbox"),
    "doctor": (OPERATOR, "kura doctor"),
    "ingest": ("intake", "kura ingest ~/scans/2026-11-29/"),
    "queue": ("queue.read", "kura queue --json"),
    "extract": (ANYONE, "kura extract scan.pdf --json"),
    "original": ("original.open",
                 'kura original R20261129-000001 --out original.zip --reason "開示請求 2026-41"'),
    "worker": (OPERATOR, "kura worker --concurrency 4"),
    "web": (OPERATOR, "kura web --port 8000"),
    "demo": (ANYONE, "kura demo --count 6"),
    "forms list": (ANYONE, "kura forms list"),
    "forms separator": (ANYONE, "kura forms separator --out separator.pdf"),
    "forms blank": (ANYONE, "kura forms blank kokunen_hihokensha_todoke --out blank.pdf"),
    "forms propose": (ANYONE, "kura forms propose blank.pdf --out draft.yaml --id new_form"),
    "db upgrade": (OPERATOR, "kura db upgrade"),
    "batch status": ("intake", "kura batch status --follow"),
    "users add": ("users.manage", "kura users add sato --role verifier --expires 2027-03-31"),
    "users disable": ("users.manage", "kura users disable sato"),
    "users enable": ("users.manage", "kura users enable sato"),
    "users roles": ("users.manage", "kura users roles sato --role checker"),
    "users expire": ("users.manage", "kura users expire sato --on 2027-03-31"),
    "users password": ("users.manage", "kura users password sato"),
    "users list": ("users.read", "kura users list --json"),
    "users municipality": ("users.manage", "kura users municipality sato 011002"),
    "audit verify": ("audit.verify", "kura audit verify"),
    "audit search": ("audit.read", "kura audit search --action original.open --since 2026-10-01"),
    "audit report": ("audit.read", "kura audit report --quarter 2026Q4 --out review.csv"),
    "audit erase": ("audit.erase",
                    'kura audit erase R20261129-000001 --why "開示請求 2026-41"'),
    "audit checkpoint": ("audit.checkpoint", "kura audit checkpoint"),
    "keys init": (OPERATOR, "kura keys init"),
    "keys list": ("keys.manage", "kura keys list"),
    "keys rotate": ("keys.manage", "kura keys rotate"),
    "keys retire": ("keys.manage", "kura keys retire 3f2a9c1e"),
    "keys reindex": ("keys.manage", "kura keys reindex"),
    "hold set": ("retention.manage", 'kura hold set R20261129-000001 --reason "訴訟 2026-7"'),
    "hold release": ("retention.manage",
                     'kura hold release R20261129-000001 --reason "訴訟終結"'),
    "hold list": ("retention.manage", "kura hold list --json"),
    "dispose request": ("disposal.request",
                        'kura dispose request R20191129-000001 --reason "保存期間満了"'),
    "dispose approve": ("disposal.approve",
                        "kura dispose approve D20261129-001 --out certificates/"),
    "dispose reject": ("disposal.approve", "kura dispose reject D20261129-001"),
    "dispose list": ("disposal.request", "kura dispose list --json"),
    "dispose certificate": ("disposal.approve",
                            "kura dispose certificate D20261129-001 --out certificates/"),
    "quarantine list": ("quarantine.manage", "kura quarantine list --all"),
    "quarantine pages": ("quarantine.manage", "kura quarantine pages --json"),
    "quarantine pages reread": ("quarantine.manage",
                                'kura quarantine pages reread 7c3e91d0 --reason "復旧後に再処理"'),
    "quarantine pages dispose": ("disposal.request",
                                 'kura quarantine pages dispose 7c3e91d0 --reason "破れた用紙"'),
    "quarantine show": ("quarantine.manage", "kura quarantine show 5f1c2a9b"),
    "quarantine release": ("quarantine.manage",
                           'kura quarantine release 5f1c2a9b --reason "上限変更後に再受付"'),
    "quarantine dispose": ("quarantine.manage",
                           'kura quarantine dispose 5f1c2a9b --reason "重複スキャン"'),
    "register list": ("register.read", "kura register list"),
    "register overdue": ("register.read", "kura register overdue --days 60"),
    "register weekly": ("register.read", "kura register weekly --weeks 8"),
    "register export": ("register.read", "kura register export --out register.csv --cp932"),
    "register describe": ("intake", "kura register describe R20261129-000001 --route mail"),
    "register identify": ("intake", "kura register identify R20261129-000002 --kana ｷﾀ ｲﾁﾛｳ "
                                    "--born S25.4.1"),
    "shintatsu prepare": ("transmittal.prepare", "kura shintatsu prepare"),
    "shintatsu show": ("register.read", "kura shintatsu show S20261129-001"),
    "shintatsu release": ("transmittal.release",
                          'kura shintatsu release S20261129-001 --addressee "日本年金機構" '
                          "--items 12 --out /media/usb"),
    "shintatsu ledger": ("register.read", "kura shintatsu ledger"),
    "shintatsu registered-mail": ("transmittal.prepare",
                                  "kura shintatsu registered-mail S20261129-001 "
                                  "123456789012 --receipt-scan sashidashi.pdf"),
    "totsugo take": ("intake", "kura totsugo take kekka-2026-11-29.pdf"),
    "totsugo run": ("reconcile.run", "kura totsugo run R20261129-000031 --pdf report.pdf"),
    "totsugo show": ("reconcile.run", "kura totsugo show R20261129-000031"),
    "totsugo confirm": ("reconcile.confirm", "kura totsugo confirm R20261129-000031 --accept 7"),
    "verify next": ("queue.read", "kura verify next --form kokunen_hihokensha_todoke"),
    "verify show": ("record.read", "kura verify show R20261129-000001 --field name"),
    "verify accept": ("record.correct", "kura verify accept R20261129-000001 postal_code"),
    "verify correct": ("record.correct",
                       "kura verify correct R20261129-000001 name --reason misread"),
    "verify key": ("record.correct", "kura verify key R20261129-000001 my_number"),
    "verify confirm": ("record.confirm", "kura verify confirm R20261129-000001 name"),
    "verify return": ("record.confirm",
                      'kura verify return R20261129-000001 name --note "原本と照合して再確認"'),
    "verify investigate": ("record.correct",
                           'kura verify investigate R20261129-000001 --note "生年月日に疑義"'),
    "verify rescan": ("record.correct",
                      'kura verify rescan R20261129-000001 --note "2頁目が欠けている"'),
    "verify decide": ("record.confirm",
                      'kura verify decide R20261129-000001 resume --note "電話で確認"'),
    "verify finish": ("record.correct", "kura verify finish R20261129-000001"),
}

UNTRANSLATED = ("bench",)
"""Command groups for developers measuring Kura, whose words stay English."""


def paragraphs(text: str) -> list[str]:
    """A docstring as paragraphs of whole sentences: the hard line breaks of the source go."""
    return [" ".join(block.split()) for block in inspect.cleandoc(text).split("\n\n")
            if block.strip()]


def first_sentence(text: str) -> str:
    """What the list of commands shows of a help text: its first sentence."""
    first = text.split("\n\n")[0]
    ends = [at + 1 for at in (first.find("。"), first.find(". ")) if at >= 0]
    return first[:min(ends)].strip() if ends else first


def duties(permission: str) -> str:
    """Who may run a command, in words: the duties the permission table gives it to."""
    from storage.accounts import PERMISSIONS, ROLES

    if permission in WHO:
        return _(WHO[permission])
    names = [_(ROLE_NAMES[role]) for role in ROLES if role in PERMISSIONS[permission]]
    return _(", ").join(names) if len(names) > 1 else names[0]


def command_help(path: str, text: str) -> str:
    said = [_(paragraph) for paragraph in paragraphs(text)]
    if path in USAGE:
        permission, example = USAGE[path]
        said.append(_("Who may run it: {duties}.").format(duties=duties(permission)))
        said.append(_("Example: {command}").format(command=example))
    return "\n\n".join(said)


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command and group of the tree under `command`, by its path ("users add")."""
    yield " ".join(path), command
    for name, sub in getattr(command, "commands", {}).items():
        if not path and name in UNTRANSLATED:
            continue
        yield from commands(sub, (*path, name))


def speak(root: Any) -> Any:
    """Translate the help of a built command tree (typer.main.get_command) in place."""
    import typer.core
    import typer.rich_utils as panels

    for name, words in PANEL_WORDS.items():
        setattr(panels, name, _(words))
    # typer words a few errors with the standard library's gettext, which has no Japanese;
    # ours has them (TYPER_WORDS). Its copy of click says the rest in English only: the
    # usage line (_translated_usage) and the errors (kura.usage_errors) are said again.
    typer.core._ = _
    panels.rich_format_error = speaking(panels.rich_format_error)  # type: ignore[assignment]
    for path, command in commands(root):
        command.get_help_option = _translated_help_option(command.get_help_option)
        command.format_usage = _translated_usage(command)
        if command.help:
            command.help = command_help(path, command.help)
            command.short_help = first_sentence(command.help)
        for param in command.params:
            if getattr(param, "help", None):
                words = " ".join(param.help.split())
                param.help = _(words)
    return root


class SpeakingGroup(TyperGroup):
    """The root of `kura`: its help is translated when it runs (`typer.Typer(cls=…)`)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        speak(self)
        return super().main(*args, **kwargs)


def _translated_usage(command: Any) -> Any:
    """The usage line with its prefix in the reader's words (click's copy in typer has its
    prefix in English only)."""

    def format_usage(context: Any, formatter: Any) -> None:
        formatter.write_usage(context.command_path,
                              " ".join(command.collect_usage_pieces(context)),
                              prefix=_(USAGE_PREFIX) + " ")

    return format_usage


def _translated_help_option(made: Any) -> Any:
    """The --help option (made by click with its own English words) in the reader's."""

    def help_option(context: Any) -> Any:
        option = made(context)
        if option is not None:
            option.help = _(HELP_OPTION)
        return option

    return help_option


HELP_OPTION = N_("Show this message and exit.")
USAGE_PREFIX = N_("Usage:")
PANEL_WORDS = {
    "ARGUMENTS_PANEL_TITLE": N_("Arguments"), "OPTIONS_PANEL_TITLE": N_("Options"),
    "COMMANDS_PANEL_TITLE": N_("Commands"), "ERRORS_PANEL_TITLE": N_("Error"),
    "ABORTED_TEXT": N_("Aborted."), "REQUIRED_LONG_STRING": N_("[required]"),
    "DEFAULT_STRING": N_("[default: {}]"),
    "RICH_HELP": N_("Try [blue]'{command_path} {help_option}'[/] for help."),
}
"""Typer's own words around the help and errors, fixed when typer is imported."""
TYPER_WORDS = (
    N_("Aborted!"), N_("Missing command."), N_("No such command {name!r}."),
    N_("default: {default}"), N_("required"),
)
"""What typer says to a person with the standard library's gettext."""


def help_messages(root: Any) -> set[str]:
    """Every message id the help of the tree speaks from (for the catalogue's test and
    `pybabel extract`)."""
    found = {*ROLE_NAMES.values(), *WHO.values()}
    for _path, command in commands(root):
        found.update(paragraphs(command.help or ""))
        found.update(" ".join(p.help.split()) for p in command.params
                     if getattr(p, "help", None))
    return found
