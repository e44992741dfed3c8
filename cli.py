"""The ``wijkkompas`` command line: the root group, which parses, calls the engine, prints.

This module keeps what every command shares: the global options (``--workflows``, ``--db``,
``--config``, ``--now``, ``--lang``), the application built from them by the composition root
(``engine/compose.py``) and kept on the click context, and the mapping of the engine's errors
to exit codes: 0 done, 2 bad input, 3 refused by the workflow's rules, 4 changed by someone
else since the event the caller named (``--expect-event``), 5 the database is busy (a lock held
past the lock timeout, a statement timeout, races lost again and again: nothing was saved, try
again), 6 delivery incomplete (a reminder pass left reminders that were due undelivered), 1
anything unexpected. Messages go to stderr, one line each where possible. A command given
``--json`` also prints its error as a problem object (RFC 9457, the same object the HTTP API
answers with: ``engine.app.problems``) on stdout; the exit code stays the same.
The commands themselves live in ``adapters/cli/``, one module per noun; ``COMMANDS`` names
them, and each module is loaded when one of its commands is asked for.

``--now`` pretends another moment for views, previews and dry runs; a command that writes
refuses it (``adapters.cli.shared.app_of``). A program that embeds the command line (a test)
gives it a clock of its own as ``main(args, obj=clock)``: it reaches the composition root as
``Application(clock=...)``. No option or variable sets the time that is written down.

Heavy libraries are imported inside the commands that use them, so ``wijkkompas --help`` and
``wijkkompas workflow validate`` start quickly.
"""

from __future__ import annotations

import gc

# A command spends most of its time importing: classes, functions and modules that live as long
# as the process. With the collector's default threshold (every 700 new objects) a `note` ran 44
# collections, mostly walking those again, 6-17 ms of its 90 (bench/README.md). At 50,000 a
# note or a show runs none; a command that makes objects in volume (an import, `status`, the
# audit) is still collected as it goes.
gc.set_threshold(50_000, 10, 10)

import json
import os
import sys
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn, cast

import click

from adapters.cli.shared import Moment, Text, pretend
from engine.compose import Application

if TYPE_CHECKING:
    from engine.errors import WorkflowError
    from engine.ports import Clock

_JSON_ASKED = "wijkkompas.json"
"""Key in ``ctx.meta`` (shared by every context of one invocation): whether the command was
given ``--json`` (so a refusal is also printed as a problem object on stdout), once its flag
was read; absent before (an option of the root group refused, the configuration unreadable)."""


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"wijkkompas: {message}", err=True)
    sys.exit(code)


def _print_problem(body: dict[str, Any]) -> None:
    click.echo(json.dumps(body, indent=2, ensure_ascii=False, default=str))


def _json_asked(ctx: click.Context, args: Iterable[str]) -> bool:
    """Whether the command was given ``--json``: what its flag said, once it was read;
    before that (an option that could not be read, the root group's own options and
    configuration), what the command line's words ``args`` say."""
    if _JSON_ASKED in ctx.meta:
        return bool(ctx.meta[_JSON_ASKED])
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def _usage_problem(exc: click.UsageError) -> dict[str, Any]:
    from engine.app.problems import problem

    detail = exc.format_message()
    if isinstance(exc, click.BadParameter) and (exc.param is not None or exc.param_hint):
        if exc.param is not None:
            name = exc.param.opts[0] if exc.param.opts else str(exc.param.name)
        else:  # raised by a command itself, naming the option (param_hint)
            hint = exc.param_hint
            name = hint if isinstance(hint, str) else " / ".join(hint or ())
        # A missing one has no message of its own (click words it in format_message).
        reason = exc.message or ("required" if isinstance(exc, click.MissingParameter) else detail)
        return problem(
            "invalid-value",
            detail,
            extensions={"invalid_params": [{"name": name, "reason": reason}]},
        )
    return problem("bad-request", detail)


def _language(ctx: click.Context) -> str:
    """The language of the messages: the application's setting, else (it could not be built)
    ``--lang`` or WIJKKOMPAS_LANGUAGE where they name one, else Dutch."""
    from engine.workflow.wording import DEFAULT_LANGUAGE, LANGUAGES

    app = ctx.find_object(Application)
    if app is not None:
        return app.settings.language
    given = ctx.params.get("language") or os.environ.get("WIJKKOMPAS_LANGUAGE", "")
    return given if given in LANGUAGES else DEFAULT_LANGUAGE


def _said(key: str, ctx: click.Context, /, **values: object) -> str:
    """A line of the root group's own, in the language of the messages."""
    from engine.workflow.wording import cli_text

    return cli_text(key, _language(ctx), **values)


