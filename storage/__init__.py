"""Storage: every table of the shared database, behind one dialect.

The connection lives in a worker process (`storage/worker.py`); `storage.db.Database`
is its async face. Every table module (`credits`, `loras`, `trainings`, …) follows
the same naming rule:

1. **Public functions are async and take the `Database` first**:
   `async def name(db: Database, ...)`. They return dataclasses of their module (or
   plain `int`/`bool`/`str`/`None`, or lists/tuples of those), never dicts or `Row`s.
   This is all a service (`bot/services/**`) may call: services hold a `Database`,
   never a `Connection`, and never write SQL.
2. **A function that runs inside the database process is named `in_db_<name>`**: module
   level (the worker pickles it by reference), `Connection` first, e.g.
   `in_db_reserve(conn, ...)` behind `async def reserve(db, ...)`. It is called only by
   its own module's async functions (through `db.run` / `db.transaction`) or by another
   storage module's `in_db_*` function that composes it into a larger unit, e.g.
   `trainings.in_db_record_submitted` calls `credits.in_db_consume` and
   `in_db_insert_pending` in one transaction. An `in_db_*` function that another one may
   compose never opens a transaction of its own; one that opens `conn.transaction()` is
   run alone through `db.run`.
3. **Connection-taking helpers**: a helper used only inside its module stays private
   (`_rows(conn, ...)`, `_anchor(conn, ...)` in `keyset`); one that other modules'
   `in_db_*` functions call is public and named `in_db_*` too
   (`keyset.in_db_read_window`, `keyset.in_db_count`, `loras.in_db_get`).
   Pure helpers without a connection (row converters such as `loras.to_lora`, query
   builders such as `loras.gallery_query`) follow ordinary Python naming.
4. **A multi-table atomic unit is one named storage function** (`payments.claim`,
   `trainings.record_submitted`, `link_challenges.consume_and_link`): callers never
   assemble transactions themselves. A storage-level failure of such a unit is an
   exception of the storage module (`credits.CreditGone`); services translate it into
   the user-facing error.
5. **Times** are stored in one format, written and read only through `storage.timefmt`
   (`iso`, `parse_time`, `stored`, `utc_now`; `Clock` / `utc_clock` for services).

Exempt, as infrastructure: `connection.py`, `db.py`, `worker.py` and `pipe.py` (the
worker protocol; `connection.op_execute`/`op_fetchone`/`op_fetchall`/`op_in_transaction` are
the `Database`'s own primitives behind `db.execute`/`fetchone`/`fetchall`/`transaction`,
not table functions, so they keep their `op_` names and are used by `db.py` alone),
`migrate.py` (schema migrations, run once at start) and `hrana_http.py` (the client the
worker runs for remote URLs).
"""
