"""The console's actions: each defined once in ``registry``, its handler beside its kind
(``instances``, ``nodes``, ``events``, ``backfills``); bindings, palette, help, footer
hints and the read-only refusal are all made from the registry."""