def _explained(ctx: click.Context, exc: WorkflowError) -> str:
    """``exc`` in the words of the catalogue (``engine.workflow.refusals``): what it is about,
    the sentence, then each reason on a line of its own; the gate's criteria with the titles
    the workflow gives them."""
    from contextlib import suppress

    from engine.errors import GateNotMet, WorkflowError
    from engine.workflow.refusals import explain, titles_of

    titles: dict[str, str] = {}
    app = ctx.find_object(Application)
    if isinstance(exc, GateNotMet) and app is not None:
        with suppress(WorkflowError):  # else the ids
            titles = titles_of(app.service().definition(exc.instance), ids=True)
    told = explain(exc, _language(ctx), titles)
    lead = f"{told.about}: {told.lead}" if told.about else told.lead
    return "\n".join([lead, *(f"  - {reason}" for reason in told.reasons)])


COMMANDS: dict[str, tuple[str, str]] = {
    "workflow": ("adapters.cli.workflow", "workflow"),
    "db": ("adapters.cli.database", "db"),
    "demo": ("adapters.cli.database", "demo"),
    "instance": ("adapters.cli.instance", "instance"),
    "milestone": ("adapters.cli.record", "milestone"),
    "gate": ("adapters.cli.record", "gate"),
    "advance": ("adapters.cli.record", "advance"),
    "return": ("adapters.cli.record", "return_command"),
    "pause": ("adapters.cli.record", "pause"),
    "resume": ("adapters.cli.record", "resume"),
    "handover": ("adapters.cli.record", "handover"),
    "stop": ("adapters.cli.record", "stop"),
    "note": ("adapters.cli.record", "note"),
    "log": ("adapters.cli.overview", "log"),
    "audit": ("adapters.cli.overview", "audit"),
    "status": ("adapters.cli.overview", "status"),
    "report": ("adapters.cli.report", "report"),
    "reminders": ("adapters.cli.reminders", "reminders"),
    "outbox": ("adapters.cli.reminders", "outbox"),
    "scheduler": ("adapters.cli.reminders", "scheduler"),
    "inbox": ("adapters.cli.inbox", "inbox"),
    "serve": ("adapters.cli.serve", "serve"),
    "migrate": ("adapters.cli.migrate", "migrate"),
    "org": ("adapters.cli.access", "org"),
    "principal": ("adapters.cli.access", "principal"),
    "token": ("adapters.cli.access", "token"),
    "keys": ("adapters.cli.proofs", "keys"),
    "checkpoint": ("adapters.cli.proofs", "checkpoint"),
    "dossier": ("adapters.cli.proofs", "dossier"),
    "verify": ("adapters.cli.proofs", "verify"),
    "privacy": ("adapters.cli.privacy", "privacy"),
    "webhooks": ("adapters.cli.webhooks", "webhooks"),
    "calendar": ("adapters.cli.calendar", "calendar"),
    "zgw": ("adapters.cli.zgw", "zgw"),
}
"""Every command of the root group: its name, and where it is defined (module, attribute).
A command's module is imported when the command is asked for, so that ``note`` does not load
the modules of the thirty-odd others (about 20 ms of its start-up; bench/README.md);
``--help`` lists them all by name, and so loads them all."""


