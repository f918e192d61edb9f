"""The shared package ``/whisk.system/utils`` (OpenWhisk catalog's utilities) in Python.

OpenWhisk installs ``/whisk.system/utils`` with ``cat``, ``date``, ``echo``, ``head``,
``namespace``, ``smash``, ``sort`` and ``split``; its samples bind to it and chain the actions
into sequences (``wsk action create seq --sequence /whisk.system/utils/split,
/whisk.system/utils/sort``). Tango stores the same actions, written for its Python runtime with
the catalog's parameters and results, when the controller starts (``install``, called by
``controller.app``); they run in containers like any action, under the caller's namespace.
"""

from __future__ import annotations

from controller.config import SystemLimits
from controller.entities import build_action
from controller.errors import ApiError
from controller.packages import build_package
from controller.store.entities import EntityStore

NAMESPACE = "whisk.system"
PACKAGE = "utils"
KIND = "python:3.11"

# name -> (description, code); each takes and returns what the catalog's JavaScript does
ACTIONS = {
    "echo": (
        "Returns the input",
        "def main(params):\n    return params\n",
    ),
    "cat": (
        "Concatenates input into a string",
        "def main(params):\n"
        "    lines = [str(x) for x in params.get('lines') or []]\n"
        "    return {'lines': lines, 'payload': '\\n'.join(lines)}\n",
    ),
    "head": (
        "Extract prefix of an array",
        "def main(params):\n"
        "    lines = list(params.get('lines') or [])\n"
        "    num = int(params.get('num', 1))\n"
        "    return {'lines': lines[:num], 'num': num}\n",
    ),
    "sort": (
        "Sorts an array",
        "def main(params):\n"
        "    lines = sorted(params.get('lines') or [], key=str)\n"
        "    return {'lines': lines, 'length': len(lines)}\n",
    ),
    "split": (
        "Split a string into an array",
        "def main(params):\n"
        "    payload = str(params.get('payload', ''))\n"
        "    separator = params.get('separator') or '\\n'\n"
        "    return {'lines': payload.split(separator), 'payload': payload}\n",
    ),
    "smash": (
        "Nests all properties under given property",
        "def main(params):\n"
        "    field = params.get('fieldName')\n"
        "    if not field:\n"
        "        return {'error': 'You must supply a fieldName parameter.'}\n"
        "    rest = {k: v for k, v in params.items() if k != 'fieldName'}\n"
        "    return {field: rest}\n",
    ),
    "date": (
        "Current date and time",
        "import datetime\n"
        "def main(params):\n"
        "    return {'date': datetime.datetime.now(datetime.timezone.utc).isoformat()}\n",
    ),
    "namespace": (
        "Returns namespace for the authorization key used to invoke this action",
        "import os\n"
        "def main(params):\n"
        "    return {'namespace': os.environ.get('__OW_NAMESPACE', '')}\n",
    ),
}


def install(entities: EntityStore, limits: SystemLimits) -> None:
    """Store the package and its actions where missing or changed (idempotent; several
    controllers starting at once may race: the loser's 409 is fine)."""
    _put(
        entities,
        "packages",
        PACKAGE,
        lambda old: build_package(
            NAMESPACE,
            PACKAGE,
            {
                "publish": True,
                "annotations": [{"key": "description", "value": "Building blocks"}],
            },
            limits,
            old,
            {},
        ),
        lambda doc: doc.get("publish") is True,
    )
    for name, (description, code) in ACTIONS.items():
        body = {
            "exec": {"kind": KIND, "code": code, "binary": False},
            "annotations": [{"key": "description", "value": description}],
            "publish": True,
        }
        path = f"{PACKAGE}/{name}"
        _put(
            entities,
            "actions",
            path,
            lambda old, body=body, path=path: build_action(NAMESPACE, path, body, limits, old),
            lambda doc, code=code: (doc.get("exec") or {}).get("code") == code,
        )


def _put(entities: EntityStore, collection: str, path: str, build, current) -> None:
    stored = entities.find(NAMESPACE, collection, path)
    if stored is not None and current(stored):
        return
    try:
        entities.put(NAMESPACE, collection, path, True, build)
    except ApiError as err:
        if err.status != 409:
            raise
