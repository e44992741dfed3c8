"""The application: the service (one unit of work per command), the projection it keeps in the
store, the read models and reports, audit, settings and the demo programme.

service      Service, the faces' front door: the commands plus the read side, on one Context
context      what both sides share: store, clock, compiled workflows, loading an instance
values       what callers give and get back: NewInstance, Recorded, the effective time
commands     the command path (one transaction per command) and every command
receipts     idempotency receipts: stored with the change they answer, replayed, purged
feed         the global event feed: gap-free positions in commit order, scoped, paged
backdating   a fact dated before the last event: decided as things stood then, checked
             against what was recorded after it
creation     starting instances, many in one transaction
pinning      the stored workflow version each instance runs on
sealing      an event, checked, on its instance's hash chain
projection   the deadline rows of an instance, and what an event changes in them
overview     show and status: what the office reads
reports      the views show and log print, as text and JSON
statusview   the overview status prints: a table that fits the terminal, JSON, CSV
csvimport    reading the file `instance import` takes (delimiter, header, rows)
history      the log: reading it, verifying chains, replaying and rebuilding from it
audit        checking one instance's hash chain
outbox       the outbox as the office sees it: list, count, retry
settings     configuration, read once
signin       the pages' sign-in: passwords (argon2), lock-out, server-side sessions, CSRF
demo         the demo programme
"""
