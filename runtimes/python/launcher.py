"""The long-lived child process that runs a user's Python action inside the container.

Started once per container by ``proxy.py`` after a successful ``/init``::

    python3 -u launcher.py ACTION_FILE MAIN_NAME [RESULT_FD]

It follows OpenWhisk's actionloop protocol: it loads the action module, acknowledges on the
result pipe with ``{"ok": true}`` (or ``{"ok": false, "error": ...}`` when the module cannot
be imported or has no such function), then loops: read one JSON line from stdin, export every
key but ``value`` as ``__OW_<KEY>``, call ``main(value)``, write the result as one JSON line on
the result pipe (fd 3 by default). Because the process lives as long as the container, module
globals persist across warm activations, which users rely on for caching models and clients.

Standard library only: the runtime image has nothing else we could count on.
"""

import importlib.util
import json
import os
import sys
import traceback

DEFAULT_RESULT_FD = 3


def load_main(action_file, main_name):
    """Import the action's source file as module ``main__`` and return its entry function.

    The action's folder goes first on ``sys.path`` so a zip action can import its other
    modules, and a bundled ``virtualenv/`` contributes its site-packages.
    """
    action_dir = os.path.dirname(os.path.abspath(action_file))
    sys.path[:0] = [action_dir] + bundled_site_packages(action_dir)
    spec = importlib.util.spec_from_file_location("main__", action_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["main__"] = module
    spec.loader.exec_module(module)
    entry = getattr(module, main_name, None)
    if not callable(entry):
        raise LookupError(
            f"the action has no function named '{main_name}' "
            f"(set --main to the name of the function to call)"
        )
    return entry


def bundled_site_packages(action_dir):
    """Site-packages folders of a ``virtualenv/`` shipped inside a zip action, if any."""
    lib = os.path.join(action_dir, "virtualenv", "lib")
    if not os.path.isdir(lib):
        return []
    found = []
    for name in sorted(os.listdir(lib)):
        site = os.path.join(lib, name, "site-packages")
        if name.startswith("python") and os.path.isdir(site):
            found.append(site)
    return found


def export_activation_context(message):
    """Expose every /run key except ``value`` as ``__OW_<KEY>`` (OpenWhisk's convention)."""
    for key, value in message.items():
        if key == "value":
            continue
        os.environ["__OW_" + key.upper()] = value if isinstance(value, str) else json.dumps(value)


def run_activation(entry, message):
    """Call the action once and return its result; an exception becomes ``{"error": ...}``."""
    export_activation_context(message)
    args = message.get("value", {})
    try:
        return entry(args)
    except Exception as ex:  # the user's failure is reported, never fatal to the container
        traceback.print_exc(file=sys.stderr)
        return {"error": str(ex)}


def encode_result(result):
    """One JSON line for the proxy.

    A result JSON cannot hold is sent as a plain-text line instead, which the proxy reports
    as an invalid (non-JSON) response, like any other output it cannot parse.
    """
    try:
        return json.dumps(result, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as ex:
        return f"result is not JSON serializable: {ex}".replace("\n", " ") + "\n"


def reply(channel, line):
    """Flush the user's output first so the proxy's log sentinel always comes after it."""
    sys.stdout.flush()
    sys.stderr.flush()
    channel.write(line.encode("utf-8"))
    channel.flush()


def main(argv):
    action_file, main_name = argv[1], argv[2]
    result_fd = int(argv[3]) if len(argv) > 3 else DEFAULT_RESULT_FD
    channel = os.fdopen(result_fd, "wb")
    try:
        entry = load_main(action_file, main_name)
    except BaseException as ex:  # SystemExit at import time is an init failure too
        traceback.print_exc(file=sys.stderr)
        reply(channel, json.dumps({"ok": False, "error": f"{type(ex).__name__}: {ex}"}) + "\n")
        return 1
    reply(channel, '{"ok": true}\n')
    requests = sys.stdin.buffer
    while True:
        line = requests.readline()
        if not line:
            return 0
        message = json.loads(line.decode("utf-8"))
        reply(channel, encode_result(run_activation(entry, message)))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
