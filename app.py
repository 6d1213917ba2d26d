"""Muda: the Chalice app. Creates the app and registers each domain's blueprint; nothing else."""

from chalice import Chalice

from chalicelib.classes import api as classes_api
from chalicelib.classes import handlers as classes_handlers
from chalicelib.consult import api as consult_api
from chalicelib.consult import handlers as consult_handlers
from chalicelib.core import api as core_api
from chalicelib.core import handlers as core_handlers
from chalicelib.hotspot import api as hotspot_api
from chalicelib.hotspot import handlers as hotspot_handlers
from chalicelib.notifications import api as notifications_api
from chalicelib.notifications import handlers as notifications_handlers
from chalicelib.ops import api as ops_api
from chalicelib.ops import handlers as ops_handlers
from chalicelib.waitroom import api as waitroom_api
from chalicelib.waitroom import handlers as waitroom_handlers

app = Chalice(app_name="muda")
for domain_api, domain_handlers in (
    (core_api, core_handlers),
    (ops_api, ops_handlers),
    (notifications_api, notifications_handlers),
    (consult_api, consult_handlers),
    (hotspot_api, hotspot_handlers),
    (classes_api, classes_handlers),
    (waitroom_api, waitroom_handlers),
):
    app.register_blueprint(domain_api.api.blueprint)
    app.register_blueprint(domain_handlers.blueprint)
