"""A RouterOS API simulator: the MikroTik router of the local stack and of the tests.

No RouterOS emulator exists in public (librouteros' own tests boot CHR images in QEMU), so this
speaks the API wire protocol itself, just enough of RouterOS for the hotspot:

- words with every length-prefix form (1-5 bytes), sentences ended by an empty word;
- ``/login`` with ``=name=`` and ``=password=`` (RouterOS >= 6.43), and the legacy MD5 challenge
  (``/login`` alone answers ``=ret=<challenge>``, then ``=name=`` + ``=response=``);
- replies ``!re``, ``!done`` (``=ret=*ID`` after ``add``), ``!trap`` (``=category=``,
  ``=message=``, then ``!done``), ``!fatal`` (then the connection closes) and ``!empty``
  (a print with no rows, RouterOS >= 7.18; switchable off to act as an older router);
- API attributes ``.tag`` (echoed on every reply) and ``=.proplist=``; queries ``?name=x``,
  ``?=name=x``, ``?name``, ``?-name``, ``?<name=x``, ``?>name=x`` and the ``?#|&!.`` stack ops;
- ``print``/``getall`` (``count-only``), ``add``, ``set``, ``remove`` on ``/ip/hotspot/user``,
  ``/ip/hotspot/user/profile``; ``print``/``remove`` on ``/ip/hotspot/active`` and
  ``/ip/hotspot/cookie``; ``/ip/hotspot/active/login`` (user, password, ip, mac-address: an
  active session plus a MAC cookie, as a hotspot login makes); ``/system/resource/print``,
  ``/system/identity/print|set``; ``/quit``.

Unknown parameters and commands are refused with a ``!trap`` as RouterOS does, so a client
that sends a misspelt attribute fails here as it would on a router.

Fault switches (``Faults``): ``down`` (connections refused, open ones dropped), ``slow`` (seconds
before every reply), ``refuse_login``, ``trap_on_add`` (a message every ``add`` traps with),
``empty_replies`` (``!empty`` on or off). Tests flip them in-process
(``RouterSimulator.set_faults``); a separately running simulator takes them on its control
channel, a small HTTP server on loopback (``--control-port``):

- ``GET /state``: faults, every menu's rows, open connections, commands served;
- ``POST /faults`` with a JSON object of switches to change (e.g. ``{"down": true}``);
- ``POST /reset``: empty menus (the ``default`` profile stays) and no faults.

``--tls`` (in-process ``tls=True``) serves API-SSL, as a router's 8729 does, with a self-signed
certificate for the host; clients trust ``ca_file``.

Run: ``python -m infra.local.routeros --port 8728 --username muda --password SECRET
[--control-port 8780] [--tls]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import ipaddress
import itertools
import json
import secrets
import shutil
import signal
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

MAX_WORD = 16 << 20  # RouterOS words are short; far longer ones are refused with !fatal
IDENTITY = "muda-sim"
VERSION = "7.18.2 (stable)"

Sentence = list[str]


# ---------------------------------------------------------------- wire protocol


class ProtocolViolation(Exception):
    """The peer sent bytes that are not API words; the session ends with ``!fatal``."""


def encode_length(length: int) -> bytes:
    """The API's length prefix: 1 byte below 0x80, then 2, 3, 4 bytes, else 0xF0 + 4 bytes."""
    if length < 0x80:
        return bytes([length])
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + length.to_bytes(4, "big")


def encode_word(word: str) -> bytes:
    data = word.encode()
    return encode_length(len(data)) + data


def encode_sentence(words: Sentence) -> bytes:
    return b"".join(encode_word(w) for w in words) + b"\x00"


async def read_length(reader: asyncio.StreamReader) -> int:
    first = (await reader.readexactly(1))[0]
    if first < 0x80:
        return first
    if first < 0xC0:
        extra, mask = 1, 0x3F
    elif first < 0xE0:
        extra, mask = 2, 0x1F
    elif first < 0xF0:
        extra, mask = 3, 0x0F
    elif first == 0xF0:
        return int.from_bytes(await reader.readexactly(4), "big")
    else:
        raise ProtocolViolation(f"reserved control byte {first:#x}")
    return int.from_bytes(bytes([first & mask]) + await reader.readexactly(extra), "big")


