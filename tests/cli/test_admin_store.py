"""Which store ``tango admin`` manages (cli.admin_store.choose_store): explicit flags first,
then the running standalone that serves the CLI's API host, then the default store."""

from pathlib import Path

from cli.admin_store import StandaloneRecord, choose_store, local_port

RUNNING = [
    StandaloneRecord(3233, 10, "sqlite:////srv/a/tango.db", "/srv/a"),
    StandaloneRecord(4000, 11, "sqlite:////srv/b/tango.db", "/srv/b"),
]


def choose(db_url=None, data_dir=None, env=None, apihost="http://localhost:4000"):
    return choose_store(db_url, data_dir, env or {}, apihost, RUNNING, "/home/u/.tango")


def test_the_standalone_serving_the_api_host_wins_over_the_default():
    chosen = choose()
    assert chosen.db_url == "sqlite:////srv/b/tango.db"
    assert "http://localhost:4000" in chosen.reason and "11" in chosen.reason


def test_explicit_flags_and_environment_come_first():
    assert choose(db_url="postgresql://x/y").db_url == "postgresql://x/y"
    assert choose(env={"TANGO_DB_URL": "postgresql://e/f"}).db_url == "postgresql://e/f"
    assert choose(data_dir="/tmp/d").db_url == f"sqlite:///{Path('/tmp/d').resolve()}/tango.db"
    assert "--data-dir" in choose(data_dir="/tmp/d").reason
    via_env = choose(env={"TANGO_DATA_DIR": "/tmp/e"})
    assert via_env.db_url.endswith("/tmp/e/tango.db") and "TANGO_DATA_DIR" in via_env.reason


def test_no_standalone_on_that_port_falls_back_to_the_default_store_and_says_so():
    chosen = choose(apihost="http://127.0.0.1:5999")
    assert chosen.db_url.endswith("/home/u/.tango/tango.db")
    assert "no standalone on this machine serves http://127.0.0.1:5999" in chosen.reason


def test_only_this_machines_addresses_name_a_local_port():
    assert local_port("http://localhost:3233") == 3233
    assert local_port("127.0.0.1:3233") == 3233
    assert local_port("https://localhost") == 443
    assert local_port("https://openwhisk.example.com:3233") is None
    assert local_port(None) is None
