"""Classes: scheduled sessions that run themselves."""
