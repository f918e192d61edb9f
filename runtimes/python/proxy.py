"""Tango's Python action proxy: the HTTP server that runs inside every Python action container.

The invoker talks to it through OpenWhisk's runtime contract (``docs/design.md``
section 7.3): ``POST /init`` once with the action's code, then ``POST /run`` once per activation.
The user's code runs in a long-lived child process (``launcher.py``) fed one JSON line per
activation on stdin and answering one JSON line on an extra pipe, exactly like OpenWhisk's
actionloop, so module globals survive warm runs. After each activation the proxy writes the
log sentinel on stdout and stderr so the invoker knows where the activation's logs end.

Configuration (environment):
    __OW_PROXY_HOST     address to listen on (default 0.0.0.0); the invoker uses host
                        networking and sets 127.0.0.1 so nothing but loopback reaches the action.
    __OW_PROXY_PORT     port to listen on (default 8080); one port per container.
    TANGO_EXEC_ACTIONS  "1" in the tango/dockerskeleton image: the action is an executable
                        ``exec`` (text code, or a zip holding it; or ``/action/exec`` baked into
                        the image when /init has no code) run by ``exec_runner.py``.
    TANGO_CONTAINER_SECRET  the per-container secret the invoker generates: every /init and
                        /run must carry it in the ``X-Tango-Container-Secret`` header (403
                        otherwise), so that code in other containers, which can reach this port
                        on the host network, cannot drive this one. Unset (the proxy started by
                        hand): no check.

The action must not learn the secret: the server takes it out of the environment before any
action starts (children never inherit it), and makes itself non-dumpable, which puts its
``/proc/<pid>/environ`` and memory out of reach of the action's process even though both run as
the image's non-root user (the kernel then treats the proxy like a set-uid process).

Latency matters here: every response goes out in one ``send`` and accepted sockets set
``TCP_NODELAY``, otherwise Nagle's algorithm meets the client's delayed ACK and each request
costs ~40 ms. Standard library only: the runtime image has python3, numpy and Pillow.
"""

import base64
import binascii
import ctypes
import hmac
import io
import json
import os
import posixpath
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTINEL = b"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(HERE, "launcher.py")
EXEC_RUNNER = os.path.join(HERE, "exec_runner.py")
EXEC_ACTIONS = os.environ.get("TANGO_EXEC_ACTIONS") == "1"
PREBUILT_EXEC_DIR = "/action"  # where a blackbox image built FROM the skeleton puts its exec
EXEC_ENTRY = "exec"
ZIP_ENTRY = "__main__.py"
TEXT_ENTRY = "main__.py"
SECRET_ENV = "TANGO_CONTAINER_SECRET"
SECRET_HEADER = "X-Tango-Container-Secret"
PR_SET_DUMPABLE = 4  # <linux/prctl.h>

REINIT_REFUSED = "Cannot initialize the action more than once."
NO_CODE = "Missing main/no code to execute."
NOT_INITIALIZED = "no action defined yet"
NOT_A_DICT = "The action did not return a dictionary or array."
WRONG_SECRET = (
    f"missing or wrong {SECRET_HEADER} header: only the invoker that started this container "
    "may call /init and /run"
)


