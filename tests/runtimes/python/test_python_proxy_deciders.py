"""Pure parts of the Python runtime: /init validation, result classification, launcher helpers."""

import base64
import io
import json
import os
import zipfile

import pytest

from runtimes.python import launcher, proxy
from runtimes.python.proxy import InitError, admits, classify_result, parse_init, write_action


def test_parse_init_defaults_and_stringifies_env():
    code, main, binary, env = parse_init(
        {"value": {"code": "x", "env": {"A": "a", "N": 3, "O": {"k": [1]}}}}
    )
    assert (code, main, binary) == ("x", "main", False)
    assert env == {"A": "a", "N": "3", "O": '{"k": [1]}'}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"value": None},
        {"value": {"code": ""}},
        {"value": {"main": "main"}},
        {"value": {"code": 5}},
    ],
)
def test_parse_init_without_code_is_403(body):
    with pytest.raises(InitError) as err:
        parse_init(body)
    assert (err.value.status, err.value.message) == (403, "Missing main/no code to execute.")


def test_parse_init_rejects_a_main_that_is_no_function_name():
    with pytest.raises(InitError) as err:
        parse_init({"value": {"code": "x", "main": "not valid"}})
    assert err.value.status == 403 and "'main'" in err.value.message


def test_classify_result_passes_objects_and_arrays_verbatim():
    assert classify_result(b'{"a": "\xc3\xa9"}\n') == (200, b'{"a": "\xc3\xa9"}')
    assert classify_result(b"[1, 2]\n") == (200, b"[1, 2]")


@pytest.mark.parametrize("line", [b"42\n", b'"text"\n', b"null\n", b"true\n"])
def test_classify_result_refuses_scalars(line):
    status, body = classify_result(line)
    assert status == 502
    assert json.loads(body) == {"error": "The action did not return a dictionary or array."}


def test_classify_result_refuses_text_that_is_not_json():
    status, body = classify_result(b"oops {\n")
    assert status == 502
    assert json.loads(body)["error"].endswith("valid JSON response: oops {")


def test_write_action_text_and_zip(tmp_path):
    text_dir, zip_dir = tmp_path / "text", tmp_path / "zip"
    text_dir.mkdir(), zip_dir.mkdir()
    path = write_action("def main(a):\n    return a\n", False, str(text_dir))
    assert open(path).read().startswith("def main")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("__main__.py", "X = 1\n")
    code = base64.b64encode(buffer.getvalue()).decode()
    assert write_action(code, True, str(zip_dir)) == os.path.join(zip_dir, "__main__.py")


def _zip_code(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return base64.b64encode(buffer.getvalue()).decode()


def test_runtime_archive_bounds_are_the_controllers():
    from controller.config import SystemLimits
    from controller.limits import safe_member

    defaults = SystemLimits()
    assert proxy.MAX_ARCHIVE_BYTES == defaults.max_code
    assert proxy.MAX_ARCHIVE_FILES == defaults.max_archive_files
    names = ["a.py", "d/e.py", "./x", "a/../b", "../x", "a/../../x", "/etc/passwd", "a\\b", ""]
    names += ["..", "d/..", "x\0y"]
    assert [proxy.stays_inside(n) for n in names] == [safe_member(n) for n in names]


@pytest.mark.parametrize("name", ["../evil.py", "/tmp/evil.py", "d/../../evil.py", "..\\evil.py"])
def test_write_action_refuses_a_zip_entry_outside_the_folder(tmp_path, name):
    action_dir = tmp_path / "action"
    action_dir.mkdir()
    code = _zip_code([("__main__.py", "X = 1\n"), (name, "boom\n")])
    with pytest.raises(InitError) as err:
        write_action(code, True, str(action_dir))
    assert err.value.status == 502 and "outside the action's folder" in err.value.message
    assert os.listdir(action_dir) == []  # nothing was unpacked


def test_write_action_refuses_a_zip_that_unpacks_past_the_code_limit(tmp_path):
    # A few hundred KB of deflated zeros that would unpack to one byte more than the limit.
    code = _zip_code([("__main__.py", "X = 1\n"), ("zeros", b"\0" * proxy.MAX_ARCHIVE_BYTES)])
    with pytest.raises(InitError) as err:
        write_action(code, True, str(tmp_path))
    assert err.value.status == 502 and "unpacks to" in err.value.message
    assert os.listdir(tmp_path) == []


def test_write_action_refuses_a_zip_with_too_many_files(tmp_path):
    entries = [("__main__.py", "X = 1\n")]
    entries += [(f"f{i}", "") for i in range(proxy.MAX_ARCHIVE_FILES)]
    with pytest.raises(InitError) as err:
        write_action(_zip_code(entries), True, str(tmp_path))
    assert err.value.status == 502 and "files; at most" in err.value.message
    assert os.listdir(tmp_path) == []


def test_archive_problem_accepts_an_archive_at_the_bounds():
    infos = [zipfile.ZipInfo("__main__.py"), zipfile.ZipInfo("lib/a.py")]
    infos[0].file_size, infos[1].file_size = 10, 5
    assert proxy.archive_problem(infos, max_bytes=15, max_files=2) is None
    assert "files" in proxy.archive_problem(infos, max_bytes=15, max_files=1)
    assert "unpacks to 15 bytes" in proxy.archive_problem(infos, max_bytes=14, max_files=2)


def test_bundled_site_packages_finds_only_virtualenv_python_dirs(tmp_path):
    assert launcher.bundled_site_packages(str(tmp_path)) == []
    site = tmp_path / "virtualenv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (tmp_path / "virtualenv" / "lib" / "other").mkdir()
    assert launcher.bundled_site_packages(str(tmp_path)) == [str(site)]


def test_run_activation_exports_context_and_catches_errors(monkeypatch):
    monkeypatch.delenv("__OW_ACTIVATION_ID", raising=False)
    message = {"value": {"x": 1}, "activation_id": "abc", "deadline": 17}
    assert launcher.run_activation(
        lambda args: dict(args, seen=os.environ["__OW_DEADLINE"]), message
    ) == {"x": 1, "seen": "17"}
    assert os.environ["__OW_ACTIVATION_ID"] == "abc"

    def failing(args):
        raise RuntimeError("nope")

    assert launcher.run_activation(failing, {"value": {}}) == {"error": "nope"}


def test_encode_result_is_one_line_even_when_not_serializable():
    assert launcher.encode_result({"a": "é"}) == '{"a": "é"}\n'
    line = launcher.encode_result({"a": object()})
    assert line.endswith("\n") and line.count("\n") == 1
    with pytest.raises(ValueError):
        json.loads(line)


def test_admits_only_the_exact_container_secret_once_one_is_set():
    assert admits(None, None) and admits(None, "anything")  # started by hand: no secret
    assert admits(b"s3cret", "s3cret")
    for presented in (None, "", "s3cre", "s3cretX", "S3CRET", "s3crét"):
        assert not admits(b"s3cret", presented), presented


def test_take_secret_removes_it_from_the_environment_children_inherit(monkeypatch):
    undumpable = []
    monkeypatch.setattr(proxy, "make_undumpable", lambda: undumpable.append(True))
    environ = {proxy.SECRET_ENV: "abc", "PATH": "/bin"}
    assert proxy.take_secret(environ) == b"abc"
    assert environ == {"PATH": "/bin"} and undumpable == [True]
    assert proxy.take_secret(environ) is None and undumpable == [True]
