"""Configuration: command-line values, then WIJKKOMPAS_* environment variables, then a TOML file.

Read once, by the composition root (``engine/compose.py``), and handed to what needs it; engine
modules never read the environment themselves. Every setting can be given in all three places;
the first that has it wins. A bad value fails loudly, naming the setting, where it came from and
what is allowed: every e-mail address (mail_from, programme_email, digest, contacts) is checked
at start, and the smtp notifier needs mail_from set (maildir and console fall back to
LOCAL_SENDER).

TOML file (``--config`` / WIJKKOMPAS_CONFIG)::

    db = "postgresql://wijkkompas@db.gemeente.nl/wijkkompas"
    sqlite_synchronous = "FULL"      # OFF, NORMAL, FULL, EXTRA
    max_start_age = 10               # years a new instance's start may lie back (else exit 2,
                                     # unless --allow-old-start)
    lock_timeout = 30                # seconds to wait for another writer's lock (then exit 5)
    actor = "j.jansen"
    workflows = ["/etc/wijkkompas/workflows"]

    notifier = "smtp"                # smtp, maildir, console
    smtp_host = "smtp.gemeente.nl"
    smtp_port = 587
    smtp_tls = "starttls"            # none, starttls, ssl
    smtp_user = "wijkkompas"
    smtp_password = "..."
    mail_from = "wijkkompas@gemeente.nl"  # required for smtp
    programme_email = "warmte@gemeente.nl"
    base_url = "https://wijkkompas.gemeente.nl"
    language = "nl"                  # nl, en: mails, pages, the CLI's views (--lang overrides)
    digest = ["warmte@gemeente.nl"]  # or "all": one message per recipient per pass

    [contacts]                       # milestone owners who do not hold regie (TOML only)
    netbeheerder = ["planning@enexis.nl"]

    [inbox."nl.zaaksysteem.besluit-vastgelegd"]   # CloudEvent types to commands (TOML only;
    command = "approve"                            # see engine/app/inbox.py, docs/gates.md)
    approval = "college"

OIDC bearer tokens for the HTTP API (off unless ``oidc_issuer`` is set; then ``oidc_audience``
and exactly one of ``oidc_jwks_url`` and ``oidc_jwks_file`` are required; environment
WIJKKOMPAS_OIDC_ISSUER and so on)::

    oidc_issuer = "https://login.gemeente.nl/realms/wijkkompas"
    oidc_audience = "wijkkompas-api"
    oidc_jwks_url = "https://login.gemeente.nl/realms/wijkkompas/protocol/openid-connect/certs"
    # oidc_jwks_file = "/etc/wijkkompas/jwks.json"   # instead of the URL
    oidc_claim = "sub"               # the claim that names the principal (e.g. "oid"; never one
                                     # its holder can edit, such as "email" at many providers)

OIDC sign-in to the pages (off unless ``oidc_signin_client_id`` is set; the authorization code
flow with PKCE; either the provider's discovery document, or its endpoints given one by one
together with ``oidc_issuer`` and its keys above)::

    oidc_signin_client_id = "wijkkompas-web"
    oidc_signin_client_secret = "..."          # leave out for a public client
    oidc_signin_discovery = "https://login.gemeente.nl/realms/wijkkompas/.well-known/openid-configuration"
    # oidc_signin_authorize_url = "https://login.gemeente.nl/.../auth"    # instead of discovery
    # oidc_signin_token_url = "https://login.gemeente.nl/.../token"
    # oidc_signin_end_session_url = "https://login.gemeente.nl/.../logout"
    oidc_signin_redirect_base = "https://wijkkompas.gemeente.nl"  # default: base_url
    oidc_signin_name = "Gemeente Zwolle"       # the button says "Inloggen met Gemeente Zwolle"
    oidc_signin_scope = "openid"

The pages (``wijkkompas serve`` at ``/``)::

    theme_css = "/etc/wijkkompas/zwolle-tokens.css"  # design tokens of the municipality
    session_hours = 8                # how long a sign-in lasts
    behind_tls = "yes"               # a TLS proxy is in front: session cookies are Secure
Signed checkpoints (docs/verification.md)::

    signing_key = "/etc/wijkkompas/signing.key"   # Ed25519 private key (keys create); keep
                                                  # it outside the database and its backups
    checkpoint_dir = "/srv/www/checkpoints"       # every checkpoint is also written here
Outbound integrations (docs/integrations.md)::

    oin = "00000001001234567000"     # the programme's OIN: CloudEvents' source URN
    webhook_timeout = 10             # seconds a receiver may take to answer
    webhook_allow_private = false    # true: also post to loopback/private addresses (tests)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.byvalue import ByValue
from engine.errors import InvalidValue
from engine.runtime.areas import check_email

__all__ = ["ENV_PREFIX", "LOCAL_SENDER", "MAX_START_AGE", "SESSION_HOURS", "Settings"]

ENV_PREFIX = "WIJKKOMPAS_"
DEFAULT_DB = "sqlite:///wijkkompas.db"
LOCAL_SENDER = "wijkkompas@localhost"
"""The sender of messages that stay on this machine (maildir, console) when mail_from is not
set. Real delivery (smtp) has no default: a made-up sender is refused or lands in spam."""
SESSION_HOURS = 8.0
"""How long a sign-in to the pages lasts unless ``session_hours`` says otherwise."""
MAX_START_AGE = 10
"""How many years before today a new instance may have started, unless the caller allows an
older start: a start decades ago would make every reminder since fall due at once."""
_CHOICES: dict[str, tuple[str, ...]] = {
    "sqlite_synchronous": ("OFF", "NORMAL", "FULL", "EXTRA"),
    "notifier": ("smtp", "maildir", "console"),
    "smtp_tls": ("none", "starttls", "ssl"),
    "language": ("nl", "en"),
    "behind_tls": ("no", "yes"),
}
_UPPER = {"sqlite_synchronous"}
_LISTS = {"workflows", "programme_email"}
_NUMBERS = {
    "smtp_port": int,
    "smtp_timeout": float,
    "lock_timeout": float,
    "max_start_age": int,
    "session_hours": float,
    "webhook_timeout": float,
}
_BOOLS = {"webhook_allow_private"}
_TOML_ONLY = {"contacts", "inbox", "zgw"}
_ADDRESSES = {"mail_from", "programme_email", "digest", "contacts"}


@dataclass(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Settings(ByValue):
    """The programme's settings: options, environment, configuration file, defaults."""

    db: str = DEFAULT_DB
    """Database URL: sqlite:///FILE (default: wijkkompas.db here) or postgresql://..."""
    sqlite_synchronous: str = "FULL"
    """SQLite durability: FULL survives a power cut; NORMAL is faster and may lose the last
    transactions on a power cut (never on a crash of wijkkompas itself)."""
    lock_timeout: float = 30.0
    """Seconds a command waits for a lock another writer holds (SQLite's busy timeout,
    PostgreSQL's lock_timeout) before it gives up with exit 5, nothing saved."""
    max_start_age: int = MAX_START_AGE
    """Years an instance's start (instance create --start, import --at) may lie in the past;
    an older start is refused unless --allow-old-start is given."""
    actor: str | None = None
    """Who is recorded as doing things when --by is not given (default: the OS user)."""
    workflows: tuple[str, ...] = field(default=())
    """Extra workflow directories, searched before ./workflows and the shipped ones."""
    notifier: str = "maildir"
    """How reminders are delivered: smtp, maildir (.eml files) or console."""
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: str = "none"
    """none, starttls or ssl (implicit TLS)."""
    smtp_timeout: float = 30.0
    mail_from: str = LOCAL_SENDER
    """The sender address; its domain is used in Message-IDs. Required for the smtp notifier;
    maildir and console use LOCAL_SENDER when it is not set."""
    maildir: str = "maildir"
    """The maildir notifier's folder (new/ holds one .eml file per message)."""
    programme_email: tuple[str, ...] = field(default=())
    """The programme office: receives escalations and pause reviews; every message names it
    as a contact, and replies go there (Reply-To)."""
    base_url: str | None = None
    """Links in messages point to BASE_URL/instances/KEY."""
    language: str = "nl"
    digest: tuple[str, ...] | str = field(default=())
    """Recipients who get one message per pass with all their items; or "all"."""
    contacts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Contact addresses per party or regie type (for owners not holding regie)."""
    inbox: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """CloudEvent type -> {command = approve | milestone_done, approval, decision, milestone}:
    what an application's event posted to /api/v1/inbox records."""
    oidc_issuer: str | None = None
    """OIDC: the issuer (``iss``) bearer tokens must come from; None: OIDC is off."""
    oidc_audience: str | None = None
    """OIDC: the audience (``aud``) tokens must be for."""
    oidc_jwks_url: str | None = None
    """OIDC: where the provider publishes its signing keys (a JWKS, https)."""
    oidc_jwks_file: str | None = None
    """OIDC: a file with the provider's signing keys (a JWKS), instead of the URL."""
    oidc_claim: str = "sub"
    """OIDC: the claim of a token that names the principal."""
    oidc_signin_client_id: str | None = None
    """OIDC sign-in to the pages: our client id at the provider; None: OIDC sign-in is off."""
    oidc_signin_client_secret: str | None = None
    """OIDC sign-in: the client secret (None: a public client, PKCE only)."""
    oidc_signin_discovery: str | None = None
    """OIDC sign-in: the provider's discovery document (.well-known/openid-configuration)."""
    oidc_signin_authorize_url: str | None = None
    """OIDC sign-in without discovery: the authorization endpoint."""
    oidc_signin_token_url: str | None = None
    """OIDC sign-in without discovery: the token endpoint."""
    oidc_signin_end_session_url: str | None = None
    """OIDC sign-in without discovery: the end-session endpoint (optional)."""
    oidc_signin_redirect_base: str | None = None
    """OIDC sign-in: the address people reach the pages at (default: base_url); the provider
    sends them back to REDIRECT_BASE/signin/oidc/callback."""
    oidc_signin_name: str | None = None
    """OIDC sign-in: the provider's name on the button (default: its host name)."""
    oidc_signin_scope: str = "openid"
    """OIDC sign-in: the scopes asked for (must include openid)."""
    chromium: str | None = None
    """The headless Chromium that prints reports as PDF (a path or a name on PATH); default:
    chromium, chromium-browser or google-chrome, the first found on PATH."""
    theme_css: str | None = None
    """The pages: a CSS file with the municipality's design tokens (NL Design System custom
    properties), served after the neutral default so that its values win."""
    session_hours: float = SESSION_HOURS
    """The pages: how long a sign-in lasts."""
    behind_tls: str = "no"
    """The pages: "yes" when a TLS proxy is in front of the server, so session cookies are
    marked Secure even though the request reaches us over plain HTTP."""
    signing_key: str = "wijkkompas-signing.key"
    """The programme's Ed25519 private key (PEM) that signs checkpoints: a file outside the
    database (``wijkkompas keys create`` makes it)."""
    checkpoint_dir: str | None = None
    """A directory every new checkpoint is published to (one JSON file each, plus
    ``latest.json``); None: checkpoints are only in the database and the API."""
    zgw: Mapping[str, Any] = field(default_factory=dict)
    """The ZGW Zaken mirror per workflow (TOML only: ``[zgw.WORKFLOW]``; engine/app/zgw.py)."""
    oin: str | None = None
    """The programme's OIN (20 digits): the ``source`` of the CloudEvents it sends."""
    webhook_timeout: float = 10.0
    """Seconds a webhook receiver may take to answer (then the attempt failed)."""
    webhook_allow_private: bool = False
    """Also post webhooks to loopback, private and link-local addresses (off: refused against
    server-side request forgery)."""
    source: Mapping[str, str] = field(default_factory=dict)
    """Where each setting came from, for messages."""

    @classmethod
    def load(
        cls,
        *,
        cli: Mapping[str, Any],
        env: Mapping[str, str],
        config_file: str | None = None,
    ) -> Settings:
        path = config_file or env.get(ENV_PREFIX + "CONFIG")
        file_values: dict[str, Any] = {}
        if path:
            file_values = _read_toml(Path(path))
        names = [f.name for f in fields(cls) if f.name != "source"]
        unknown = sorted(set(file_values) - set(names))
        if unknown:
            raise InvalidValue(
                f"setting in {path}", ", ".join(unknown), "known settings: " + ", ".join(names)
            )
        values: dict[str, Any] = {}
        source: dict[str, str] = {}
        for name in names:
            env_name = ENV_PREFIX + name.upper()
            if cli.get(name) not in (None, ()):
                values[name], source[name] = cli[name], "command line"
            elif env.get(env_name) and name not in _TOML_ONLY:
                raw: Any = env[env_name]
                if name == "workflows":
                    raw = tuple(p for p in raw.split(os.pathsep) if p)
                elif name in _LISTS or (name == "digest" and raw != "all"):
                    raw = tuple(p.strip() for p in raw.split(",") if p.strip())
                values[name], source[name] = raw, env_name
            elif name in file_values:
                values[name], source[name] = file_values[name], f"{path}"
        for name, value in values.items():
            values[name] = _check(name, value, source[name])
            if name in _ADDRESSES:
                _check_addresses(name, values[name], source[name])
        if values.get("notifier") == "smtp" and "mail_from" not in values:
            raise InvalidValue(
                "setting",
                "mail_from",
                "not set (WIJKKOMPAS_MAIL_FROM, or mail_from in the configuration file); "
                f"notifier smtp (from {source['notifier']}) sends real mail and needs a real "
                "sender address, e.g. wijkkompas@gemeente.nl",
            )
        if source.get("workflows") not in (None, "command line"):
            # A typo there would be searched as an empty folder, and a key found in the
            # shipped workflows instead, without a word (``--workflows`` is checked by click).
            for folder in values["workflows"]:
                if not os.path.isdir(folder):  # os.path: a name too long is no folder either
                    raise InvalidValue(
                        f"workflow folder (from {source['workflows']})",
                        folder,
                        "an existing folder: it is searched before ./workflows and the "
                        "shipped workflows",
                    )
        _check_oidc(values, source)
        _check_oidc_signin(values, source)
        return cls(**values, source=source)


