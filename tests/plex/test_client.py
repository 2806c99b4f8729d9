"""Error translation against a running PlexSim with the real plexapi/requests stack."""
import socket
from xml.etree.ElementTree import ParseError

import pytest
from plexapi.exceptions import BadRequest, NotFound

from plex import client
from plex.client import ErrorKind, classify_error, safe_error_text
from plex.writer import fetch_item
from tests.plex.conftest import make_settings


def error_of(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the point is to look at it
        return exc
    raise AssertionError("no error raised")


@pytest.fixture(scope="module")
def plex(sim):
    sim.add_section("Client", ["/media/c"])
    return client.connect(make_settings(sim))


def test_connect_uses_timeout_tuple_and_own_session(sim, plex):
    assert plex._timeout == (2.0, 5.0)
    assert plex._session.verify is True
    assert plex.machineIdentifier == sim.machine_identifier


def test_401_is_auth_and_token_hidden(sim):
    secret = "my-secret-token-123"
    exc = error_of(lambda: client.connect(make_settings(sim, plex_token=secret)))
    assert classify_error(exc) is ErrorKind.AUTH
    text = safe_error_text(exc, secret)
    assert secret not in text and "401" in text and "\n" not in text


def test_404_is_not_found(plex):
    exc = error_of(lambda: fetch_item(plex, 999_999))
    assert isinstance(exc, NotFound) and classify_error(exc) is ErrorKind.NOT_FOUND


def test_5xx_is_outage(sim, plex):
    sim.fail_next(1, 500)
    exc = error_of(lambda: plex.query("/library/sections"))
    assert isinstance(exc, BadRequest) and classify_error(exc) is ErrorKind.OUTAGE
    sim.fail_next(1, 503)
    assert classify_error(error_of(lambda: plex.query("/library/sections"))) is ErrorKind.OUTAGE


def test_other_4xx_is_bad_request(sim, plex):
    sim.fail_next(1, 400)
    assert classify_error(error_of(lambda: plex.query("/library/sections"))) is ErrorKind.BAD_REQUEST


def test_down_is_outage(sim, plex):
    sim.go_down()
    try:
        exc = error_of(lambda: plex.query("/library/sections"))
    finally:
        sim.come_up()
    assert classify_error(exc) is ErrorKind.OUTAGE
    assert plex.query("/library/sections") is not None  # back up, same client


def test_hang_with_small_read_timeout_is_outage(sim):
    impatient = client.connect(make_settings(sim, read_timeout=0.5))
    sim.set_hang(True)
    try:
        exc = error_of(lambda: impatient.query("/library/sections"))
    finally:
        sim.set_hang(False)
    assert classify_error(exc) is ErrorKind.OUTAGE


def test_refused_port_is_outage():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = make_settings(type("S", (), {"url": f"http://127.0.0.1:{port}", "token": "t"})(),
                             connect_timeout=1.0, read_timeout=1.0)
    exc = error_of(lambda: client.connect(settings))
    assert classify_error(exc) is ErrorKind.OUTAGE


def test_parse_error_and_unrelated():
    assert classify_error(ParseError("junk")) is ErrorKind.XML
    assert classify_error(ValueError("x")) is None


def test_safe_error_text_strips_query_and_encoded_token():
    token = "a b/c+d"
    exc = BadRequest(f"(500) internal_server_error; http://h:32400/library?X-Plex-Token=a%20b%2Fc%2Bd&x=1 "
                     f"body token={token}\nsecond line")
    text = safe_error_text(exc, token)
    assert token not in text and "a%20b%2Fc%2Bd" not in text and "x=1" not in text
    assert "\n" not in text and "http://h:32400/library" in text


def test_a_refused_certificate_is_a_settings_problem_not_an_outage():
    """Plex over https at an address its certificate does not name (a self-signed server stands in)."""
    from plexapi.server import PlexServer
    from sandbox.stash import StashSim

    with StashSim(tls=True) as https_server:
        https_server.start()
        exc = error_of(lambda: PlexServer(https_server.url, "token", timeout=5))
    assert classify_error(exc) is ErrorKind.TLS
