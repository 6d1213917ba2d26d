"""The stage deployed once on in-process moto, shared by a whole tier; tests keep apart by ids.

Deploying ``infra/template.yaml`` on moto's CloudFormation takes seconds and an RSA key takes
a moment more, so both are made once (``Stack.up``). A test that truly needs an empty world
(rare; say why where it is used) calls ``Stack.fresh()``, which resets moto and redeploys: it
costs one deploy, and later tests simply find a new, equally shared stack.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

from moto import mock_aws

from chalicelib.core import auth
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from tests.conftest import reload_settings
from tests.support.due import moto_clock

KID = "test-key-1"


@dataclass
class Stack:
    """The deployed stage and the token signing key whose JWKS the API reads from SSM."""

    signing_key: str
    jwks: dict

    @classmethod
    @contextlib.contextmanager
    def up(cls) -> Iterator[Stack]:
        """Start moto (its SQS on the app's clock), deploy the template, publish a signing key."""
        from infra.local import provision

        # The template is read (YAML) on every deploy; it does not change during a session.
        parsed = functools.cache(provision.load_template)
        with (
            mock_aws(),
            moto_clock(),
            mock.patch.object(provision, "load_template", lambda: copy.deepcopy(parsed())),
        ):
            reload_settings()
            private_pem, jwks = auth.generate_key_pair(KID)
            stack = cls(private_pem, jwks)
            stack.deploy()
            try:
                yield stack
            finally:
                reload_settings()

    def deploy(self) -> None:
        from infra.local import provision

        provision.deploy_stack()
        self.publish_key()

    def publish_key(self) -> None:
        """The JWKS where the API reads it; a test that rotates keys calls it to put this back."""
        client("ssm").put_parameter(
            Name=get_settings().auth_jwks_parameter,
            Value=json.dumps(self.jwks),
            Type="String",
            Overwrite=True,
        )
        auth.keys.clear()

    def fresh(self) -> None:
        """Reset every moto backend and deploy again: an empty world, for the rare test that
        must count everything there is."""
        from moto.core.base_backend import BackendDict

        BackendDict.reset()
        # Same names, same (moto-intercepted) endpoints: the cached clients stay valid, and
        # building them again would cost most of the reset.
        self.deploy()
