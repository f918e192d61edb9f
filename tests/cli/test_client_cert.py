"""``--cert``/``--key`` (and ``CERT``/``KEY`` in the properties file): the client TLS certificate
for an API host behind a proxy that asks for one, as wsk has them. The fake API serves HTTPS and
requires a certificate signed by a test CA."""

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli.conftest import GUEST_KEY, FakeApi


def _cert(name: str, issuer_key, issuer_name, key, ca: bool = False, san: str | None = None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, cert=None, key=None):
    data = b""
    if cert is not None:
        data += cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tango test CA")])
    ca = _cert("tango test CA", ca_key, ca_name, ca_key, ca=True)
    server_key, client_key, stranger_key = (
        ec.generate_private_key(ec.SECP256R1()) for _ in range(3)
    )
    stranger_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")])
    return {
        "ca": _write(d / "ca.pem", ca),
        "server": _write(
            d / "server.pem",
            _cert("127.0.0.1", ca_key, ca_name, server_key, san="localhost"),
            server_key,
        ),
        "cert": _write(d / "client.pem", _cert("tango cli", ca_key, ca_name, client_key)),
        "key": _write(d / "client.key", key=client_key),
        "both": _write(d / "both.pem", _cert("tango cli", ca_key, ca_name, client_key), client_key),
        "stranger": _write(
            d / "stranger.pem", _cert("x", stranger_key, stranger_name, stranger_key), stranger_key
        ),
    }


@pytest.fixture
def tls_api(pki, props_file, monkeypatch):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server"])
    ctx.load_verify_locations(pki["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    fake = FakeApi(tls=ctx)
    fake.on("GET", "/api/v1/namespaces", ["guest"])
    monkeypatch.setenv("WHISK_APIHOST", fake.url)
    monkeypatch.setenv("WHISK_AUTH", GUEST_KEY)
    yield fake
    fake.close()


def test_a_client_certificate_from_flags_reaches_the_api(tango, tls_api, pki, monkeypatch):
    # -i must hold even where the environment names a CA bundle (requests would let it win)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki["ca"])
    monkeypatch.setenv("CURL_CA_BUNDLE", pki["ca"])
    run = tango("-i", "--cert", pki["cert"], "--key", pki["key"], "namespace", "list")
    assert run.code == 0, run.err
    assert run.err == ""  # no InsecureRequestWarning for what -i asked for
    assert "guest" in run.out and tls_api.last.path == "/api/v1/namespaces"
    assert (
        tango("-i", "--cert", pki["both"], "namespace", "list").code == 0
    )  # key inside the cert file


def test_without_a_certificate_the_error_says_how_to_give_one(tango, tls_api, pki):
    run = tango("-i", "namespace", "list")
    assert run.code != 0
    assert "client certificate" in run.err and "--cert FILE --key FILE" in run.err
    assert tls_api.requests == []
    run = tango(
        "-i", "--cert", pki["stranger"], "namespace", "list"
    )  # signed by a CA the server does not trust
    assert run.code != 0 and "client certificate" in run.err


def test_property_set_stores_absolute_paths_and_get_unset_show_and_remove_them(
    tango, tls_api, pki, props_file, monkeypatch
):
    monkeypatch.chdir(props_file.parent)
    run = tango("property", "set", "--cert", pki["cert"], "--key", pki["key"])
    assert run.code == 0
    assert run.out.splitlines() == [
        f"ok: client cert set to {pki['cert']}",
        f"ok: client key set to {pki['key']}",
    ]
    assert f"CERT={pki['cert']}\nKEY={pki['key']}\n" == props_file.read_text()
    assert tango("-i", "namespace", "list").code == 0  # taken from the file
    assert tango("property", "get", "--cert").out == f"client cert\t\t{pki['cert']}\n"
    assert tango("property", "get", "--key").out == f"client key\t\t{pki['key']}\n"
    assert tango("property", "unset", "--cert", "--key").out.splitlines() == [
        "ok: client cert unset.",
        "ok: client key unset.",
    ]
    assert props_file.read_text() == ""


def test_missing_files_and_a_key_without_its_certificate_are_errors_before_any_request(
    tango, tls_api, pki
):
    run = tango("-i", "--cert", "/nonexistent/c.pem", "namespace", "list")
    assert (
        run.code == 1
        and run.err
        == "error: The client TLS file given by --cert does not exist: /nonexistent/c.pem\n"
    )
    run = tango("-i", "--key", pki["key"], "namespace", "list")
    assert run.code == 1 and "without its certificate" in run.err
    run = tango("property", "set", "--cert", "/nonexistent/c.pem")
    assert run.code == 1 and "does not exist" in run.err
    assert tls_api.requests == []