class _Root(click.Group):
    """Maps engine errors to exit codes and one-line messages (and, with ``--json``, to
    problem objects on stdout). Its commands are loaded on first use (``COMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            from importlib import import_module

            module, attribute = COMMANDS[cmd_name]
            command = getattr(import_module(module), attribute)
            assert isinstance(command, click.Command), cmd_name
            assert command.name == cmd_name, cmd_name
            _note_json_flags([command])
            _check_text([command])
            self.add_command(command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        from engine.errors import DefinitionError, WorkflowError

        words = list(ctx.args)
        try:
            return super().invoke(ctx)
        except DefinitionError as exc:
            self._problem(ctx, exc, words)
            for finding in exc.problems:
                click.echo(str(finding), err=True)
            _fail(_explained(ctx, exc), exc.exit_code)
        except WorkflowError as exc:
            self._problem(ctx, exc, words)
            _fail(_explained(ctx, exc), exc.exit_code)
        except click.UsageError as exc:
            if _json_asked(ctx, words):
                _print_problem(_usage_problem(exc))
            raise
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            _fail(_said("cli_interrupted", ctx), 130)
        except BrokenPipeError:
            # The reader went away (`wijkkompas log KEY | head`): stop quietly, like other tools.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(141)
        except Exception as exc:
            if os.environ.get("WIJKKOMPAS_DEBUG"):
                raise
            if _json_asked(ctx, words):
                from engine.app.problems import problem

                _print_problem(problem("internal", "an unexpected error occurred; see stderr"))
            if type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg", "sqlalchemy"):
                # The database itself refused (read-only file, disk full, server gone): the
                # transaction was rolled back.
                reason = getattr(exc, "orig", None) or exc
                _fail(_said("cli_database_refused", ctx, reason=reason), 1)
            error = f"{type(exc).__name__}: {exc}"
            _fail(_said("cli_unexpected", ctx, error=error), 1)
        finally:
            app = ctx.find_object(Application)
            if app is not None:
                app.close()

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        words = list(args)  # the parser consumes the list it is given
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:  # an option of the root group: --now, --lang, ...
            if _json_asked(ctx, words):
                _print_problem(_usage_problem(exc))
            raise

    @staticmethod
    def _problem(ctx: click.Context, exc: Exception, words: Iterable[str]) -> None:
        from engine.app.problems import problem_for
        from engine.errors import WorkflowError

        if isinstance(exc, WorkflowError) and _json_asked(ctx, words):
            _print_problem(problem_for(exc))


@click.group(
    cls=_Root, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--workflows",
    "workflow_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=str),
    help="Directory with workflow files, searched before ./workflows and the shipped ones "
    "(repeatable; env WIJKKOMPAS_WORKFLOWS, separated by ':'); one that does not exist is "
    "refused.",
)
@click.option(
    "--db",
    "db_url",
    help="Database URL: sqlite:///FILE or postgresql://USER@HOST/DB "
    "(env WIJKKOMPAS_DB; default sqlite:///wijkkompas.db in the working directory).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    help="TOML configuration file (env WIJKKOMPAS_CONFIG).",
)
@click.option(
    "--now",
    "now",
    type=Moment(),
    help="Pretend it is this moment, for views, previews and dry runs (status, instance show, "
    "log, reminders preview, reminders run --dry-run); commands that write refuse it.",
)
@click.option(
    "--lang",
    "language",
    type=click.Choice(["nl", "en"]),
    help="The language of the human-readable views (status, instance show, log, audit verify, "
    "reminders preview), of the line a command that writes prints and of refusals and errors: "
    "nl (default) or en; overrides the setting language (env WIJKKOMPAS_LANGUAGE). --json "
    "output and exit codes are the same in both.",
)
@click.version_option(package_name="wijkkompas", prog_name="wijkkompas")
@click.pass_context
def main(
    ctx: click.Context,
    workflow_dirs: tuple[str, ...],
    db_url: str | None,
    config_path: str | None,
    now: date | datetime | None,
    language: str | None,
) -> None:
    """Run the Wijkkompas (the Dutch step-by-step method for taking neighbourhoods off natural
    gas) as configurable, durable state machines.

    Exit codes: 0 done, 2 bad input, 3 refused by the workflow's rules, 4 changed by someone
    else since the event given with --expect-event, 5 the database is busy (locked or timed out;
    nothing was saved: try again), 6 delivery incomplete (reminders run), 1 unexpected.
    """
    ctx.obj = Application.configure(
        given={"db": db_url, "workflows": workflow_dirs, "language": language},
        env=os.environ,
        config_file=config_path,
        clock=_embedder_clock(ctx.obj),
    )
    if now is not None:
        pretend(ctx, now)


def _embedder_clock(given: object) -> Clock | None:
    """The clock a program that embeds the command line gave as ``main(obj=clock)``."""
    if given is None:
        return None
    if not callable(getattr(given, "now", None)):
        raise TypeError(f"main(obj=...) takes a clock (with now()), not {given!r}")
    return cast("Clock", given)


def _remember_json(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value:
        ctx.meta[_JSON_ASKED] = True
    elif not isinstance(ctx.command, click.Group):  # a group's flag: its command may have one
        ctx.meta.setdefault(_JSON_ASKED, False)
    return value


def _note_json_flags(commands: Iterable[click.Command]) -> None:
    """Let every command's ``--json`` flag note in the invocation's shared ``ctx.meta`` that
    it was given, so that the root group prints a refusal as a problem object; done here, for
    every command as the root group loads it, so that a new command cannot forget it."""
    for command in commands:
        for param in command.params:
            if isinstance(param, click.Option) and "--json" in param.opts:
                assert param.callback is None, f"{command.name}: --json has a callback already"
                param.callback = _remember_json
        if isinstance(command, click.Group):
            _note_json_flags(command.commands.values())


def _check_text(commands: Iterable[click.Command]) -> None:
    """Give every plain text option and argument of ``commands`` the type that refuses bytes
    that are not UTF-8 (``adapters.cli.shared.Text``), naming it, before the command runs;
    done here, as the root group loads each command, so that a new one cannot forget it. A
    value that may be a file's path has a type of its own (``WorkflowRef``, ``click.Path``)."""
    for command in commands:
        for param in command.params:
            if type(param.type) is click.types.StringParamType:
                param.type = Text()
        if isinstance(command, click.Group):
            _check_text(command.commands.values())


if __name__ == "__main__":
    main()
