"""What the provisioner does on a router, through librouteros: one API session per router and batch.

Every change is an upsert or a remove of what is found by name (``print ?name=`` first): a
command that runs twice leaves the router as one run would. ``.id``s are looked up, never
stored (they change when a router reboots). Only Muda's rows are written or removed: users whose
comment starts with ``muda `` and profiles named ``muda-…`` (``logic.owned_user``/``owned_profile``);
the operator's own rows of the same name raise ``Conflict`` instead.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import librouteros
from librouteros.exceptions import TrapError
from librouteros.query import Key

from .logic import PROFILE_PREFIX, Command, Conflict, Profile, RouterLoginRefused, owned_profile, owned_user

API_SSL_PORT = 8729
USERS = ("ip", "hotspot", "user")
PROFILES = ("ip", "hotspot", "user", "profile")
ACTIVE = ("ip", "hotspot", "active")
COOKIES = ("ip", "hotspot", "cookie")


@dataclass
class Router:
    """A router record of the hotspot table (the contract with the payments side)."""

    router_id: str
    name: str
    host: str
    port: int
    username: str
    password_secret: str
    status: str = "unknown"
    api_ssl: bool | None = None  # optional record field; absent: API-SSL on port 8729 only
    mode: str = "api"  # radius: no user pushes, Disconnect-Requests instead (radius.py)
    coa_port: int | None = None
    radius_secret: str | None = None  # Secrets Manager id of its RADIUS secret

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Router:
        return cls(
            router_id=item["router_id"],
            name=item.get("name", item["router_id"]),
            host=item["host"],
            port=int(item.get("port", 8728)),
            username=item["username"],
            password_secret=item["password_secret"],
            status=item.get("status", "unknown"),
            api_ssl=item.get("api_ssl"),
            mode=item.get("mode", "api"),
            coa_port=item.get("coa_port"),
            radius_secret=item.get("radius_secret"),
        )

    @property
    def where(self) -> str:
        return f"{self.router_id} ({self.host}:{self.port})"

    @property
    def tls(self) -> bool:
        """API-SSL when the record says so, else by RouterOS's ports (8729 TLS, 8728 plain)."""
        return self.port == API_SSL_PORT if self.api_ssl is None else bool(self.api_ssl)


