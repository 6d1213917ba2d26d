"""The RouterOS simulator speaks the API wire protocol: raw sockets and the real librouteros client."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator

import librouteros
import pytest
from librouteros.exceptions import ConnectionClosed, FatalError, TrapError
from librouteros.login import token
from librouteros.query import Key, Or

from infra.local.routeros import RouterSimulator, SimulatorControl, encode_length, encode_sentence

PASSWORD = "s3cret"


@pytest.fixture
def router() -> Iterator[RouterSimulator]:
    with RouterSimulator(username="muda", password=PASSWORD, control_port=0) as simulated:
        yield simulated


def connect(router: RouterSimulator, **kwargs) -> librouteros.api.Api:
    return librouteros.connect(router.host, "muda", PASSWORD, port=router.port, timeout=3, **kwargs)


class Raw:
    """A bare API connection: sentences out, reply sentences in (decoding every length form)."""

    def __init__(self, router: RouterSimulator) -> None:
        self.sock = socket.create_connection((router.host, router.port), timeout=3)

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def word(self) -> str:
        first = self._read(1)[0]
        if first < 0x80:
            length = first
        elif first < 0xC0:
            length = ((first & 0x3F) << 8) | self._read(1)[0]
        elif first < 0xE0:
            length = int.from_bytes(bytes([first & 0x1F]) + self._read(2), "big")
        elif first < 0xF0:
            length = int.from_bytes(bytes([first & 0x0F]) + self._read(3), "big")
        else:
            length = int.from_bytes(self._read(4), "big")
        return self._read(length).decode()

    def sentence(self) -> list[str]:
        words = []
        while (word := self.word()) != "":
            words.append(word)
        return words

    def call(self, *words: str) -> list[list[str]]:
        self.sock.sendall(encode_sentence(list(words)))
        replies = []
        while True:
            replies.append(self.sentence())
            if replies[-1][0] in ("!done", "!fatal"):
                return replies

    def login(self) -> None:
        assert self.call("/login", "=name=muda", f"=password={PASSWORD}") == [["!done"]]


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, b"\x00"),
        (0x7F, b"\x7f"),
        (0x80, b"\x80\x80"),
        (0x3FFF, b"\xbf\xff"),
        (0x4000, b"\xc0\x40\x00"),
        (0x1FFFFF, b"\xdf\xff\xff"),
        (0x200000, b"\xe0\x20\x00\x00"),
        (0xFFFFFFF, b"\xef\xff\xff\xff"),
        (0x10000000, b"\xf0\x10\x00\x00\x00"),
    ],
)
def test_length_prefix_forms(length: int, encoded: bytes):
    """Given a word length at an edge of a prefix form
    When it is encoded
    Then it takes the bytes RouterOS's API documentation gives (and librouteros agrees below 2^28)."""
    assert encode_length(length) == encoded
    if length < 0x10000000:
        assert librouteros.protocol.encode_length(length) == encoded


@pytest.mark.parametrize("size", [0x7E, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000])
def test_words_of_every_length_form_round_trip(router: RouterSimulator, size: int):
    """Given a comment whose attribute word sits at a length-prefix boundary
    When librouteros stores it on a user and reads it back
    Then the value is intact (both directions decoded every prefix form)."""
    api = connect(router)
    word_overhead = len("=comment=")
    comment = "x" * (size - word_overhead) if size > word_overhead else "x"
    users = api.path("ip", "hotspot", "user")
    users.add(name="u1", password="p", comment=comment)
    [user] = users.select(Key("comment")).where(Key("name") == "u1")
    assert user["comment"] == comment


def test_raw_sentences_tags_proplist_and_empty(router: RouterSimulator):
    """Given a raw connection
    When it logs in, adds a user with a tag, prints with a proplist and a query, and prints nothing
    Then replies carry the tag, =ret=*ID, only the listed properties, and !empty before !done."""
    raw = Raw(router)
    raw.login()
    [done] = raw.call("/ip/hotspot/user/add", "=name=alice", "=password=pw", ".tag=7")
    assert done[0] == "!done" and done[1].startswith("=ret=*") and ".tag=7" in done
    item = done[1].removeprefix("=ret=")

    replies = raw.call("/ip/hotspot/user/print", "=.proplist=.id,name", "?name=alice")
    assert replies == [["!re", f"=.id={item}", "=name=alice"], ["!done"]]
    assert raw.call("/ip/hotspot/user/print", "?name=bob", ".tag=x") == [
        ["!empty", ".tag=x"],
        ["!done", ".tag=x"],
    ]
    assert raw.call("/ip/hotspot/user/print", "=count-only=") == [["!done", "=ret=1"]]


