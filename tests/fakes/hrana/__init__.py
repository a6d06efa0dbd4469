"""A local Hrana 3 server over HTTP on 127.0.0.1, on top of SQLite: what the official
`libsql` Python SDK (0.1.11, Rust crate 0.9.22) speaks to Turso and to sqld.

What that client sends (logged against this server, and read in its source):
- nothing at `libsql.connect(url)`; the first statement opens a stream;
- per statement `POST /v3/pipeline` `describe` (the column list decides whether it is a
  query), then either `POST /v3/pipeline` `[batch, get_autocommit, close]` (no columns;
  `close` is left out inside a transaction) or `POST /v3/cursor` (it has columns:
  SELECT, PRAGMA, RETURNING). A stream is one SQLite connection; it lives while the
  client carries its baton, so `BEGIN IMMEDIATE … COMMIT` spans several HTTP requests;
- embedded replicas (`libsql.connect(path, sync_url=…)`) use Turso's sync protocol:
  `GET /info`, `GET /export/{generation}` (the database file), `GET
  /sync/{generation}/{first}/{end}` (WAL frames); writes and transactions go through
  `/v3/pipeline` and `/v3/cursor` as above. sqld does not serve `/info` or `/export`.

Here every stream is its own SQLite connection to one WAL-mode file whose checkpoints are
off, so the main file stays the export of generation 1 and the WAL holds its frames.
Batons rotate on every answer and are single use; idle streams expire (and roll back).
Tests make it misbehave with `Fault`s: Hrana errors, HTTP errors, malformed JSON, a
connection dropped before or after the work is done, a delay.
"""

from tests.fakes.hrana.server import Fault, HranaServer, Recorded

__all__ = ["Fault", "HranaServer", "Recorded"]
