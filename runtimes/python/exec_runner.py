"""Entry module for blackbox ("native") actions: runs the action's ``exec`` once per activation.

Used only in the ``tango/dockerskeleton`` image (``TANGO_EXEC_ACTIONS=1``): the proxy starts
the launcher with this module as the action and the folder holding ``exec`` as working
directory. As in OpenWhisk's dockerskeleton, ``exec`` receives the arguments as one JSON
command-line argument (and the ``__OW_*`` activation context in its environment); the last
line it prints on stdout is the result, a JSON object; earlier lines and stderr are logs.
"""

import json
import os
import subprocess
import sys

EXEC = os.path.join(os.getcwd(), "exec")


def main(args):
    # stdin is the proxy's request pipe: the executable must never read from it.
    done = subprocess.run(
        [EXEC, json.dumps(args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    sys.stderr.write(done.stderr.decode("utf-8", "replace"))
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    for line in lines[:-1]:
        print(line)
    return parse_result(lines[-1] if lines else "", done.returncode)


def parse_result(last_line, returncode):
    """The result object, or None (the proxy then answers 502) when there is none."""
    try:
        result = json.loads(last_line)
    except ValueError:
        result = None
    if isinstance(result, dict):
        return result
    print(
        f"exec exited with code {returncode} and its last stdout line is not a JSON object: "
        f"{last_line[:200]!r}",
        file=sys.stderr,
    )
    return None
