"""The hotspot's data: ``items`` (the items and their keys) and one module per aggregate for its
reads and conditional writes: ``catalog`` (routers, packages), ``payments``, ``receipts``,
``subscriptions`` (with the buyer's user and current pointer), ``callbacks`` (refused ones)."""