def _check_oidc(values: Mapping[str, Any], source: Mapping[str, str]) -> None:
    """OIDC is all or nothing: an issuer, an audience and one source of keys."""
    given = sorted(
        n
        for n in values
        if n.startswith("oidc_") and n != "oidc_claim" and not n.startswith("oidc_signin_")
    )
    if not given:
        return
    where = ", ".join(f"{n} (from {source[n]})" for n in given)
    for needed in ("oidc_issuer", "oidc_audience"):
        if needed not in values:
            raise InvalidValue(
                "OIDC settings",
                where,
                f"{needed} is missing (WIJKKOMPAS_{needed.upper()}, or {needed} in the "
                "configuration file): OIDC needs an issuer, an audience and the provider's keys",
            )
    if ("oidc_jwks_url" in values) == ("oidc_jwks_file" in values):
        raise InvalidValue(
            "OIDC settings", where, "give exactly one of oidc_jwks_url and oidc_jwks_file"
        )
    url = values.get("oidc_jwks_url")
    if url is not None and not _secure_url(url):
        raise InvalidValue(
            f"'oidc_jwks_url' (from {source['oidc_jwks_url']})",
            url,
            "an https:// URL (http:// only on this machine: localhost, 127.0.0.1, [::1])",
        )
    if not values.get("oidc_claim", "sub").strip():
        raise InvalidValue(f"'oidc_claim' (from {source['oidc_claim']})", "", "a claim name")


