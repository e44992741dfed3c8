from __future__ import annotations

import pytest

from engine.app.settings import DEFAULT_DB, Settings
from engine.errors import InvalidValue


def test_defaults():
    settings = Settings.load(cli={}, env={})
    assert settings.db == DEFAULT_DB
    assert settings.sqlite_synchronous == "FULL"
    assert settings.workflows == ()


def test_command_line_beats_environment_beats_file(tmp_path):
    config = tmp_path / "wk.toml"
    config.write_text('db = "sqlite:///file.db"\nactor = "file"\nsqlite_synchronous = "normal"\n')
    env = {"WIJKKOMPAS_DB": "sqlite:///env.db", "WIJKKOMPAS_ACTOR": "env"}
    settings = Settings.load(cli={"db": "sqlite:///cli.db"}, env=env, config_file=str(config))
    assert settings.db == "sqlite:///cli.db"
    assert settings.actor == "env"
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.source == {
        "db": "command line",
        "actor": "WIJKKOMPAS_ACTOR",
        "sqlite_synchronous": str(config),
    }


def test_the_config_file_can_come_from_the_environment(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    config = tmp_path / "wk.toml"
    config.write_text(f'workflows = ["{a}", "{b}"]\n')
    settings = Settings.load(cli={}, env={"WIJKKOMPAS_CONFIG": str(config)})
    assert settings.workflows == (str(a), str(b))


def test_workflow_directories_from_the_environment_split_on_pathsep(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    settings = Settings.load(cli={}, env={"WIJKKOMPAS_WORKFLOWS": f"{a}:{b}"})
    assert settings.workflows == (str(a), str(b))


def test_a_workflow_directory_that_is_not_there_is_refused(tmp_path):
    """A typo was searched as an empty folder: a key then came from the shipped workflows."""
    config = tmp_path / "wk.toml"
    config.write_text(f'workflows = ["{tmp_path / "typo"}"]\n')
    for env in (
        {"WIJKKOMPAS_WORKFLOWS": str(tmp_path / "typo")},
        {"WIJKKOMPAS_CONFIG": str(config)},
    ):
        with pytest.raises(InvalidValue, match=r"typo.*an existing folder"):
            Settings.load(cli={}, env=env)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('databse = "x"\n', r"known settings: db, sqlite_synchronous"),
        ('sqlite_synchronous = "SOMETIMES"\n', r"one of OFF, NORMAL, FULL, EXTRA"),
        ("db = 5\n", r"'db' \(from .*wk.toml\)"),
        ("db = [\n", r"not valid TOML"),
    ],
    ids=["unknown key", "bad choice", "wrong type", "broken toml"],
)
def test_bad_configuration_fails_loudly(tmp_path, content, message):
    config = tmp_path / "wk.toml"
    config.write_text(content)
    with pytest.raises(InvalidValue, match=message):
        Settings.load(cli={}, env={}, config_file=str(config))


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(InvalidValue, match="no such file"):
        Settings.load(cli={}, env={}, config_file=str(tmp_path / "none.toml"))


def test_bad_environment_value_names_the_variable():
    with pytest.raises(InvalidValue, match="WIJKKOMPAS_SQLITE_SYNCHRONOUS"):
        Settings.load(cli={}, env={"WIJKKOMPAS_SQLITE_SYNCHRONOUS": "maybe"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WIJKKOMPAS_PROGRAMME_EMAIL": "not-an-address"},
         r"'programme_email' \(from WIJKKOMPAS_PROGRAMME_EMAIL\) 'not-an-address'"),
        ({"WIJKKOMPAS_PROGRAMME_EMAIL": "pb@gemeente.nl,warmte@"},
         r"'programme_email' \(from WIJKKOMPAS_PROGRAMME_EMAIL\) 'warmte@'"),
        ({"WIJKKOMPAS_MAIL_FROM": "not-an-address"},
         r"'mail_from' \(from WIJKKOMPAS_MAIL_FROM\) 'not-an-address'"),
        ({"WIJKKOMPAS_MAIL_FROM": "Wijkkompas <wk@gemeente.nl>"},
         r"'mail_from' \(from WIJKKOMPAS_MAIL_FROM\) 'Wijkkompas <wk@gemeente.nl>'"),
        ({"WIJKKOMPAS_DIGEST": "a@gemeente.nl, jan at gemeente.nl"},
         r"'digest' \(from WIJKKOMPAS_DIGEST\) 'jan at gemeente.nl'"),
    ],
    ids=["programme office", "one of a list", "sender", "display name", "digest"],
)  # fmt: skip
def test_every_address_setting_is_checked_at_start(env, message):
    with pytest.raises(InvalidValue, match=message + r": write it as name@example.nl"):
        Settings.load(cli={}, env=env)


def test_contact_addresses_in_the_file_are_checked_with_their_party(tmp_path):
    config = tmp_path / "wk.toml"
    config.write_text('[contacts]\nnetbeheerder = ["planning@enexis.nl", "planning"]\n')
    with pytest.raises(
        InvalidValue, match=r"'contacts.netbeheerder' \(from .*wk.toml\) 'planning'"
    ):
        Settings.load(cli={}, env={}, config_file=str(config))


