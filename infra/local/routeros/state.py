"""The simulated router's state: its menus and rows, its fault switches, and API queries."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

IDENTITY = "muda-sim"
VERSION = "7.18.2 (stable)"


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
    ]
)  # no comment: RouterOS's hotspot user profiles have none (a print lists no comment field)
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
