"""Operations: what an operator sees and does (queues, failed jobs, timers, self-test probes)."""