async def read_sentence(reader: asyncio.StreamReader) -> Sentence:
    words: Sentence = []
    while True:
        length = await read_length(reader)
        if length == 0:
            return words
        if length > MAX_WORD:
            raise ProtocolViolation(f"word of {length} bytes")
        words.append((await reader.readexactly(length)).decode(errors="replace"))


# ---------------------------------------------------------------- state


@dataclass
class Faults:
    """What the simulated router does wrong; every switch off is a healthy router."""

    down: bool = False
    slow: float = 0.0
    refuse_login: bool = False
    trap_on_add: str | None = None
    empty_replies: bool = True

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {sorted(known)}")
            if name == "trap_on_add" and value is True:
                value = "failure: simulated trap on add"
            setattr(self, name, value)


class Trap(Exception):
    """A command's ``!trap``: RouterOS categories 0 (no such item/command), 1 (bad argument),
    4 (general failure), 5 (API failure)."""

    def __init__(self, message: str, category: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


@dataclass
class Menu:
    """One RouterOS menu: its rows by ``.id`` in insertion order and the fields ``add``/``set`` take."""

    path: str
    fields: frozenset[str]
    defaults: dict[str, str] = field(default_factory=dict)
    key: str | None = "name"  # unique among rows
    addable: bool = True
    rows: dict[str, dict[str, str]] = field(default_factory=dict)


USER_FIELDS = frozenset(
    [
        "name",
        "password",
        "profile",
        "mac-address",
        "comment",
        "limit-uptime",
        "limit-bytes-total",
        "limit-bytes-in",
        "limit-bytes-out",
        "disabled",
        "server",
        "address",
        "email",
        "routes",
    ]
)
PROFILE_FIELDS = frozenset(
    [
        "name",
        "rate-limit",
        "shared-users",
        "session-timeout",
        "idle-timeout",
        "keepalive-timeout",
        "status-autorefresh",
        "add-mac-cookie",
        "mac-cookie-timeout",
        "address-pool",
        "transparent-proxy",
        "open-status-page",
        "parent-queue",
        "address-list",
        "incoming-filter",
        "outgoing-filter",
        "on-login",
        "on-logout",
        "advertise",
        "comment",
    ]
)
USERS, PROFILES = "/ip/hotspot/user", "/ip/hotspot/user/profile"
ACTIVE, COOKIES = "/ip/hotspot/active", "/ip/hotspot/cookie"


class RouterState:
    """The router's configuration; commands run under one lock, as RouterOS serialises them."""

    def __init__(self, identity: str = IDENTITY) -> None:
        self.lock = threading.RLock()
        self.identity = identity
        self.booted = time.monotonic()
        self.commands = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._ids = itertools.count(1)
            self.menus = {
                USERS: Menu(
                    USERS,
                    USER_FIELDS,
                    {"profile": "default", "server": "all", "disabled": "false", "uptime": "0s"},
                ),
                PROFILES: Menu(
                    PROFILES,
                    PROFILE_FIELDS,
                    {"shared-users": "1", "add-mac-cookie": "true", "mac-cookie-timeout": "3d"},
                ),
                ACTIVE: Menu(ACTIVE, frozenset(), key=None, addable=False),
                COOKIES: Menu(COOKIES, frozenset(), key=None, addable=False),
            }
            self.menus[PROFILES].rows["*0"] = {".id": "*0", "name": "default", "shared-users": "1"}

    def new_id(self) -> str:
        return f"*{next(self._ids):X}"

    def snapshot(self) -> dict[str, list[dict[str, str]]]:
        with self.lock:
            return {path: [dict(r) for r in menu.rows.values()] for path, menu in self.menus.items()}

    def rows(self, path: str) -> list[dict[str, str]]:
        return self.snapshot()[path]


# ---------------------------------------------------------------- queries


def _compare(value: str | None, other: str, op: str) -> bool:
    if value is None:
        return False
    try:
        a, b = float(value), float(other)
    except ValueError:
        a, b = value, other  # type: ignore[assignment]
    return a < b if op == "<" else a > b


def matches(row: dict[str, str], query: list[str]) -> bool:
    """RouterOS query words evaluated on a stack; what remains is AND-ed (empty: every row)."""
    stack: list[bool] = []
    for word in query:
        body = word[1:]
        if body.startswith("#"):
            for op in body[1:]:
                if op == "!":
                    stack.append(not stack.pop())
                elif op in "|&":
                    right, left = stack.pop(), stack.pop()
                    stack.append(left or right if op == "|" else left and right)
                elif op == ".":
                    stack.append(stack[-1])
                else:
                    raise Trap(f"unsupported query operation {op!r}", 5)
        elif body.startswith(("<", ">")):
            name, _, value = body[1:].partition("=")
            stack.append(_compare(row.get(name), value, body[0]))
        elif body.startswith("-"):
            stack.append(body[1:] not in row)
        else:
            if body.startswith("="):
                body = body[1:]
            name, eq, value = body.partition("=")
            stack.append(row.get(name) == value if eq else name in row)
    return all(stack)


# ---------------------------------------------------------------- commands


@dataclass
class Command:
    word: str
    attrs: dict[str, str]
    api: dict[str, str]  # .tag, .proplist
    query: list[str]

    @classmethod
    def parse(cls, words: Sentence) -> Command:
        attrs: dict[str, str] = {}
        api: dict[str, str] = {}
        query: list[str] = []
        for word in words[1:]:
            if word.startswith("?"):
                query.append(word)
            elif word.startswith(("=.", ".")):
                name, _, value = word.lstrip("=")[1:].partition("=")
                api[name] = value  # .id, .proplist, .tag
            elif word.startswith("="):
                name, _, value = word[1:].partition("=")
                attrs[name] = value
            else:
                raise Trap(f"unknown word {word!r}", 5)
        return cls(words[0], attrs, api, query)


class Session:
    """One API connection: its login state and the replies to its commands."""

    def __init__(self, router: RouterSimulator) -> None:
        self.router = router
        self.state = router.state
        self.logged_in = False
        self.challenge: str | None = None

    def handle(self, words: Sentence) -> tuple[list[Sentence], bool]:
        """The reply sentences to one command, and whether the session ends after them."""
        tag: str | None = None
        try:
            command = Command.parse(words)
            tag = command.api.get("tag")
            if command.word == "/quit":
                return [["!fatal", "session terminated on request"]], True
            if command.word == "/login":
                replies = self.login(command)
            elif not self.logged_in:
                replies = [_trap("not logged in", 5), ["!done"]]
            else:
                with self.state.lock:
                    self.state.commands += 1
                    replies = self.execute(command)
        except Trap as trap:
            replies = [_trap(trap.message, trap.category), ["!done"]]
        if tag is not None:
            replies = [[*r, f".tag={tag}"] for r in replies]
        return replies, False

    # --- login ---

    def login(self, command: Command) -> list[Sentence]:
        attrs = command.attrs
        if "name" not in attrs:  # legacy: hand out a challenge
            self.challenge = secrets.token_hex(16)
            return [["!done", f"=ret={self.challenge}"]]
        name, config = attrs["name"], self.router
        if "response" in attrs and self.challenge:
            digest = hashlib.md5(b"\x00" + config.password.encode() + bytes.fromhex(self.challenge))
            good = attrs["response"] == "00" + digest.hexdigest()
        else:
            good = secrets.compare_digest(attrs.get("password", ""), config.password)
        if self.router.faults.refuse_login or name != config.username or not good:
            return [_trap("invalid user name or password (6)", 1), ["!done"]]
        self.logged_in = True
        return [["!done"]]

    # --- menus ---

    def execute(self, command: Command) -> list[Sentence]:
        path, _, verb = command.word.rpartition("/")
        if command.word == "/system/resource/print":
            return self.print_rows([self.resource()], command)
        if command.word == "/system/identity/print":
            return self.print_rows([{"name": self.state.identity}], command)
        if command.word == "/system/identity/set":
            self.state.identity = command.attrs.get("name", self.state.identity)
            return [["!done"]]
        if command.word == f"{ACTIVE}/login":
            return self.active_login(command.attrs)
        menu = self.state.menus.get(path)
        if menu is None:
            raise Trap("no such command prefix", 0)
        if verb in ("print", "getall"):
            rows = [r for r in menu.rows.values() if matches(r, command.query)]
            if command.attrs.get("count-only") is not None:
                return [["!done", f"=ret={len(rows)}"]]
            return self.print_rows(rows, command)
        if verb == "add" and menu.addable:
            return self.add(menu, command.attrs)
        if verb == "set" and menu.addable:
            return self.set(menu, command)
        if verb == "remove":
            for item in self.resolve(menu, command):
                del menu.rows[item]
            return [["!done"]]
        raise Trap(f"no such command or directory ({verb})", 0)

    def print_rows(self, rows: list[dict[str, str]], command: Command) -> list[Sentence]:
        proplist = [p for p in command.api.get("proplist", "").split(",") if p]
        if not rows:
            return [["!empty"], ["!done"]] if self.router.faults.empty_replies else [["!done"]]
        sentences = []
        for row in rows:
            keys = proplist or list(row)
            sentences.append(["!re", *(f"={k}={row[k]}" for k in keys if k in row)])
        return [*sentences, ["!done"]]

    def check_fields(self, menu: Menu, attrs: dict[str, str]) -> None:
        for name in attrs:
            if name not in menu.fields:
                raise Trap(f"unknown parameter {name}", 1)
        profile = attrs.get("profile")
        if menu.path == USERS and profile is not None and not self.find(PROFILES, name=profile):
            raise Trap("input does not match any value of profile", 1)

    def add(self, menu: Menu, attrs: dict[str, str]) -> list[Sentence]:
        if self.router.faults.trap_on_add:
            raise Trap(self.router.faults.trap_on_add, 4)
        self.check_fields(menu, attrs)
        if menu.key and not attrs.get(menu.key):
            raise Trap(f"failure: {menu.key} must be set", 1)
        if menu.key and self.find(menu.path, **{menu.key: attrs[menu.key]}):
            what = "user" if menu.path == USERS else "item"
            raise Trap(f"failure: already have {what} with this name", 4)
        item = self.state.new_id()
        menu.rows[item] = {".id": item, **menu.defaults, **attrs}
        return [["!done", f"=ret={item}"]]

    def set(self, menu: Menu, command: Command) -> list[Sentence]:
        changes = {k: v for k, v in command.attrs.items() if k != "numbers"}
        self.check_fields(menu, changes)
        items = self.resolve(menu, command)
        if menu.key and menu.key in changes:
            clash = self.find(menu.path, **{menu.key: changes[menu.key]})
            if clash and (len(items) > 1 or clash[0][".id"] != items[0]):
                raise Trap("failure: already have item with this name", 4)
        for item in items:
            menu.rows[item].update(changes)
        return [["!done"]]

    def resolve(self, menu: Menu, command: Command) -> list[str]:
        """The rows ``.id``/``numbers`` name (ids like ``*1A``, or names), all or nothing."""
        given = command.api.get("id") or command.attrs.get("numbers")
        if not given:
            raise Trap("missing value for .id", 1)
        found = []
        for ref in given.split(","):
            if ref in menu.rows:
                found.append(ref)
                continue
            named = [i for i, r in menu.rows.items() if menu.key and r.get(menu.key) == ref]
            if not named:
                raise Trap("no such item", 0)
            found.extend(named)
        return found

    def find(self, path: str, **where: str) -> list[dict[str, str]]:
        rows = self.state.menus[path].rows.values()
        return [r for r in rows if all(r.get(k) == v for k, v in where.items())]

    def active_login(self, attrs: dict[str, str]) -> list[Sentence]:
        """Log a client in as the hotspot would after its login page: an active session and,
        when the profile adds MAC cookies (the default), a cookie for its MAC."""
        for required in ("user", "ip"):
            if not attrs.get(required):
                raise Trap(f"missing value for {required}", 1)
        users = self.find(USERS, name=attrs["user"])
        if not users or users[0].get("password", "") != attrs.get("password", ""):
            raise Trap("invalid username or password", 4)
        user = users[0]
        if user.get("disabled") in ("true", "yes"):
            raise Trap("user is disabled", 4)
        [profile] = self.find(PROFILES, name=user.get("profile", "default")) or [{}]
        mac = attrs.get("mac-address", "")
        active = self.state.menus[ACTIVE].rows
        stale = [
            i for i, r in active.items() if r["address"] == attrs["ip"] or (mac and r["mac-address"] == mac)
        ]
        for item in stale:
            del active[item]  # the device logs in again: its old session goes
        if sum(1 for r in active.values() if r["user"] == user["name"]) >= int(
            profile.get("shared-users", 1)
        ):
            raise Trap(f"no more sessions are allowed for user {user['name']}", 4)
        item = self.state.new_id()
        active[item] = {
            ".id": item,
            "server": "hotspot1",
            "user": user["name"],
            "address": attrs["ip"],
            "mac-address": mac,
            "login-by": "api",
            "uptime": "0s",
            "bytes-in": "0",
            "bytes-out": "0",
        }
        if mac and profile.get("add-mac-cookie", "true") in ("true", "yes"):
            cookies = self.state.menus[COOKIES].rows
            for old in [i for i, r in cookies.items() if r["mac-address"] == mac]:
                del cookies[old]
            cookie = self.state.new_id()
            cookies[cookie] = {
                ".id": cookie,
                "user": user["name"],
                "mac-address": mac,
                "domain": "",
                "expires-in": profile.get("mac-cookie-timeout", "3d"),
            }
        return [["!done"]]

    def resource(self) -> dict[str, str]:
        uptime = int(time.monotonic() - self.state.booted)
        return {
            "uptime": f"{uptime}s",
            "version": VERSION,
            "board-name": "CHR",
            "architecture-name": "x86_64",
            "cpu-load": "1",
            "free-memory": "268435456",
            "total-memory": "536870912",
            "platform": "MikroTik",
        }


def self_signed(host: str) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) and its key for ``host``, as a router's API-SSL would use."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{IDENTITY} {host}")])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _trap(message: str, category: int) -> Sentence:
    return ["!trap", f"=category={category}", f"=message={message}"]


