"""Local stack hooks of the payments domain (registered in its Domain, chalicelib.core.registry).

- ``provision()``: the local Daraja credentials and callback path token (generated on first run
  under ``.cache/local/``) into Secrets Manager, where the API reads them as it would in AWS;
- ``start(stack)``: the Daraja simulator (``infra.local.daraja``) as its own process, the API's
  Daraja base URL and callback base URL pointed at it / at the API, and the shortcode's C2B
  validation and confirmation URLs registered with it (as ``muda payments register-c2b`` does
  with Daraja at deploy).
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = ROOT / ".cache" / "local" / "hotspot-daraja.json"
SHORTCODE = "174379"  # Safaricom's public sandbox shortcode
DEMO_PORT = 18080


def daraja_config() -> dict[str, str]:
    """The local stack's Daraja keys and callback token: generated once, kept out of the repository."""
    if not CONFIG_FILE.exists():
        CONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
        CONFIG_FILE.touch(mode=0o600)
        CONFIG_FILE.write_text(
            json.dumps(
                {
                    "consumer_key": secrets.token_urlsafe(18),
                    "consumer_secret": secrets.token_urlsafe(24),
                    "passkey": secrets.token_hex(32),
                    "callback_token": secrets.token_urlsafe(30),
                    "security_credential": secrets.token_urlsafe(32),
                }
            )
        )
    config = json.loads(CONFIG_FILE.read_text())
    if "security_credential" not in config:  # B2C's initiator credential, added since
        config["security_credential"] = secrets.token_urlsafe(32)
        CONFIG_FILE.write_text(json.dumps(config))
    return config


def provision() -> None:
    from chalicelib.core import secrets
    from chalicelib.payments.settings import payments_settings

    secrets.write(payments_settings().daraja_secret, daraja_config())


def start(stack: Any) -> None:
    from infra.local.stack import wait_until

    daraja_config()
    port = stack.port(DEMO_PORT)
    delay = stack.env.get("MUDA_LOCAL_DARAJA_DELAY_SECONDS", "3")
    stack._spawn(
        "daraja",
        [
            sys.executable,
            "-m",
            "infra.local.daraja",
            "--port",
            str(port),
            "--delay",
            delay,
            "--shortcode",
            SHORTCODE,
            "--config",
            str(CONFIG_FILE),
        ],
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        stack.check_alive("daraja")
        try:
            return requests.get(f"{url}/health", timeout=0.5).ok
        except requests.RequestException:
            return False

    wait_until(up, "Daraja simulator", 30)
    stack.env.update(
        {
            "MUDA_PAYMENTS_DARAJA_BASE_URL": url,
            "MUDA_PAYMENTS_DARAJA_SHORTCODE": SHORTCODE,
            "MUDA_PAYMENTS_CALLBACK_BASE_URL": stack.api_url,
            "MUDA_PAYMENTS_CALLBACK_IP_CHECK": "off",  # callbacks come from loopback here
            "MUDA_LOCAL_DARAJA_URL": url,
        }
    )
    register_c2b(url, stack.api_url)


def register_c2b(daraja_url: str, api_url: str) -> None:
    """The shortcode's C2B URLs on the simulator, behind the callback path secret."""
    config = daraja_config()
    token = requests.get(
        f"{daraja_url}/oauth/v1/generate?grant_type=client_credentials",
        auth=(config["consumer_key"], config["consumer_secret"]),
        timeout=10,
    ).json()["access_token"]
    base = f"{api_url}/mpesa/c2b"
    requests.post(
        f"{daraja_url}/mpesa/c2b/v1/registerurl",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "ShortCode": SHORTCODE,
            "ResponseType": "Cancelled",
            "ValidationURL": f"{base}/validation/{config['callback_token']}",
            "ConfirmationURL": f"{base}/confirmation/{config['callback_token']}",
        },
        timeout=10,
    ).raise_for_status()
