"""The notifications tier shares the consult tier's module-scoped stage, API client and users."""

from tests.integration.consult.conftest import api, ids, quiet_timers, stage, token, users  # noqa: F401
