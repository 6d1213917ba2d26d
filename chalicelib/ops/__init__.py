"""Operations: what an operator sees and does (queues, failed jobs, timers, self-test probes)."""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain("ops", modules=("chalicelib.ops.api", "chalicelib.ops.console_api", "chalicelib.ops.handlers"))
)