def test_good_addresses_pass():
    settings = Settings.load(
        cli={},
        env={
            "WIJKKOMPAS_PROGRAMME_EMAIL": "pb@gemeente.nl, warmte@gemeente.nl",
            "WIJKKOMPAS_MAIL_FROM": "wijkkompas@gemeente.nl",
            "WIJKKOMPAS_DIGEST": "all",
        },
    )
    assert settings.programme_email == ("pb@gemeente.nl", "warmte@gemeente.nl")
    assert settings.mail_from == "wijkkompas@gemeente.nl"


def test_smtp_delivery_needs_a_real_sender():
    """No made-up wijkkompas@localhost on real mail: the smtp notifier needs mail_from."""
    with pytest.raises(InvalidValue, match=r"'mail_from'.*WIJKKOMPAS_MAIL_FROM.*notifier smtp"):
        Settings.load(cli={}, env={"WIJKKOMPAS_NOTIFIER": "smtp"})
    settings = Settings.load(
        cli={}, env={"WIJKKOMPAS_NOTIFIER": "smtp", "WIJKKOMPAS_MAIL_FROM": "wk@gemeente.nl"}
    )
    assert settings.mail_from == "wk@gemeente.nl"


@pytest.mark.parametrize("notifier", ["maildir", "console"])
def test_local_delivery_keeps_a_harmless_default_sender(notifier):
    settings = Settings.load(cli={}, env={"WIJKKOMPAS_NOTIFIER": notifier})
    assert settings.mail_from == "wijkkompas@localhost"


OIDC_ENV = {
    "WIJKKOMPAS_OIDC_ISSUER": "https://login.gemeente.nl/realms/wk",
    "WIJKKOMPAS_OIDC_AUDIENCE": "wijkkompas-api",
    "WIJKKOMPAS_OIDC_JWKS_URL": "https://login.gemeente.nl/realms/wk/certs",
    "WIJKKOMPAS_OIDC_CLAIM": "email",
}


def test_oidc_settings_from_the_environment_become_the_verifiers_settings():
    from adapters.oidc import OidcSettings

    settings = Settings.load(cli={}, env=OIDC_ENV)
    oidc = OidcSettings.from_settings(settings)
    assert oidc is not None
    assert (oidc.issuer, oidc.audience, oidc.jwks_url, oidc.jwks_file, oidc.claim) == (
        "https://login.gemeente.nl/realms/wk",
        "wijkkompas-api",
        "https://login.gemeente.nl/realms/wk/certs",
        None,
        "email",
    )
    assert OidcSettings.from_settings(Settings.load(cli={}, env={})) is None


def test_oidc_settings_from_a_file(tmp_path):
    config = tmp_path / "wk.toml"
    config.write_text(
        'oidc_issuer = "https://idp"\noidc_audience = "wk"\noidc_jwks_file = "/etc/jwks.json"\n'
    )
    settings = Settings.load(cli={}, env={}, config_file=str(config))
    assert (settings.oidc_jwks_file, settings.oidc_claim) == ("/etc/jwks.json", "sub")


@pytest.mark.parametrize(
    ("drop", "add", "message"),
    [
        pytest.param("WIJKKOMPAS_OIDC_AUDIENCE", {}, "oidc_audience is missing", id="audience"),
        pytest.param("WIJKKOMPAS_OIDC_ISSUER", {}, "oidc_issuer is missing", id="issuer"),
        pytest.param("WIJKKOMPAS_OIDC_JWKS_URL", {}, "exactly one of oidc_jwks_url", id="no-keys"),
        pytest.param(
            None, {"WIJKKOMPAS_OIDC_JWKS_FILE": "/j"}, "exactly one of oidc_jwks_url", id="both"
        ),
        pytest.param(
            None,
            {"WIJKKOMPAS_OIDC_JWKS_URL": "http://idp.gemeente.nl/certs"},
            r"'oidc_jwks_url' \(from WIJKKOMPAS_OIDC_JWKS_URL\).*an https:// URL",
            id="plain-http",
        ),
    ],
)
def test_incomplete_or_unsafe_oidc_settings_fail_loudly(drop, add, message):
    env = {k: v for k, v in OIDC_ENV.items() if k != drop} | add
    with pytest.raises(InvalidValue, match=message):
        Settings.load(cli={}, env=env)


def test_a_jwks_url_on_this_machine_may_be_plain_http():
    env = OIDC_ENV | {"WIJKKOMPAS_OIDC_JWKS_URL": "http://127.0.0.1:8081/certs"}
    assert Settings.load(cli={}, env=env).oidc_jwks_url == "http://127.0.0.1:8081/certs"


def test_the_inbox_mapping_is_checked_with_the_key_and_the_bad_value(tmp_path):
    from engine.app.settings import Settings
    from engine.errors import InvalidValue

    good = tmp_path / "good.toml"
    good.write_text(
        '[inbox."nl.zaak.besluit"]\ncommand = "approve"\napproval = "college"\n', "utf-8"
    )
    loaded = Settings.load(cli={}, env={}, config_file=str(good))
    assert loaded.inbox == {"nl.zaak.besluit": {"command": "approve", "approval": "college"}}
    bad = tmp_path / "bad.toml"
    bad.write_text('[inbox."nl.zaak.besluit"]\ncommand = "advance"\n', "utf-8")
    with pytest.raises(InvalidValue, match=r"inbox\.nl\.zaak\.besluit\.command.*advance"):
        Settings.load(cli={}, env={}, config_file=str(bad))