# ---------------------------------------------------------------- the server


class RouterSimulator:
    """The simulated router: an asyncio server on its own thread, plus the control channel.

    In-process: ``with RouterSimulator(password="x") as router: router.port ...``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "admin",
        password: str = "",
        control_port: int | None = None,
        identity: str = IDENTITY,
        tls: bool = False,
    ) -> None:
        self.host, self.port = host, port
        # API-SSL (RouterOS's 8729): a self-signed certificate for ``host``; clients trust ``ca_file``.
        self.ca_file: str | None = None
        self._tls: ssl.SSLContext | None = self._tls_context() if tls else None
        self.username, self.password = username, password
        self.control_port = control_port
        self.state = RouterState(identity)
        self.faults = Faults()
        self.connections = 0  # open now
        self.connections_total = 0  # accepted since start
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="routeros", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._control: ThreadingHTTPServer | None = None

    # --- lifecycle ---

    def start(self) -> RouterSimulator:
        self._thread.start()
        self._call(self._listen())
        if self.control_port is not None:
            self._control = ThreadingHTTPServer((self.host, self.control_port), _control_handler(self))
            self.control_port = self._control.server_address[1]
            threading.Thread(target=self._control.serve_forever, name="routeros-control", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._control:
            self._control.shutdown()
            self._control.server_close()
        if self._thread.is_alive():
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()
        if self.ca_file:
            shutil.rmtree(Path(self.ca_file).parent, ignore_errors=True)

    def __enter__(self) -> RouterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def control_url(self) -> str | None:
        return f"http://{self.host}:{self.control_port}" if self._control else None

    # --- faults ---

    def set_faults(self, **changes: Any) -> Faults:
        """Flip fault switches; ``down`` closes the listener (connections refused) and drops
        open sessions, as a router that lost power or its VPN would."""
        was_down = self.faults.down
        self.faults.update(changes)
        if self.faults.down and not was_down:
            self._call(self._close())
        elif was_down and not self.faults.down:
            self._call(self._listen())
        return self.faults

    def reset(self) -> None:
        self.set_faults(**dataclasses.asdict(Faults()))
        self.state.reset()

    def describe(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "faults": dataclasses.asdict(self.faults),
            "connections": self.connections,
            "commands": self.state.commands,
            "menus": self.state.snapshot(),
        }

    # --- asyncio side ---

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def _tls_context(self) -> ssl.SSLContext:
        cert, key = self_signed(self.host)
        folder = Path(tempfile.mkdtemp(prefix="routeros-sim-"))
        (folder / "cert.pem").write_bytes(cert)
        (folder / "key.pem").write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        (folder / "key.pem").unlink()  # loaded; only the certificate stays, for clients to trust
        self.ca_file = str(folder / "cert.pem")
        return context

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True, ssl=self._tls
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()

    async def _shutdown(self) -> None:
        """Close the listener and every session, and let their tasks finish before the loop stops."""
        await self._close()  # closed transports end their sessions' reads
        sessions = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if sessions:
            _, stuck = await asyncio.wait(sessions, timeout=2)
            for task in stuck:
                task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        self.connections_total += 1
        session = Session(self)
        try:
            while True:
                try:
                    words = await read_sentence(reader)
                except ProtocolViolation as violation:
                    writer.write(encode_sentence(["!fatal", str(violation)]))
                    await writer.drain()
                    return
                if not words:
                    continue  # an empty sentence is a keep-alive
                replies, end = session.handle(words)
                if self.faults.slow:
                    await asyncio.sleep(self.faults.slow)
                writer.write(b"".join(encode_sentence(r) for r in replies))
                await writer.drain()
                if end:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return
        finally:
            self.connections -= 1
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


def _control_handler(router: RouterSimulator) -> type[BaseHTTPRequestHandler]:
    class Control(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path in ("/state", "/"):
                self._reply(200, router.describe())
            else:
                self._reply(404, {"error": "GET /state"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/faults":
                    faults = router.set_faults(**body)
                    self._reply(200, dataclasses.asdict(faults))
                elif self.path == "/reset":
                    router.reset()
                    self._reply(200, router.describe())
                else:
                    self._reply(404, {"error": "POST /faults or /reset"})
            except (ValueError, TypeError) as error:
                self._reply(400, {"error": str(error)})

        def log_message(self, *args: Any) -> None:
            pass

    return Control


class SimulatorControl:
    """Client of a running simulator's control channel (e2e tests, bench)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/state", timeout=5).json()

    def faults(self, **changes: Any) -> dict[str, Any]:
        response = requests.post(f"{self.url}/faults", json=changes, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self) -> dict[str, Any]:
        return requests.post(f"{self.url}/reset", timeout=5).json()

    @contextlib.contextmanager
    def fault(self, **changes: Any) -> Iterator[None]:
        """Faults for the duration of a block."""
        before = self.state()["faults"]
        self.faults(**changes)
        try:
            yield
        finally:
            self.faults(**{k: before[k] for k in changes})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8728)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--control-port", type=int, default=None, help="HTTP control channel (0: any free)")
    parser.add_argument("--identity", default=IDENTITY)
    parser.add_argument("--tls", action="store_true", help="API-SSL with a self-signed certificate")
    args = parser.parse_args()
    router = RouterSimulator(
        args.host, args.port, args.username, args.password, args.control_port, args.identity, args.tls
    ).start()
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    tls = f", TLS, CA {router.ca_file}" if router.ca_file else ""
    print(
        f"routeros simulator ready on {router.host}:{router.port} (control {router.control_url}{tls})",
        flush=True,
    )
    stopped.wait()
    router.stop()


if __name__ == "__main__":
    main()
