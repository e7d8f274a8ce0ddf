"""An adversarial run against opscenter, as figures: ``python -m bench.adversarial``.

Four sections, each on real ``opscenter`` processes, a real SQLite store and real HTTP on
127.0.0.1, in a temporary folder that is removed at the end (Ctrl-C included):

- ``kills``: SIGKILL the scheduler at random moments of a large backfill, mid
  ``rerun --downstream``, with nodes that spawn children; check the store's invariants
  with SQL after each kill and each recovery.
- ``concurrency``: a scheduler, two consoles in ptys and two CLI loops on one store for
  some minutes; count "database is locked", tracebacks, and actions against audit rows.
- ``fuzz``: seeded random inputs to four surfaces (workspace YAML, scheduling parameters,
  the CLI, the DataWorks emulator); count tracebacks, undocumented exit codes and 5xx.
- ``faults``: outside faults against real processes, each with a verdict and a reason.

It prints figures, not pass/fail: the issue that asked for it (18) wants them re-run and
reported as its holes are closed. See bench/README.md.
"""
