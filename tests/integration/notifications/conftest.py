"""The notifications tier shares the consult tier's module-scoped stage, API client and users."""

from tests.integration.consult.conftest import ids, stage, token, users  # noqa: F401
