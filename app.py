"""Muda: the Chalice app. Registers the blueprints every product declares; nothing else."""

from chalice import Chalice

from chalicelib.core import registry

app = Chalice(app_name="muda")
app.experimental_feature_flags.update(["WEBSOCKETS"])  # the live feed (chalicelib/live)
for blueprint in registry.blueprints():
    app.register_blueprint(blueprint)
