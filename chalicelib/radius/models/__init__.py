"""The RADIUS domain's items (``items``) and their reads and conditional writes (``sessions``)."""