class InitError(Exception):
    """An /init that cannot succeed; carries the HTTP status OpenWhisk uses for it."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------
# Pure deciders: request bodies and child output in, (status, body) out.
# ---------------------------------------------------------------------------------------------


def parse_init(body, code_optional=False):
    """Validate an /init body and return ``(code, main, binary, env)``.

    ``code_optional`` is for blackbox images that carry their own ``exec``; ``code`` is then
    ``""`` when absent. Raises ``InitError`` naming the field that is wrong and what is accepted.
    """
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, dict):
        value = {}
    code = value.get("code") or ""
    if not isinstance(code, str) or not (code or code_optional):
        raise InitError(403, NO_CODE)
    main = value.get("main") or "main"
    if not isinstance(main, str) or not main.isidentifier():
        raise InitError(403, f"/init field 'main' must be a Python function name, got {main!r}")
    env = value.get("env") or {}
    if not isinstance(env, dict):
        raise InitError(403, "/init field 'env' must be an object of name -> value")
    return code, main, bool(value.get("binary")), {str(k): env_string(v) for k, v in env.items()}


def env_string(value):
    """Environment values are strings; anything else is passed JSON-encoded, as OpenWhisk does."""
    return value if isinstance(value, str) else json.dumps(value)


def classify_result(line):
    """Turn the child's result line into the /run answer ``(status, body bytes)``.

    Objects and arrays are returned verbatim (no re-encoding of large results); scalars,
    ``null`` and text that is not JSON are the action's fault and answer 502.
    """
    try:
        result = json.loads(line)
    except ValueError:
        snippet = line[:200].decode("utf-8", "replace").strip()
        return 502, error_body(f"The action did not produce a valid JSON response: {snippet}")
    if isinstance(result, (dict, list)):
        return 200, line.rstrip(b"\n")
    return 502, error_body(NOT_A_DICT)


def admits(secret, presented):
    """Whether a request presenting header value ``presented`` (None: absent) may call /init or
    /run of a proxy holding ``secret`` (bytes; None: no secret configured, everyone may).
    Constant-time, so the comparison leaks nothing about how much of a guess was right."""
    if secret is None:
        return True
    if presented is None:
        return False
    return hmac.compare_digest(secret, presented.encode("utf-8"))


def error_body(message):
    return json.dumps({"error": message}).encode("utf-8")


# The bounds of a zip of action code, checked before it is unpacked: the controller's defaults
# (controller.config.SystemLimits max_code and max_archive_files, checked by
# controller.limits.check_archive when the action is created). The runtime checks again itself
# because the images carry only this folder and an /init may come from anything that can reach
# the proxy's port with the container's secret. The sizes are the archive directory's: zipfile
# never writes more than an entry's declared size.
MAX_ARCHIVE_BYTES = 48 * 1_048_576
MAX_ARCHIVE_FILES = 10_000


def archive_problem(infos, max_bytes=MAX_ARCHIVE_BYTES, max_files=MAX_ARCHIVE_FILES):
    """Why a zip whose directory is ``infos`` (``zipfile.ZipInfo``) must not be unpacked, or
    None: too many files, more bytes unpacked than ``max_bytes``, or a path that leaves the
    action's folder."""
    if len(infos) > max_files:
        return f"The zip archive holds {len(infos)} files; at most {max_files} are allowed"
    unpacked = sum(info.file_size for info in infos)
    if unpacked > max_bytes:
        return f"The zip archive unpacks to {unpacked} bytes, more than the limit of {max_bytes}"
    for info in infos:
        if not stays_inside(info.filename):
            return f"The zip archive's entry '{info.filename[:200]}' points outside the action's folder"
    return None


def stays_inside(name):
    """An archive path that stays inside the folder it is unpacked in (as
    controller.limits.safe_member decides)."""
    if not name or "\\" in name or "\0" in name:
        return False
    norm = posixpath.normpath(name)
    return not (name.startswith("/") or norm == ".." or norm.startswith("../"))


# ---------------------------------------------------------------------------------------------
# Executors: the action's files on disk and the child process.
# ---------------------------------------------------------------------------------------------


def write_action(code, binary, action_dir):
    """Put the action's source under ``action_dir``; return the path of the file to load."""
    return unpack(code, binary, action_dir, ZIP_ENTRY if binary else TEXT_ENTRY)


def write_exec(code, binary, action_dir):
    """Put a blackbox action's executable ``exec`` under ``action_dir``, ready to run."""
    path = unpack(code, binary, action_dir, EXEC_ENTRY)
    os.chmod(path, 0o755)
    return path


def unpack(code, binary, action_dir, entry):
    """Write text code as ``entry``, or extract a base64 zip that must hold ``entry``."""
    path = os.path.join(action_dir, entry)
    if not binary:
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        return path
    try:
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(code, validate=False)))
        problem = archive_problem(archive.infolist())
        if problem is None:
            archive.extractall(action_dir)
    except (binascii.Error, zipfile.BadZipFile, ValueError, NotImplementedError, EOFError) as ex:
        raise InitError(
            502, f"Binary action code must be a base64-encoded zip file: {ex}"
        ) from None
    if problem is not None:
        raise InitError(502, problem)
    if not os.path.isfile(path):
        raise InitError(502, f"Zip file does not include {entry} at its top level")
    return path


