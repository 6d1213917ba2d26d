"""The simulated router's incoming RADIUS (RouterOS ``/radius incoming set accept=yes``): a UDP
listener for RFC 5176 Disconnect-Requests, as the router provisioner sends them to a RADIUS-mode
router at expiry or when the data runs out.

A request is checked as RouterOS does: a wrong Request Authenticator (wrong secret) is dropped
without an answer; a CoA-Request is refused (NAK, Error-Cause 405, *unsupported service*: only
disconnects are simulated). A Disconnect-Request removes the user's sessions from
``/ip/hotspot/active`` (by ``User-Name``; ``Acct-Session-Id``, ``Framed-IP-Address`` or
``Calling-Station-Id`` — the device's MAC, as the hotspot sends it — narrow it) and answers
Disconnect-ACK, or Disconnect-NAK with Error-Cause 503 (*session context not found*) when none
was active. Every request is kept in ``disconnects`` (time, user, mac, result) for tests.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from pyrad import packet

from functions.router_provisioner.radius import SESSION_NOT_FOUND, dictionary

ACTIVE = "/ip/hotspot/active"
UNSUPPORTED_SERVICE = 405


class IncomingRadius:
    """``IncomingRadius(router, host, port, secret).start()``; ``port`` 0 picks a free one."""

    def __init__(self, router: Any, host: str, port: int, secret: str) -> None:
        self.router, self.secret = router, secret.encode()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.disconnects: list[dict[str, Any]] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="routeros-radius", daemon=True)

    def start(self) -> IncomingRadius:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if self.router.faults.down:
                continue  # a router without power answers nothing
            reply = self.answer(data)
            if reply is not None:
                with contextlib.suppress(OSError):
                    self.sock.sendto(reply, peer)

    def answer(self, data: bytes) -> bytes | None:
        """The reply to one datagram (``None``: dropped, as RouterOS drops what it can't trust)."""
        try:
            request = packet.CoAPacket(packet=data, secret=self.secret, dict=dictionary())
        except packet.PacketError:
            return None
        if (
            request.code not in (packet.DisconnectRequest, packet.CoARequest)
            or not request.VerifyCoARequest()
        ):
            return None
        if request.code == packet.CoARequest:
            nak = request.CreateReply()
            nak.code = packet.CoANAK
            nak["Error-Cause"] = UNSUPPORTED_SERVICE
            return nak.ReplyPacket()
        user, mac = _first(request, "User-Name"), _first(request, "Calling-Station-Id")
        removed = self._drop(
            user, _first(request, "Acct-Session-Id"), _first(request, "Framed-IP-Address"), mac
        )
        self.disconnects.append({"at": time.time(), "user": user, "mac": mac, "removed": removed})
        reply = request.CreateReply()
        if not removed:
            reply.code = packet.DisconnectNAK
            reply["Error-Cause"] = SESSION_NOT_FOUND
        return reply.ReplyPacket()

    def _drop(self, user: str | None, session_id: str | None, ip: str | None, mac: str | None = None) -> int:
        """Remove the matching active sessions; how many went."""
        if not user and not session_id:
            return 0
        state = self.router.state
        with state.lock:
            rows = state.menus[ACTIVE].rows
            gone = [
                key
                for key, row in rows.items()
                if (not user or row.get("user") == user)
                and (not session_id or row.get(".id") == session_id or row.get("session-id") == session_id)
                and (not ip or row.get("address") == ip)
                and (not mac or _mac(row.get("mac-address")) == _mac(mac))
            ]
            for key in gone:
                del rows[key]
        return len(gone)


def _mac(value: str | None) -> str:
    """A MAC as RouterOS compares it: case and ``-``/``:`` do not matter."""
    return (value or "").upper().replace("-", ":")


def _first(request: packet.Packet, name: str) -> str | None:
    values = request.get(name)
    return str(values[0]) if values else None
