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
- ``print``/``getall`` (``count-only``), ``add``, ``set``, ``remove`` on ``/ip/hotspot/user``
  (with its ``comment``: Muda's users carry ``muda …``, hand-made ones anything else),
  ``/ip/hotspot/user/profile`` (no ``comment``, as on RouterOS); ``print``/``remove`` on
  ``/ip/hotspot/active`` and ``/ip/hotspot/cookie`` (rows with ``user`` and ``mac-address``);
  ``/ip/hotspot/active/login`` (user, password, ip, mac-address: an active session plus a MAC
  cookie, as a hotspot login makes); ``/system/resource/print``,
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

Modules: ``wire`` (the protocol), ``state`` (menus, faults, queries), ``commands`` (what a
session serves), ``server`` (``RouterSimulator``), ``control`` (the HTTP control channel and
``SimulatorControl``).

Run: ``python -m infra.local.routeros --port 8728 --username muda --password SECRET
[--control-port 8780] [--tls]``.
"""

from __future__ import annotations

from infra.local.routeros.control import SimulatorControl
from infra.local.routeros.server import RouterSimulator
from infra.local.routeros.state import Faults, RouterState
from infra.local.routeros.wire import encode_length, encode_sentence, encode_word

__all__ = [
    "Faults",
    "RouterSimulator",
    "RouterState",
    "SimulatorControl",
    "encode_length",
    "encode_sentence",
    "encode_word",
]