def syntax_check(path):
    """Compile the entry file so syntax errors surface at /init, not at the first /run."""
    with open(path, "rb") as f:
        source = f.read()
    try:
        compile(source, path, "exec")
    except (SyntaxError, ValueError) as ex:
        detail = "".join(traceback.format_exception_only(type(ex), ex)).strip()
        raise InitError(502, f"Syntax error in the action's code:\n{detail}") from None


class ActionChild:
    """The launcher process running the user's code, with its request and result pipes."""

    def __init__(self, action_file, main, action_dir, env):
        result_read, result_write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-u", LAUNCHER, action_file, main, str(result_write)],
            stdin=subprocess.PIPE,
            pass_fds=(result_write,),
            cwd=action_dir,
            env=env,
        )
        os.close(result_write)
        self.results = os.fdopen(result_read, "rb")

    def wait_ready(self):
        """Wait for the launcher's ack; raise ``InitError`` if it could not load the action."""
        line = self.results.readline()
        if not line:
            raise InitError(502, f"The action failed to start: {self.exit_message()}")
        ack = json.loads(line)
        if not ack.get("ok"):
            self.process.wait()
            raise InitError(502, f"The action failed to load: {ack.get('error')}")

    def call(self, message):
        """Send one activation and return the result line, or ``b""`` if the child died."""
        try:
            self.process.stdin.write(message)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            return b""
        return self.results.readline()

    def exit_message(self):
        code = self.process.wait()
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return f"command exited ({how})"


def take_secret(environ=os.environ):
    """Remove the container secret from ``environ`` (so no child inherits it) and return it as
    bytes; None when there is none. Once there is one, the process becomes non-dumpable."""
    secret = environ.pop(SECRET_ENV, None)
    if not secret:
        return None
    make_undumpable()
    return secret.encode("utf-8")


def make_undumpable():
    """prctl(PR_SET_DUMPABLE, 0): /proc/<pid>/environ, mem, fd etc. of this process become
    root's and ptrace is refused, even to a process of the same user (the action's). The flag
    is per process and reset by execve, so the action's own process stays ordinary."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def write_sentinels():
    """Mark the end of an activation's logs on both streams (one write each, no buffering)."""
    os.write(1, SENTINEL)
    os.write(2, SENTINEL)


class ActionProxy:
    """State of the one action this container runs; serializes activations (concurrency 1)."""

    def __init__(self):
        self.child = None
        self.failure = None  # why the child is gone, once it is
        self.lock = threading.Lock()

    def init(self, body):
        with self.lock:
            if self.child is not None or self.failure is not None:
                return 403, error_body(REINIT_REFUSED)
            try:
                self.child = start_action(*parse_init(body, code_optional=prebuilt_exec()))
            except InitError as ex:
                log_init_error(ex.message)
                return ex.status, error_body(ex.message)
            return 200, b'{"ok":true}'

    def run(self, body):
        with self.lock:
            if self.failure is not None:
                return 502, error_body(self.failure)
            if self.child is None:
                return 500, error_body(NOT_INITIALIZED)
            line = self.child.call(body.rstrip(b"\r\n").replace(b"\n", b" ") + b"\n")
            if line:
                answer = classify_result(line)
            else:
                self.failure = self.child.exit_message()
                answer = 502, error_body(self.failure)
            write_sentinels()
            return answer


def start_action(code, main, binary, env):
    """Write the code, syntax-check it and start the launcher; return the ready ``ActionChild``."""
    if EXEC_ACTIONS and not code:
        action_file, main, action_dir = EXEC_RUNNER, "main", PREBUILT_EXEC_DIR
    elif EXEC_ACTIONS:
        action_dir = tempfile.mkdtemp(prefix="action-")
        write_exec(code, binary, action_dir)
        action_file, main = EXEC_RUNNER, "main"
    else:
        action_dir = tempfile.mkdtemp(prefix="action-")
        action_file = write_action(code, binary, action_dir)
        syntax_check(action_file)
    child = ActionChild(action_file, main, action_dir, {**os.environ, **env})
    child.wait_ready()
    return child