def _check_oidc_signin(values: Mapping[str, Any], source: Mapping[str, str]) -> None:
    """OIDC sign-in needs a client id, one way to find the provider's endpoints, and the
    address the provider sends people back to; every URL is https (or http on this machine)."""
    given = sorted(n for n in values if n.startswith("oidc_signin_"))
    if not given:
        return
    where = ", ".join(f"{n} (from {source[n]})" for n in given)
    if "oidc_signin_client_id" not in values or not values["oidc_signin_client_id"].strip():
        raise InvalidValue(
            "OIDC sign-in settings",
            where,
            "oidc_signin_client_id is missing (WIJKKOMPAS_OIDC_SIGNIN_CLIENT_ID, or "
            "oidc_signin_client_id in the configuration file): the client id the provider "
            "knows the pages by",
        )
    explicit = "oidc_signin_authorize_url" in values or "oidc_signin_token_url" in values
    if "oidc_signin_discovery" in values and explicit:
        raise InvalidValue(
            "OIDC sign-in settings",
            where,
            "give oidc_signin_discovery or the endpoints (oidc_signin_authorize_url, "
            "oidc_signin_token_url), not both",
        )
    if "oidc_signin_discovery" not in values:
        if not ("oidc_signin_authorize_url" in values and "oidc_signin_token_url" in values):
            raise InvalidValue(
                "OIDC sign-in settings",
                where,
                "oidc_signin_discovery is missing: give the provider's discovery document "
                "(.../.well-known/openid-configuration), or both oidc_signin_authorize_url and "
                "oidc_signin_token_url",
            )
        if "oidc_issuer" not in values:
            raise InvalidValue(
                "OIDC sign-in settings",
                where,
                "without oidc_signin_discovery, oidc_issuer and the provider's keys "
                "(oidc_jwks_url or oidc_jwks_file) are needed to check the ID tokens",
            )
    for name in (
        "oidc_signin_discovery",
        "oidc_signin_authorize_url",
        "oidc_signin_token_url",
        "oidc_signin_end_session_url",
    ):
        url = values.get(name)
        if url is not None and not _secure_url(url):
            raise InvalidValue(
                f"'{name}' (from {source[name]})",
                url,
                "an https:// URL (http:// only on this machine: localhost, 127.0.0.1, [::1])",
            )
    base = values.get("oidc_signin_redirect_base", values.get("base_url"))
    if base is None:
        raise InvalidValue(
            "OIDC sign-in settings",
            where,
            "the redirect base is missing: set oidc_signin_redirect_base (or base_url) to the "
            "address people reach the pages at, e.g. https://wijkkompas.gemeente.nl",
        )
    if not _secure_url(base):
        name = "oidc_signin_redirect_base" if "oidc_signin_redirect_base" in values else "base_url"
        raise InvalidValue(
            f"'{name}' (from {source[name]}), the redirect base of OIDC sign-in",
            base,
            "an https:// URL (http:// only on this machine: localhost, 127.0.0.1, [::1])",
        )
    if "openid" not in values.get("oidc_signin_scope", "openid").split():
        raise InvalidValue(
            f"'oidc_signin_scope' (from {source['oidc_signin_scope']})",
            values["oidc_signin_scope"],
            "scopes separated by spaces, openid among them",
        )


