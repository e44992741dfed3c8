"""Independent checking on the command line: ``keys``, ``checkpoint``, ``dossier`` and ``verify``.

    wijkkompas keys create [--out FILE]         a new Ed25519 signing key (file outside the db)
    wijkkompas keys show [--out FILE]           the public key (PEM) and its id
    wijkkompas checkpoint                       sign a checkpoint now (and publish it)
    wijkkompas checkpoint list | show [N]       the checkpoints
    wijkkompas checkpoint proof KEY             an instance's inclusion proof
    wijkkompas checkpoint check --checkpoint F  the whole database against a kept checkpoint
    wijkkompas dossier export KEY --out F.zip   the dossier of an instance and its deelprojecten
    wijkkompas verify F.zip --public-key K      check a dossier (the standalone verifier's code)

A failed check exits 3, like ``audit verify``; unreadable input exits 2.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from adapters.cli.shared import app_of, print_json
from engine.errors import InvalidValue

if TYPE_CHECKING:
    # engine.ports costs ~50 ms to import: only the commands that need it pay for it.
    from engine.ports.proofs import Checkpoint

__all__ = ["checkpoint", "dossier", "keys", "verify"]

NUMBER = click.IntRange(min=1, max=2**31 - 1)
"""A checkpoint's number: within what its column holds on every database (PostgreSQL's
INTEGER: 32 bits); a larger one is bad input, exit 2, not an error of the query."""
NUMBER_OR_ZERO = click.IntRange(min=0, max=2**62)


@click.group()
def keys() -> None:
    """The programme's signing key for checkpoints."""


@keys.command("create")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=str),
    help="Where to write the private key (default: the setting signing_key).",
)
@click.pass_context
def keys_create(ctx: click.Context, out: str | None) -> None:
    """Make a new Ed25519 signing key. Keep the file outside the database and its backups;
    an existing file is never overwritten."""
    from adapters.signing import create_key, key_id, public_pem

    app = app_of(ctx)
    path = out or app.settings.signing_key
    key = create_key(path)
    click.echo(f"signing key written to {path} (key id {key_id(key.public_key())})")
    click.echo(public_pem(key.public_key()), nl=False)


@keys.command("show")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write the public key (PEM) to this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def keys_show(ctx: click.Context, out: str | None, as_json: bool) -> None:
    """The public key that verifies the checkpoints (give it to whoever checks a dossier)."""
    from adapters.signing import FileSigner, public_pem

    signer = FileSigner(app_of(ctx).settings.signing_key)
    pem = public_pem(signer.public)
    if out:
        try:
            Path(out).write_text(pem, encoding="ascii")
        except OSError as exc:
            raise InvalidValue("--out", out, exc.strerror or str(exc)) from None
    if as_json:
        print_json({"key_id": signer.key_id, "public_key": pem})
    else:
        click.echo(f"key id {signer.key_id}")
        click.echo(pem, nl=False)


def _checkpoint_json(made: Checkpoint) -> dict[str, Any]:
    return made.as_dict()


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def checkpoint(ctx: click.Context, as_json: bool) -> None:
    """Sign a checkpoint over every instance's chain head (without a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    made = app_of(ctx).checkpoint()
    if as_json:
        print_json(_checkpoint_json(made))
    else:
        click.echo(
            f"checkpoint {made.number}: {made.size} heads, root {made.root}, "
            f"{made.time.isoformat()}"
        )


@checkpoint.command("list")
@click.option(
    "--after", type=NUMBER_OR_ZERO, default=0, help="Only checkpoints numbered above this."
)
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=100, help="At most this many (1 to 1000)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def checkpoint_list(ctx: click.Context, after: int, limit: int, as_json: bool) -> None:
    """The checkpoints, oldest first."""
    found = app_of(ctx).service().checkpoints.listing(after, limit)
    if as_json:
        print_json([_checkpoint_json(c) for c in found])
        return
    for c in found:
        click.echo(f"{c.number:>6}  {c.time.isoformat()}  {c.size:>8} heads  {c.root}")


@checkpoint.command("show")
@click.argument("number", type=NUMBER, required=False)
@click.option("--out", type=click.Path(dir_okay=False, path_type=str), help="Write it here.")
@click.pass_context
def checkpoint_show(ctx: click.Context, number: int | None, out: str | None) -> None:
    """One checkpoint (default: the latest) as published: keep it to check later dossiers."""
    from adapters.publication import checkpoint_file

    service = app_of(ctx).service()
    found = service.checkpoints.latest() if number is None else service.checkpoints.get(number)
    data = checkpoint_file(found)
    if out:
        try:
            Path(out).write_bytes(data)
        except OSError as exc:
            raise InvalidValue("--out", out, exc.strerror or str(exc)) from None
    else:
        click.echo(data.decode("utf-8"), nl=False)


@checkpoint.command("proof")
@click.argument("key")
@click.option("--number", type=NUMBER, help="In this checkpoint (default: the latest).")
@click.pass_context
def checkpoint_proof(ctx: click.Context, key: str, number: int | None) -> None:
    """The inclusion proof of KEY's newest recorded head (JSON)."""
    proof = app_of(ctx).service().checkpoints.inclusion(key, number)
    print_json({**proof.as_dict(), "root": proof.checkpoint.root})