@dataclass
class Session:
    """A logged-in API connection that counts its round trips (one sentence out, its reply in)."""

    api: Any
    round_trips: int = 1  # the login
    log: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, router: Router, password: str, timeout: float, ca_file: str | None = None) -> Session:
        wrapper = None
        if router.tls:
            context = ssl.create_default_context(cafile=ca_file)
            wrapper = lambda sock: context.wrap_socket(sock, server_hostname=router.host)  # noqa: E731
        try:
            api = librouteros.connect(
                router.host, router.username, password, port=router.port, timeout=timeout, ssl_wrapper=wrapper
            )
        except TrapError as error:
            raise RouterLoginRefused(str(error)) from None
        return cls(api)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()

    def _count(self, what: str) -> None:
        self.round_trips += 1
        self.log.append(what)

    def find(self, path: tuple[str, ...], *where: Any, keys: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        self._count(f"{'/'.join(path)}/print")
        query = self.api.path(*path).select(*(Key(k) for k in keys))
        return list(query.where(*where) if where else query)

    def add(self, path: tuple[str, ...], **attrs: str) -> str:
        self._count(f"{'/'.join(path)}/add")
        return self.api.path(*path).add(**attrs)

    def set(self, path: tuple[str, ...], item: str, **attrs: str) -> None:
        self._count(f"{'/'.join(path)}/set")
        self.api.path(*path).update(**{".id": item, **attrs})

    def remove(self, path: tuple[str, ...], ids: list[str]) -> None:
        if ids:
            self._count(f"{'/'.join(path)}/remove")
            self.api.path(*path).remove(*ids)

    def call(self, command: str, **attrs: str) -> list[dict[str, Any]]:
        self._count(command)
        return list(self.api(command, **attrs))

    # --- the hotspot's objects ---

    def upsert(
        self,
        path: tuple[str, ...],
        name: str,
        attrs: dict[str, str],
        owned: Callable[[dict[str, Any]], bool] = lambda row: True,
        found: list[dict[str, Any]] | None = None,
    ) -> str:
        """Make the row named ``name`` carry ``attrs``: ``set`` when it exists (only if anything
        differs), else ``add``; an ``add`` that loses a race to a twin becomes a ``set`` — unless
        the row found is not ``owned`` (the operator's): then ``Conflict``, and nothing is written.
        ``found``: the row(s) a caller has just printed (saves a round trip)."""
        keys = (".id", *attrs)
        for _ in range(2):
            if found is None:
                found = self.find(path, Key("name") == name, keys=keys)
            if found:
                row = found[0]
                if not owned(row):
                    raise _not_ours(name, row)
                if any(_text(row.get(k)) != v for k, v in attrs.items()):
                    self.set(path, str(row[".id"]), **attrs)
                return "updated"
            try:
                self.add(path, name=name, **attrs)
                return "added"
            except TrapError as error:
                if "already have" not in str(error):
                    raise
                found = None  # a twin was added meanwhile: look at it (it may be the operator's)
        raise RuntimeError(f"{'/'.join(path)} {name!r} neither found nor added")

    def ensure_profile(self, profile: Profile) -> str:
        """Upsert the package's profile; only ``muda-…`` names are written (a profile has no
        comment to tag: the name is Muda's mark), never ``default`` or the operator's."""
        if not owned_profile(profile.name):
            raise Conflict(
                "user profile", profile.name, f"Muda writes only profiles named '{PROFILE_PREFIX}<package>'"
            )
        return self.upsert(PROFILES, profile.name, profile.attributes())

    def provision(self, command: Command) -> dict[str, Any]:
        """The user is looked up first: when it is the operator's, ``Conflict`` before anything is
        written. Then profile, user, the moved-from device's sessions and cookies, and, when the
        portal gave the device's IP and MAC, its login. A refused login is reported, not raised:
        the user exists and the portal's auto-login form logs the device in anyway."""
        assert command.profile is not None
        attrs = command.user_attributes()
        user = self.find(USERS, Key("name") == command.username, keys=(".id", *attrs))
        if user and not owned_user(user[0]):
            raise _not_ours(command.username, user[0])
        outcome: dict[str, Any] = {"profile": self.ensure_profile(command.profile)}
        outcome["user"] = self.upsert(USERS, command.username, attrs, owned_user, user)
        if command.moves:  # before the login: with one shared user, the old session would block it
            outcome["moved_from"] = self.log_out_devices(command.username, command.stale_device)
        if command.logs_in:
            try:
                self.call(
                    "/ip/hotspot/active/login",
                    user=command.username,
                    password=command.password or "",
                    ip=command.ip or "",
                    **{"mac-address": command.mac or ""},
                )
                outcome["login"] = "done"
            except TrapError as error:
                outcome["login"] = f"refused: {error}"
        return outcome

    def log_out_devices(self, username: str, stale: Callable[[dict[str, Any]], bool]) -> dict[str, int]:
        """Remove the user's MAC cookies, then its active sessions, of the devices ``stale``
        picks (cookies first, or a kicked device logs straight back in by its cookie)."""
        return {
            "cookies": self._remove_where(COOKIES, "user", username, stale),
            "active": self._remove_where(ACTIVE, "user", username, stale),
        }

    def deprovision(self, username: str) -> dict[str, Any]:
        """Remove the user, then its MAC cookies (or the device logs straight back in), then kick
        its active sessions; a row another run removed meanwhile is not an error. A user of that
        name that is the operator's is left alone, with its cookies and sessions."""
        users = self.find(USERS, Key("name") == username, keys=(".id", "comment"))
        if any(not owned_user(row) for row in users):
            return {"left_alone": "the operator's user (not Muda's comment)"}
        return {
            "users": self._remove_where(USERS, "name", username, owned_user, users),
            "cookies": self._remove_where(COOKIES, "user", username),
            "active": self._remove_where(ACTIVE, "user", username),
        }

    def _remove_where(
        self,
        path: tuple[str, ...],
        key: str,
        value: str,
        keep: Callable[[dict[str, Any]], bool] = lambda row: True,
        found: list[dict[str, Any]] | None = None,
    ) -> int:
        """Remove the rows whose ``key`` is ``value`` and that ``keep`` picks; how many went. A
        row removed by another run meanwhile (``no such item``) means: look again, once."""
        for _ in range(2):
            if found is None:
                found = self.find(
                    path, Key(key) == value, keys=(".id", "comment" if path == USERS else "mac-address")
                )
            ids = [str(r[".id"]) for r in found if keep(r)]
            try:
                self.remove(path, ids)
            except TrapError as error:
                if "no such item" not in str(error):
                    raise
                found = None
                continue
            return len(ids)
        return 0

    def health(self) -> dict[str, Any]:
        [resource] = self.call("/system/resource/print")
        return {"version": str(resource.get("version", "")), "uptime": str(resource.get("uptime", ""))}


def _not_ours(name: str, row: dict[str, Any]) -> Conflict:
    """The conflict a hotspot user of the command's name that is the operator's raises."""
    comment = _text(row.get("comment"))
    comment = comment if len(comment) <= 60 else comment[:59] + "…"
    return Conflict(
        "user", name, f"its comment is {comment!r}, not Muda's 'muda …'" if comment else "it has no comment"
    )


def _text(value: Any) -> str:
    """A value as RouterOS sent it: librouteros turns ``yes``/``true`` into bools and digits into ints."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)
