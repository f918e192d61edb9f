"""Reading and writing ~/.wskprops, and the precedence flags > environment > file."""

from cli import config
from cli.config import Settings


def test_props_path_defaults_to_home_and_honours_wsk_config_file(tmp_path):
    assert config.props_path({"HOME": str(tmp_path)}) == tmp_path / ".wskprops"
    other = tmp_path / "elsewhere" / "props"
    assert config.props_path({"HOME": str(tmp_path), "WSK_CONFIG_FILE": str(other)}) == other


def test_read_props_parses_key_value_lines_and_ignores_noise(tmp_path):
    path = tmp_path / "p"
    path.write_text("# comment\nAPIHOST=http://h:1\n\nAUTH = u:k=\nnot a pair\nCERT=/c.pem\n")
    assert config.read_props(path) == {"APIHOST": "http://h:1", "AUTH": "u:k=", "CERT": "/c.pem"}


def test_missing_file_reads_as_empty(tmp_path):
    assert config.read_props(tmp_path / "absent") == {}


def test_update_props_sets_and_removes_but_keeps_other_keys(tmp_path):
    path = tmp_path / "sub" / "p"
    path.parent.mkdir()
    path.write_text("CERT=/c.pem\nAUTH=old\n")
    config.update_props(path, {"APIHOST": "http://h:2", "AUTH": None})
    assert path.read_text() == "CERT=/c.pem\nAPIHOST=http://h:2\n"


def test_precedence_flag_over_env_over_file(tmp_path):
    path = tmp_path / "p"
    path.write_text("APIHOST=file-host\nAUTH=file:key\nAPIVERSION=v9\n")
    env = {"WSK_CONFIG_FILE": str(path), "WHISK_AUTH": "env:key"}
    s = config.resolve({"APIHOST": "http://flag-host", "AUTH": None, "APIVERSION": None}, env)
    assert (s.apihost, s.auth, s.apiversion) == ("http://flag-host", "env:key", "v9")


def test_apiversion_defaults_to_v1(tmp_path):
    s = config.resolve({}, {"WSK_CONFIG_FILE": str(tmp_path / "none")})
    assert s.apiversion == "v1" and s.apihost is None and s.auth is None


def test_host_without_scheme_gets_https_like_wsk_even_for_localhost():
    assert config.normalize_apihost("127.0.0.1:3233") == "https://127.0.0.1:3233"
    assert config.normalize_apihost("http://127.0.0.1:3233/") == "http://127.0.0.1:3233"
    assert Settings("http://h:1", "a:b", "v1").base_url == "http://h:1/api/v1"
    assert Settings(None, "a:b").base_url is None