def read_checkpoint(path: str) -> Checkpoint:
    """A checkpoint file as published; InvalidValue naming the file when it is not one."""
    from engine.ports.proofs import Checkpoint

    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
        return Checkpoint(
            number=int(value["number"]),
            size=int(value["size"]),
            root=str(value["root"]),
            time=datetime.fromisoformat(str(value["time"]).replace("Z", "+00:00")),
            key_id=str(value["key"]),
            signature=str(value["signature"]),
        )
    except FileNotFoundError:
        raise InvalidValue("checkpoint file", path, "an existing file") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise InvalidValue(
            "checkpoint file", path, f"a checkpoint as published (JSON): {exc}"
        ) from None


def _public_key(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidValue("public key file", path, exc.strerror or str(exc)) from None


@checkpoint.command("check")
@click.option(
    "--checkpoint",
    "kept_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="A checkpoint kept earlier (JSON, as published).",
)
@click.option(
    "--public-key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="The programme's public key (PEM).",
)
@click.pass_context
def checkpoint_check(ctx: click.Context, kept_path: str, key_path: str) -> None:
    """Hold the whole database against a checkpoint kept earlier: exit 3 naming each
    instance and event whose history was rewritten, swapped or dropped since."""
    from adapters.verify_dossier import BadInput, public_key_id

    kept = read_checkpoint(kept_path)
    pem = _public_key(key_path)
    try:
        public_key_id(pem)  # a file that holds no key is bad input, not a failed check
    except BadInput as exc:
        raise InvalidValue("public key file", key_path, str(exc)) from None
    app = app_of(ctx)
    report = app.service().checkpoints.check(kept, app.signed_by(pem))
    for line in report.checked:
        click.echo(f"ok: {line}")
    for line in report.problems:
        click.echo(f"FAILED: {line}", err=True)
    if not report.ok:
        sys.exit(3)


@click.group()
def dossier() -> None:
    """Dossiers anyone can verify."""


@dossier.command("export")
@click.argument("key")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="The zip file to write.",
)
@click.option(
    "--redact",
    type=click.Choice(["personal"]),
    default=None,
    help="personal: leave every personal value out (a dossier for a Woo request); it still "
    "verifies.",
)
@click.pass_context
def dossier_export(ctx: click.Context, key: str, out: str, redact: str | None) -> None:
    """The dossier of KEY and its deelprojecten: events, workflows, chain, checkpoint with
    proofs, the decision log (HTML) and the standalone verifier, in one zip."""
    made = app_of(ctx).dossier(key, redact=redact)
    try:
        Path(out).write_bytes(made.data)
    except OSError as exc:
        raise InvalidValue("--out", out, exc.strerror or str(exc)) from None
    anchored = (
        f"checkpoint {made.checkpoint}" if made.checkpoint is not None else "no checkpoint yet"
    )
    click.echo(
        f"{out}: {made.instances} instance(s), {made.events} events, {anchored}; verify with "
        "python verify_dossier.py (inside) or wijkkompas verify"
    )


@click.command("verify")
@click.argument("path", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--public-key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="The programme's public key (PEM).",
)
@click.option(
    "--checkpoint",
    "kept_path",
    type=click.Path(dir_okay=False, path_type=str),
    help="A checkpoint kept earlier: the dossier's must extend it.",
)
def verify(path: str, key_path: str, kept_path: str | None) -> None:
    """Check a dossier: workflow hashes, every chain, the checkpoint's signature, the recorded
    heads, and (with --checkpoint) that nothing was rewritten since. Exit 3 on a failure."""
    from adapters.verify_dossier import (
        MALFORMED,
        BadInput,
        DossierProblem,
        read_json,
        verify_dossier,
    )

    try:
        kept = read_json(kept_path) if kept_path else None
        verify_dossier(
            path, _public_key(key_path), kept, say=lambda line: click.echo(f"ok: {line}")
        )
    except BadInput as exc:
        raise InvalidValue("dossier", path, str(exc)) from None
    except DossierProblem as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(3)
    except MALFORMED as exc:
        click.echo(f"FAILED: the dossier is malformed ({type(exc).__name__}: {exc})", err=True)
        sys.exit(3)
    click.echo("the dossier holds: every check above passed")
