"""``tango property set|get|unset`` against a temporary properties file."""

from tests.cli.conftest import GUEST_KEY


def test_set_writes_the_file_and_prints_wsk_messages(tango, props_file):
    run = tango("property", "set", "--apihost", "http://127.0.0.1:3233", "--auth", GUEST_KEY)
    assert run.code == 0
    assert run.out.splitlines() == [
        "ok: whisk API host set to http://127.0.0.1:3233",
        "ok: whisk auth set. Run 'tango property get --auth' to see the new value.",
    ]
    assert props_file.read_text() == f"APIHOST=http://127.0.0.1:3233\nAUTH={GUEST_KEY}\n"


def test_set_accepts_global_flags_before_the_command(tango, props_file):
    assert tango("-u", "a:b", "property", "set").code == 0
    assert props_file.read_text() == "AUTH=a:b\n"


def test_set_without_values_is_an_error(tango):
    run = tango("property", "set")
    assert run.code == 1
    assert run.err.startswith("error: Nothing to set")


def test_unset_removes_only_the_named_property(tango, props_file):
    props_file.write_text("APIHOST=http://h:1\nAUTH=a:b\nCERT=/c\n")
    run = tango("property", "unset", "--auth")
    assert run.out == "ok: whisk auth unset.\n"
    assert props_file.read_text() == "APIHOST=http://h:1\nCERT=/c\n"


def test_get_single_values_from_file_and_environment(tango, props_file, monkeypatch):
    props_file.write_text("APIHOST=http://h:1\nAUTH=a:b\n")
    assert tango("property", "get", "--apihost").out == "whisk API host\t\thttp://h:1\n"
    monkeypatch.setenv("WHISK_AUTH", "env:key")
    assert tango("property", "get", "--auth").out == "whisk auth\t\tenv:key\n"
    assert tango("property", "get", "--apiversion").out == "whisk API version\t\tv1\n"


def test_get_namespace_and_build_ask_the_api(wsk, api):
    api.on("GET", "/api/v1/namespaces", ["guest"])
    api.on("GET", "/api/v1", {"api_version": "1.0.0", "build": "2024-08-01", "buildno": "42"})
    run = wsk("property", "get", "--namespace", "--apibuild", "--apibuildno")
    assert run.code == 0
    assert run.out.splitlines() == [
        "whisk namespace\t\tguest",
        "whisk API build\t\t2024-08-01",
        "whisk API build number\t\t42",
    ]


def test_get_json(wsk, api):
    api.on("GET", "/api/v1/namespaces", ["guest"])
    run = wsk("--json", "property", "get", "--namespace", "--apiversion")
    assert run.json == {"namespace": "guest", "apiversion": "v1"}


def test_get_all_reports_an_unreachable_api_as_a_note_not_a_failure(tango, props_file):
    props_file.write_text("APIHOST=http://127.0.0.1:9\nAUTH=a:b\n")
    run = tango("property", "get")
    assert run.code == 0
    assert "whisk API host\t\thttp://127.0.0.1:9" in run.out
    assert "Unable to connect to http://127.0.0.1:9" in run.err


def test_get_namespace_alone_fails_when_unreachable(tango, props_file):
    props_file.write_text("APIHOST=http://127.0.0.1:9\nAUTH=a:b\n")
    run = tango("property", "get", "--namespace")
    assert run.code == 3
    assert "is the platform running? (tango standalone)" in run.err


def test_get_apibuildno_alone_and_raw_output(wsk, api):
    api.on("GET", "/api/v1", {"api_version": "1.0.0", "build": "2024-08-01", "buildno": "42"})
    assert wsk("property", "get", "--apibuildno").out == "whisk API build number\t\t42\n"
    assert wsk("property", "get", "--apibuildno", "-o", "raw").out == "42\n"
