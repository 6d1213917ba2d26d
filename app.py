"""Muda: the Chalice app. Creates the app and registers each domain's blueprint; nothing else."""

from chalice import Chalice

from chalicelib.core import api as core_api
from chalicelib.core import handlers as core_handlers
from chalicelib.ops import api as ops_api
from chalicelib.ops import handlers as ops_handlers

app = Chalice(app_name="muda")
app.register_blueprint(core_api.api.blueprint)
app.register_blueprint(core_handlers.blueprint)
app.register_blueprint(ops_api.api.blueprint)
app.register_blueprint(ops_handlers.blueprint)