def _secure_url(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only with a configuration file: 3-4 ms of every command's start

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidValue("configuration file", str(path), "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue("configuration file", str(path), f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidValue("configuration file", str(path), "not UTF-8 text") from None
    except OSError as exc:
        raise InvalidValue("configuration file", str(path), exc.strerror or str(exc)) from None


def _check_addresses(name: str, value: Any, origin: str) -> None:
    """Each address in a checked address setting, named with the setting and its origin."""
    if name == "contacts":
        for party, addresses in value.items():
            _check_addresses(f"{name}.{party}", addresses, origin)
        return
    if value == "all" and name == "digest":
        return
    for address in (value,) if isinstance(value, str) else value:
        try:
            check_email(address)
        except InvalidValue as exc:
            raise InvalidValue(f"'{name}' (from {origin})", address, exc.expected) from None


_INBOX_KEYS = {
    "approve": {"command", "approval", "decision"},
    "milestone_done": {"command", "milestone"},
}


def _inbox_rules(what: str, value: Any) -> dict[str, dict[str, str]]:
    """[inbox]: a table per CloudEvent type, each naming a command and its fixed values."""
    if not isinstance(value, dict):
        raise InvalidValue(what, value, 'a table per event type: [inbox."TYPE"]')
    rules = {}
    for type_, rule in value.items():
        if not isinstance(rule, dict) or not all(isinstance(v, str) for v in rule.values()):
            raise InvalidValue(f"'inbox.{type_}'", rule, "a table of text values")
        command = rule.get("command")
        if command not in _INBOX_KEYS:
            raise InvalidValue(
                f"'inbox.{type_}.command'", command, "one of " + ", ".join(_INBOX_KEYS)
            )
        unknown = set(rule) - _INBOX_KEYS[command]
        if unknown:
            raise InvalidValue(
                f"'inbox.{type_}'",
                ", ".join(sorted(unknown)),
                f"only {', '.join(sorted(_INBOX_KEYS[command]))} for {command}",
            )
        if rule.get("decision") not in (None, "go", "no-go"):
            raise InvalidValue(f"'inbox.{type_}.decision'", rule["decision"], "go or no-go")
        rules[type_] = dict(rule)
    return rules


def _check(name: str, value: Any, origin: str) -> Any:
    what = f"'{name}' (from {origin})"
    if name in _LISTS or name == "digest":
        if name == "digest" and value == "all":
            return value
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise InvalidValue(what, value, "a list of text values")
        return tuple(value)
    if name == "zgw":
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise InvalidValue(what, value, "a table of [zgw.WORKFLOW] tables")
        return value
    if name == "contacts":
        if not isinstance(value, dict) or not all(
            isinstance(v, list) and all(isinstance(a, str) for a in v) for v in value.values()
        ):
            raise InvalidValue(what, value, "a table of party = [addresses]")
        return {party: tuple(addresses) for party, addresses in value.items()}
    if name == "inbox":
        return _inbox_rules(what, value)
    if name in _BOOLS:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise InvalidValue(what, value, "true or false")
    if name == "oin":
        if not isinstance(value, str) or not (len(value) == 20 and value.isdigit()):
            raise InvalidValue(what, value, "an OIN: 20 digits")
        return value
    if name in _NUMBERS:
        try:
            number = _NUMBERS[name](value)
        except (TypeError, ValueError):
            raise InvalidValue(what, value, "a number") from None
        if not math.isfinite(number) or number <= 0:
            raise InvalidValue(what, value, "a positive number")
        if name == "smtp_port" and number > 65535:
            raise InvalidValue(what, value, "a port number (1 to 65535)")
        return number
    if not isinstance(value, str):
        raise InvalidValue(what, value, "text")
    if name in _CHOICES:
        wanted = value.upper() if name in _UPPER else value.lower()
        if wanted not in _CHOICES[name]:
            raise InvalidValue(what, value, "one of " + ", ".join(_CHOICES[name]))
        return wanted
    return value
