"""Beat sweeps as use cases: reconcile lost work, expire human tasks (spec-format §7.4), time out
runs past their deadline (§8.10) and prune by the retention windows.

Each sweep first lists candidate ids, then the shell handles every id in its own short
transaction through one of the use cases here. A use case re-selects its rows with their
conditions under ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and changes them only when the
conditions still hold, so two beats (or a sweep racing a resume or a cancel) never process a
row twice and never wait on each other: a row that is busy is left to the next pass. On SQLite
the single writer serialises transactions and the re-check alone is enough.

Lock order is run → task, the order ``cancel_run`` uses; the sweep never waits for a lock, so
it cannot deadlock with a resume (task → run) either. Use cases take a session, never commit.
"""
