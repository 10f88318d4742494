"""Configuration: env and secret files, validation, and that secrets never show."""

import copy
import logging
import pickle

import pytest

from bridge.config import DEFAULT_USER_AGENT, BridgeConfig, ConfigError, Secret

SECRET_PW = "pw-Very-Secret-123"
SECRET_TOTP = "JBSWY3DPEHPK3PXP"


def test_secret_is_masked_everywhere(caplog):
    s = Secret(SECRET_PW)
    assert SECRET_PW not in repr(s)
    assert SECRET_PW not in str(s)
    assert SECRET_PW not in f"{s}"
    assert SECRET_PW not in "%s %r" % (s, s)
    assert s.reveal() == SECRET_PW
    assert copy.deepcopy(s) == s and copy.copy(s) is s  # copies stay in-process
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("config %s", s)
    assert SECRET_PW not in caplog.text


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_never_carries_the_plaintext(protocol):
    """A pickle leaves the process (broker, cache, crash dump): pickling a Secret, or a config holding
    one, is refused, so no pickle bytes can hold the plaintext."""
    cfg = BridgeConfig(url="https://chat.example.org", username="svc", password=SECRET_PW, totp_secret=SECRET_TOTP)
    for value in (Secret(SECRET_PW), cfg, {"nested": [cfg.totp_secret]}):
        with pytest.raises(TypeError, match="never pickled"):
            pickle.dumps(value, protocol=protocol)
    assert copy.deepcopy(cfg) == cfg


def test_celery_messages_carry_no_secret(monkeypatch):
    """What reaches the broker: every rcsync task's message body, serialized the way the app sends it
    (JSON only), holds ids and flags. A Secret passed by mistake is refused instead of sent."""
    from kombu.exceptions import EncodeError
    from kombu.serialization import dumps

    from sync_tasks.celery import app

    assert app.conf.task_serializer == "json" and list(app.conf.accept_content) == ["json"]
    body = dumps(((), {"kind": "drift", "triggered_by": "listen:reconnected"}, {}), serializer="json")[2]
    assert SECRET_PW not in str(body)
    for serializer in ("json", "pickle"):
        with pytest.raises((EncodeError, TypeError)):
            dumps(((Secret(SECRET_PW),), {}, {}), serializer=serializer)


def test_config_repr_masks_secrets():
    cfg = BridgeConfig(url="https://chat.example.org/", username="svc", password=SECRET_PW, totp_secret=SECRET_TOTP)
    assert cfg.url == "https://chat.example.org"
    assert SECRET_PW not in repr(cfg) and SECRET_TOTP not in repr(cfg)
    assert isinstance(cfg.password, Secret)
    assert cfg.user_agent == DEFAULT_USER_AGENT
    assert cfg.verify_tls is True and cfg.tls_verify() is True
    assert cfg.with_(verify_tls=False).tls_verify() is False
    assert cfg.ws_url == "wss://chat.example.org/websocket"


def test_from_env_reads_secret_files(tmp_path):
    pw_file = tmp_path / "pw"
    pw_file.write_text(SECRET_PW + "\n")
    totp_file = tmp_path / "totp"
    totp_file.write_text(SECRET_TOTP)
    env = {
        "RCSYNC_RC_URL": "http://127.0.0.1:3000",
        "RCSYNC_RC_USERNAME": "svc",
        "RCSYNC_RC_PASSWORD_FILE": str(pw_file),
        "RCSYNC_RC_TOTP_SECRET_FILE": str(totp_file),
        "RCSYNC_RC_TIMEOUT": "7.5",
        "RCSYNC_RC_MAX_CONCURRENCY": "3",
        "RCSYNC_RC_CA_BUNDLE": "/etc/ssl/ca.pem",
    }
    cfg = BridgeConfig.from_env(env)
    assert cfg.password.reveal() == SECRET_PW
    assert cfg.totp_secret.reveal() == SECRET_TOTP
    assert cfg.timeout == 7.5 and cfg.max_concurrency == 3
    assert cfg.ca_bundle == "/etc/ssl/ca.pem"
    assert cfg.ws_url == "ws://127.0.0.1:3000/websocket"


def test_from_env_personal_access_token():
    cfg = BridgeConfig.from_env({"RCSYNC_RC_URL": "http://x:1", "RCSYNC_RC_USER_ID": "u1",
                                 "RCSYNC_RC_TOKEN": "tok-123456", "RCSYNC_RC_TOKEN_BYPASS_2FA": "yes"})
    assert cfg.token.reveal() == "tok-123456" and cfg.token_bypasses_2fa
    assert cfg.account == "u1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "RCSYNC_RC_URL is required"),
        ({"RCSYNC_RC_URL": "ftp://x"}, "http(s) URL"),
        ({"RCSYNC_RC_URL": "http://x:1", "RCSYNC_RC_USERNAME": "svc"}, "either username + password"),
        ({"RCSYNC_RC_URL": "http://x:1", "RCSYNC_RC_USERNAME": "s", "RCSYNC_RC_PASSWORD": "p",
          "RCSYNC_RC_TOTP_SECRET": "not base32 !!"}, "base32"),
        ({"RCSYNC_RC_URL": "http://x:1", "RCSYNC_RC_USERNAME": "s", "RCSYNC_RC_PASSWORD": "p",
          "RCSYNC_RC_PASSWORD_FILE": "/x"}, "not both"),
        ({"RCSYNC_RC_URL": "http://x:1", "RCSYNC_RC_USERNAME": "s", "RCSYNC_RC_PASSWORD_FILE": "/nonexistent/pw"},
         "cannot read"),
        ({"RCSYNC_RC_URL": "http://x:1", "RCSYNC_RC_USERNAME": "s", "RCSYNC_RC_PASSWORD": "p",
          "RCSYNC_RC_TIMEOUT": "soon"}, "must be a number"),
        ({"RCSYNC_RC_URL": "http://x:1", "RCSYNC_RC_USERNAME": "s", "RCSYNC_RC_PASSWORD": "p",
          "RCSYNC_RC_VERIFY_TLS": "maybe"}, "true/false"),
    ],
)
def test_from_env_errors_are_clear(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        BridgeConfig.from_env(env)


def test_bad_password_file_error_does_not_leak_secret():
    with pytest.raises(ConfigError) as info:
        BridgeConfig.from_env({"RCSYNC_RC_URL": "http://x:1", "RCSYNC_RC_USERNAME": "s",
                               "RCSYNC_RC_PASSWORD": SECRET_PW, "RCSYNC_RC_TOTP_SECRET": "!!!"})
    assert SECRET_PW not in str(info.value)


def test_ca_bundle_becomes_an_ssl_context_and_a_missing_one_is_a_clear_error(tmp_path):
    import ssl

    import certifi

    cfg = BridgeConfig(url="https://chat.example.org", username="svc", password="pw", ca_bundle=certifi.where())
    assert isinstance(cfg.tls_verify(), ssl.SSLContext)
    missing = cfg.with_(ca_bundle=str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match="CA bundle"):
        missing.tls_verify()
