"""Headless verbs over a Backend: what the console shows and does, for scripts.

Every verb prints plain text readable without colour (status glyph + word),
or JSON with ``--json``; a refusal prints the backend's reason and exits 3, an id or
name that is not there exits 4. Tables are cut only to fit a terminal, never a name, and
never when piped or redirected: a script or a file gets every character.

A verb is ``verb(backend, args, options)``: its own arguments (ids, names, ``--json``) on
``args``, the world's options (``--utc``) on ``options``. By job: ``reading`` (nodes,
instances, logs, why, audit), ``acting`` (rerun, set success, stop, freeze, undeploy,
events), ``emergency`` (unblock, priority, move, test-run, run), ``backfills``,
``baselines`` (baselines, events, alerts), ``status`` (the summary); ``output`` is how
all of them print.
"""
