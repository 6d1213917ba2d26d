"""The commands a session serves: login (plain and legacy MD5), print/getall, add, set, remove,
the hotspot's active login, system resource and identity."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from infra.local.routeros.state import ACTIVE, COOKIES, PROFILES, USERS, VERSION, Menu, Trap, matches
from infra.local.routeros.wire import Sentence

if TYPE_CHECKING:
    from infra.local.routeros.server import RouterSimulator


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


def _trap(message: str, category: int) -> Sentence:
    return ["!trap", f"=category={category}", f"=message={message}"]
