"""Where the ``tango`` CLI finds its API host, auth key and API version.

Read by ``cli.main`` before any command that talks to the controller, written by
``tango property set|unset``. The file format and precedence are wsk's, so an existing
``~/.wskprops`` works unchanged:

* file: ``~/.wskprops`` (or the path in ``WSK_CONFIG_FILE``), plain ``KEY=VALUE`` lines
  with keys ``APIHOST``, ``AUTH``, ``APIVERSION``, and ``CERT``/``KEY`` (a client TLS
  certificate and its private key, for an API host behind a proxy that asks for one); other
  keys are kept untouched when we rewrite the file;
* environment: ``WHISK_APIHOST``, ``WHISK_AUTH``, ``WHISK_APIVERSION`` override the file
  (wsk has no variables for the certificate and key);
* command-line flags (``--apihost``, ``-u/--auth``, ``--apiversion``, ``--cert``, ``--key``)
  override both.

An API host without a scheme gets ``https://`` prepended, exactly like wsk, including for
``localhost`` and ``127.0.0.1``: a plain-HTTP platform (``tango standalone``) must be
configured as ``http://127.0.0.1:3233``. Guessing the scheme would make the same
``.wskprops`` mean different things to wsk and to tango.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_APIVERSION = "v1"
PROPS_FILE_ENV = "WSK_CONFIG_FILE"
# property key in .wskprops -> environment variable that overrides it
ENV_OVERRIDES = {"APIHOST": "WHISK_APIHOST", "AUTH": "WHISK_AUTH", "APIVERSION": "WHISK_APIVERSION"}


@dataclass(frozen=True)
class Settings:
    """The resolved connection settings for one CLI run."""

    apihost: str | None
    auth: str | None
    apiversion: str = DEFAULT_APIVERSION
    insecure: bool = False
    cert: str | None = None  # client TLS certificate (PEM file)
    key: str | None = None  # its private key (PEM file), when not inside the certificate file

    @property
    def base_url(self) -> str | None:
        """``https://host/api/v1``-style root of the REST API, or None without an API host."""
        if not self.apihost:
            return None
        return f"{normalize_apihost(self.apihost)}/api/{self.apiversion}"


def props_path(env: Mapping[str, str] | None = None) -> Path:
    """The properties file this run reads and writes."""
    env = os.environ if env is None else env
    override = env.get(PROPS_FILE_ENV)
    if override:
        return Path(override).expanduser()
    return Path(env.get("HOME") or Path.home()) / ".wskprops"


def read_props(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a wskprops file; a missing file reads as empty.

    Blank lines and ``#`` comments are ignored; the value is everything after the first ``=``
    (auth keys contain ``:`` but never ``=``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    props: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        props[key.strip()] = value.strip()
    return props


def write_props(path: Path, props: Mapping[str, str]) -> None:
    """Write ``props`` as ``KEY=VALUE`` lines (keys in the order given), replacing the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{key}={value}\n" for key, value in props.items())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def update_props(path: Path, changes: Mapping[str, str | None]) -> dict[str, str]:
    """Set (value) or remove (None) keys in the file, keeping every other key as it was."""
    props = read_props(path)
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    write_props(path, props)
    return props


def resolve(
    flags: Mapping[str, str | None], env: Mapping[str, str] | None = None, insecure: bool = False
) -> Settings:
    """Settings from flags > environment > properties file > defaults.

    ``flags`` maps property keys (``APIHOST``, ``AUTH``, ``APIVERSION``, ``CERT``, ``KEY``) to
    the command-line value or None when the flag was not given.
    """
    env = os.environ if env is None else env
    props = read_props(props_path(env))

    def pick(key: str) -> str | None:
        for source in (flags.get(key), env.get(ENV_OVERRIDES.get(key, "")), props.get(key)):
            if source:
                return source
        return None

    return Settings(
        apihost=pick("APIHOST"),
        auth=pick("AUTH"),
        apiversion=pick("APIVERSION") or DEFAULT_APIVERSION,
        insecure=insecure,
        cert=pick("CERT"),
        key=pick("KEY"),
    )


def normalize_apihost(apihost: str) -> str:
    """The API host as a URL with scheme and without a trailing slash (wsk rules)."""
    host = apihost.strip().rstrip("/")
    if not has_scheme(host):
        host = "https://" + host
    return host


def has_scheme(apihost: str) -> bool:
    return apihost.lower().startswith(("http://", "https://"))