def test_older_router_answers_no_rows_without_empty(router: RouterSimulator):
    """Given the simulator acting as RouterOS before 7.18
    When a print finds nothing
    Then only !done comes back; librouteros yields no rows either way."""
    router.set_faults(empty_replies=False)
    raw = Raw(router)
    raw.login()
    assert raw.call("/ip/hotspot/user/print") == [["!done"]]
    router.set_faults(empty_replies=True)
    assert list(connect(router).path("ip", "hotspot", "user")) == []


def test_traps_for_unknown_commands_parameters_and_items(router: RouterSimulator):
    """Given a logged-in connection
    When a command, a parameter or an item does not exist
    Then each answer is a !trap with a category and message, then !done; the session goes on."""
    raw = Raw(router)
    assert raw.call("/ip/hotspot/user/print")[0] == ["!trap", "=category=5", "=message=not logged in"]
    raw.login()
    assert raw.call("/ip/nothing/print")[0][0] == "!trap"
    assert (
        raw.call("/ip/hotspot/user/add", "=name=a", "=colour=red")[0][-1]
        == "=message=unknown parameter colour"
    )
    trap, done = raw.call("/ip/hotspot/user/remove", "=.id=*99")
    assert (trap[-1], done) == ("=message=no such item", ["!done"])
    api = connect(router)
    with pytest.raises(TrapError, match="input does not match any value of profile"):
        api.path("ip", "hotspot", "user").add(name="b", profile="nope")


def test_queries_with_stack_operations(router: RouterSimulator):
    """Given three users
    When librouteros queries with OR, inequality and existence
    Then the simulator evaluates RouterOS's query stack."""
    api = connect(router)
    users = api.path("ip", "hotspot", "user")
    users.add(name="a", password="1", comment="vip")
    users.add(name="b", password="2")
    users.add(name="c", password="3")
    names = lambda rows: sorted(r["name"] for r in rows)  # noqa: E731
    assert names(users.select(Key("name")).where(Or(Key("name") == "a", Key("name") == "c"))) == ["a", "c"]
    assert names(users.select(Key("name")).where(Key("name") != "b")) == ["a", "c"]
    assert names(api.rawCmd("/ip/hotspot/user/print", "?comment")) == ["a"]
    assert names(api.rawCmd("/ip/hotspot/user/print", "?-comment")) == ["b", "c"]


def test_login_forms_and_refusals(router: RouterSimulator):
    """Given the router's API user
    When clients log in with the plain form, the legacy challenge form, a wrong password, or while
    login is refused
    Then the first two succeed; the others trap (librouteros raises TrapError)."""
    assert list(connect(router).path("system", "identity")) == [{"name": "muda-sim"}]
    assert list(connect(router, login_method=token).path("system", "identity"))
    with pytest.raises(TrapError, match="invalid user name or password"):
        librouteros.connect(router.host, "muda", "wrong", port=router.port, timeout=3)
    router.set_faults(refuse_login=True)
    with pytest.raises(TrapError):
        connect(router)


def test_legacy_challenge_by_hand(router: RouterSimulator):
    """Given a raw connection
    When it asks for a challenge and answers it with MD5(0 + password + challenge)
    Then it is logged in."""
    raw = Raw(router)
    [done] = raw.call("/login")
    challenge = bytes.fromhex(done[1].removeprefix("=ret="))
    response = "00" + hashlib.md5(b"\x00" + PASSWORD.encode() + challenge).hexdigest()
    assert raw.call("/login", "=name=muda", f"=response={response}") == [["!done"]]
    assert raw.call("/system/resource/print")[0][0] == "!re"


