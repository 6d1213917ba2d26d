"""Test helpers shared by every tier (one of each): races, queues, SQS events, due work, ids.

- ``races.race``: run callables at once behind a barrier; each result or the exception it raised.
- ``queues``: ``drain`` a queue, read what moto holds (delayed messages included), ``sqs_event``.
- ``due.DueWork``: run what is due by the frozen clock, in process, through the app's handlers.
- ``stack.Stack``: the template deployed once on in-process moto, and a signing key.
- ``ids.unique``: a fresh id per test, so tests sharing a stack never meet.
- ``polling.eventually``: poll with a deadline (live stacks).
- ``calls.counted``: every AWS call a block makes, by ``service:Operation`` (call-count tests).
"""