def prebuilt_exec():
    """True in a blackbox image that was built with its own ``/action/exec``."""
    return EXEC_ACTIONS and os.access(os.path.join(PREBUILT_EXEC_DIR, EXEC_ENTRY), os.X_OK)


def log_init_error(message):
    """Like OpenWhisk's OW_LOG_INIT_ERROR: the developer sees why init failed in the logs."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    write_sentinels()


# ---------------------------------------------------------------------------------------------
# HTTP layer.
# ---------------------------------------------------------------------------------------------


class ProxyHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler for /init and /run."""

    protocol_version = "HTTP/1.1"
    server_version = "tango-python-proxy"

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read_action_request(self, usage: str):
        """A POST /init or /run: (raw body, parsed object or None, error or None). Other paths
        are answered 404 here (and None returned)."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"
        if self.path not in ("/init", "/run"):
            self.respond(404, error_body(f"Unknown path {self.path}; use {usage}"))
            return None
        try:
            parsed = json.loads(body)
        except ValueError as ex:
            return body, None, f"{self.path} body is not valid JSON: {ex}"
        if not isinstance(parsed, dict):
            return body, None, f"{self.path} body must be a JSON object"
        return body, parsed, None

    USAGE = "POST /init or /run"

    def do_POST(self):
        if not admits(self.server.secret, self.headers.get(SECRET_HEADER)):
            self.refuse()
            return
        request = self.read_action_request(self.USAGE)
        if request is None:
            return
        body, parsed, error = request
        if error:
            self.bad_request(error)
        elif self.path == "/run":
            self.respond(*self.server.action.run(self.run_input(body, parsed)))
        else:
            self.respond(*self.server.action.init(parsed))

    def run_input(self, body: bytes, parsed: dict):
        """What `/run` hands the action: the body as received, so the child gets large payloads
        without re-encoding."""
        return body

    def bad_request(self, error: str) -> None:
        self.respond(400, error_body(error))

    def refuse(self) -> None:
        """403 to a caller without the container secret; its body is read only when small
        (closing with unread data would reset the connection before the answer is read)."""
        length = self.headers.get("Content-Length") or ""
        if length.isdigit() and 0 < int(length) <= 65536:
            self.rfile.read(int(length))
        self.close_connection = True
        self.respond(403, error_body(WRONG_SECRET))

    def do_GET(self):
        self.respond(404, error_body(f"Unknown path {self.path}; use {self.USAGE}"))

    def respond(self, status, body):
        """Status line, headers and body in one write: no Nagle/delayed-ACK stall."""
        head = (
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("ascii") + b"\r\n" + body)

    def log_message(self, format, *args):
        """Silent: anything printed here would end up in the user's activation logs."""


class ProxyServer(ThreadingHTTPServer):
    """Serves one runtime; takes the container secret out of the environment as it starts,
    before any action code can run (tests may set ``secret`` afterwards)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, action):
        self.action = action
        self.secret = take_secret()
        super().__init__(address, ProxyHandler)


def serve(host=None, port=None, runtime=None, server_class=None):
    """Run a runtime (the Python action proxy unless another is given, e.g. the VLM runtime)
    behind its server until SIGTERM/SIGINT (it is PID 1 in the container, so handle SIGTERM);
    a runtime with a ``close()`` is closed on the way out."""
    host = host or os.environ.get("__OW_PROXY_HOST", "0.0.0.0")
    port = int(port or os.environ.get("__OW_PROXY_PORT", "8080"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    runtime = runtime if runtime is not None else ActionProxy()
    server = (server_class or ProxyServer)((host, port), runtime)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        close = getattr(runtime, "close", None)
        if callable(close):
            close()


if __name__ == "__main__":
    serve()