def test_fatal_on_quit_and_on_garbage(router: RouterSimulator):
    """Given a logged-in connection
    When it sends /quit, or another sends a reserved length byte
    Then the router answers !fatal and closes."""
    api = connect(router)
    with pytest.raises(FatalError, match="session terminated on request"):
        list(api("/quit"))
    raw = Raw(router)
    raw.sock.sendall(b"\xf8")
    assert raw.sentence()[0] == "!fatal"


def test_down_refuses_and_drops_then_recovers(router: RouterSimulator):
    """Given an open session
    When the router goes down
    Then new connections are refused and the open one is closed; back up, logins work again."""
    api = connect(router)
    router.set_faults(down=True)
    with pytest.raises(ConnectionRefusedError):
        connect(router)
    with pytest.raises((ConnectionClosed, ConnectionError)):
        list(api.path("system", "resource"))
    router.set_faults(down=False)
    [resource] = connect(router).path("system", "resource")
    assert resource["version"].startswith("7.")


def test_slow_router_times_the_client_out(router: RouterSimulator):
    """Given a router that answers after 1.5 s
    When librouteros waits at most 0.5 s
    Then the client times out (TimeoutError)."""
    router.set_faults(slow=1.5)
    with pytest.raises(TimeoutError):
        librouteros.connect(router.host, "muda", PASSWORD, port=router.port, timeout=0.5)


def test_trap_on_add_and_the_control_channel(router: RouterSimulator):
    """Given the control channel of the simulator
    When a test switches trap_on_add on over HTTP
    Then adds trap with that message, /state shows the switch and the rows, /reset clears both."""
    control = SimulatorControl(router.control_url)
    api = connect(router)
    api.path("ip", "hotspot", "user").add(name="keep", password="x")
    control.faults(trap_on_add="failure: simulated")
    with pytest.raises(TrapError, match="failure: simulated"):
        api.path("ip", "hotspot", "user").add(name="x", password="x")
    state = control.state()
    assert state["faults"]["trap_on_add"] == "failure: simulated"
    assert [u["name"] for u in state["menus"]["/ip/hotspot/user"]] == ["keep"]
    control.reset()
    assert control.state()["menus"]["/ip/hotspot/user"] == []
    assert control.state()["faults"]["trap_on_add"] is None


def test_active_login_makes_a_session_and_a_cookie(router: RouterSimulator):
    """Given a hotspot user
    When the API logs a device in with the wrong password, then the right one
    Then the first traps; the second makes an active session and a MAC cookie for it."""
    api = connect(router)
    api.path("ip", "hotspot", "user").add(name="u", password="pw")
    login = {"user": "u", "ip": "10.5.50.9", "mac-address": "AA:BB:CC:00:00:01"}
    with pytest.raises(TrapError, match="invalid username or password"):
        list(api("/ip/hotspot/active/login", password="bad", **login))
    list(api("/ip/hotspot/active/login", password="pw", **login))
    [active] = api.path("ip", "hotspot", "active")
    [cookie] = api.path("ip", "hotspot", "cookie")
    assert (active["user"], active["address"], cookie["mac-address"]) == (
        "u",
        "10.5.50.9",
        "AA:BB:CC:00:00:01",
    )


def test_api_ssl_with_its_certificate():
    """Given the simulator serving API-SSL with a self-signed certificate
    When librouteros connects through TLS trusting that certificate
    Then the session works; without trusting it, the handshake fails."""
    import ssl

    with RouterSimulator(username="muda", password=PASSWORD, tls=True) as secure:
        trusted = ssl.create_default_context(cafile=secure.ca_file)
        api = librouteros.connect(
            secure.host,
            "muda",
            PASSWORD,
            port=secure.port,
            timeout=3,
            ssl_wrapper=lambda sock: trusted.wrap_socket(sock, server_hostname=secure.host),
        )
        assert list(api.path("system", "identity")) == [{"name": "muda-sim"}]
        untrusted = ssl.create_default_context()
        with pytest.raises(ssl.SSLCertVerificationError):
            librouteros.connect(
                secure.host,
                "muda",
                PASSWORD,
                port=secure.port,
                timeout=3,
                ssl_wrapper=lambda sock: untrusted.wrap_socket(sock, server_hostname=secure.host),
            )
