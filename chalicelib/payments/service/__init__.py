"""Payment use cases, one module per flow: ``stk`` (PIN prompt, callback, what a buyer sees),
``settlement`` (a result applied once, the grant and its follow-ups), ``recovery`` (the periodic
STK query of pushes with no result), ``worker`` (the queue's retries)."""
