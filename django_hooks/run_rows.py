"""The rows every sync writes, as fixed SQL statements: its SyncRun (started, then finished), its audit
rows and the update of an AccountLink.

A single-person sync writes these same few rows each time. Building them through the ORM (query
objects, compilers, model instances) cost about 2 ms of CPU per statement on a loaded 2-core machine,
against 0.3 ms for the statement itself: most of the Django side of a sync. Here each statement is
built once per connection and field list and then only executed. Values still go through each field's
``get_db_prep_save``, so every backend (PostgreSQL, the demo's SQLite) stores what the ORM would, and
table and column names come from the models' ``_meta``, quoted by the connection (never spelled here).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Callable, Iterator, Mapping, Sequence

from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.db.models import Model
from django.utils import timezone

from django_hooks.models import AccountLink, SyncOperation, SyncRun

__all__ = ["insert_run", "finish_run", "insert_operations", "update_link", "group_names", "user_with_link",
           "user_link_groups", "users_links_groups", "update_many", "save_link_rows",
           "accounts_held", "delete_holds", "FINISH_FIELDS", "one_statement", "can_hold_writes", "on_written",
           "NotOneStatement", "delete_run", "write_returning"]

#: What finishing a run writes (the rest was written when it started).
FINISH_FIELDS = ("status", "counts", "summary", "error", "progress_total", "progress_done", "finished_at")
_RUN_START_FIELDS = ("kind", "scope", "dry_run", "force", "status", "progress_done", "progress_total", "counts",
                     "summary", "triggered_by", "error", "started_at", "finished_at")
_OPERATION_FIELDS = ("run", "user_key", "username", "operation", "target", "outcome", "error", "at")


def _connection(model: type[Model]) -> Any:
    return connections[router.db_for_write(model)]


class NotOneStatement(Exception):
    """Something inside `one_statement` needed a statement of its own: nothing was written; do it the usual way."""


class _Held(threading.local):
    alias: str | None = None
    writes: list[tuple[str, list[Any]]]
    written: list[Callable[[], Any]]
    rows_to: tuple[int, Callable[[list[Any]], Any]] | None = None  # (index of the write, who gets its rows)


_held = _Held()


@contextmanager
def one_statement(model: type[Model]) -> Iterator[None]:
    """Hold the writes of this module made inside the block (the run's audit rows, its finish, the holds it
    drops, the link) and send them, when it ends, as one statement: data-modifying WITH clauses on
    PostgreSQL, which commit or roll back together as a transaction would, without the BEGIN and COMMIT
    and a round trip per row written. Use it outside a transaction, where `can_hold_writes` says so.

    Anything else that would reach the database inside the block raises `NotOneStatement` there (it might
    depend on what is held), and then nothing held is written: the caller does the same work again the
    usual way, in a transaction. Callbacks given to `on_written` run once the statement has succeeded."""
    connection = _connection(model)
    if _held.alias is not None:
        raise NotOneStatement("already holding writes")

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        raise NotOneStatement(sql[:120])

    _held.alias, _held.writes, _held.written, _held.rows_to = connection.alias, [], [], None
    try:
        with connection.execute_wrapper(refuse):
            yield
        writes, written, rows_to = _held.writes, _held.written, _held.rows_to
    finally:
        _held.alias = None
    if rows_to is not None and rows_to[0] != len(writes) - 1:
        raise NotOneStatement("a write whose rows are wanted is not the last one")  # nothing written yet
    if writes:
        *withs, (main, params) = writes
        sql = main
        if withs:
            held = ", ".join(f"w{i} AS ({w})" for i, (w, _) in enumerate(withs))
            # a main statement with WITH clauses of its own (save_link_rows) continues the list
            sql = f"WITH {held}, {main[5:]}" if main.startswith("WITH ") else f"WITH {held} {main}"
            params = [p for _, ps in withs for p in ps] + params
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if rows_to is not None:
                rows_to[1](cursor.fetchall())
    for callback in written:
        callback()


def can_hold_writes(model: type[Model]) -> bool:
    """Can `one_statement` be used now: PostgreSQL, outside a transaction, not holding already."""
    connection = _connection(model)
    return connection.vendor == "postgresql" and not connection.in_atomic_block and _held.alias is None


def on_written(callback: Callable[[], Any], model: type[Model]) -> None:
    """Run `callback` once what was just written is durable: after `one_statement`'s statement, else on commit."""
    if _held.alias is not None:
        _held.written.append(callback)
    else:
        transaction.on_commit(callback, using=router.db_for_write(model))


def write_returning(model: type[Model], sql: str, params: list[Any], rows_to: Callable[[list[Any]], Any]) -> None:
    """A write whose RETURNING rows `rows_to` gets once they are durable: inside `one_statement` it is held
    as the statement's last part (anything written after it makes the block write nothing, NotOneStatement),
    else executed now and its rows handed over at commit (never, when the transaction rolls back)."""
    connection = _connection(model)
    if _held.alias == connection.alias:
        _held.writes.append((sql, params))
        _held.rows_to = (len(_held.writes) - 1, rows_to)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    on_written(lambda: rows_to(rows), model)


def _write(connection: Any, sql: str, params: list[Any]) -> bool:
    """Execute a write, or hold it when `one_statement` holds this connection's writes. True when held."""
    if _held.alias == connection.alias:
        _held.writes.append((sql, params))
        return True
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return False


def _prep(model: type[Model], connection: Any, values: Mapping[str, Any]) -> list[Any]:
    return [model._meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]


@lru_cache(maxsize=64)
def _insert_sql(alias: str, vendor: str, model: type[Model], names: tuple[str, ...], rows: int, returning: bool) -> str:
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(n).column) for n in names)
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([one] * rows)}"
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return sql


@lru_cache(maxsize=64)
def _update_sql(alias: str, vendor: str, model: type[Model], names: tuple[str, ...], where: str, subquery: str | None) -> str:
    """UPDATE ... SET names WHERE where = %s; `subquery` names a field set from the user's row (see update_link)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    sets = [f"{quote(model._meta.get_field(n).column)} = %s" for n in names]
    if subquery is not None:
        User = get_user_model()
        sets.append(f"{quote(model._meta.get_field(subquery).column)} = (SELECT {quote(User._meta.pk.column)} "
                    f"FROM {quote(User._meta.db_table)} WHERE {quote(User._meta.pk.column)} = %s)")
    return (f"UPDATE {quote(model._meta.db_table)} SET {', '.join(sets)} "
            f"WHERE {quote(model._meta.get_field(where).column)} = %s")


def insert_run(**fields: Any) -> SyncRun:
    """A new SyncRun (status running), saved, as the instance the ORM's ``create`` would return."""
    run = SyncRun(**fields)
    run.started_at = timezone.now()  # what auto_now_add would set
    values = {name: getattr(run, name) for name in _RUN_START_FIELDS}
    connection = _connection(SyncRun)
    returning = bool(connection.features.can_return_columns_from_insert)
    sql = _insert_sql(connection.alias, connection.vendor, SyncRun, tuple(values), 1, returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, _prep(SyncRun, connection, values))
        if returning:
            pk = cursor.fetchone()[0]
        else:
            pk = connection.ops.last_insert_id(cursor, SyncRun._meta.db_table, SyncRun._meta.pk.column)
    run.pk = pk
    run._state.adding = False
    run._state.db = connection.alias
    return run


def finish_run(run: SyncRun) -> None:
    """Write the outcome fields of a run (FINISH_FIELDS) in one UPDATE."""
    connection = _connection(SyncRun)
    values = {name: getattr(run, name) for name in FINISH_FIELDS}
    _write(connection, _update_sql(connection.alias, connection.vendor, SyncRun, FINISH_FIELDS, "id", None),
           [*_prep(SyncRun, connection, values), run.pk])


@lru_cache(maxsize=8)
def _delete_run_sql(alias: str, vendor: str) -> tuple[str, int]:
    """What the ORM's delete of a run does, as fixed statements: its audit rows go with it (CASCADE), the
    ledger entries and holds naming it keep their row and lose the reference (SET_NULL)."""
    from django_hooks.models import DestructiveSpend, HeldSync

    quote = connections[alias].ops.quote_name
    run_column = lambda model: quote(model._meta.get_field("run").column)  # noqa: E731
    parts = [f"DELETE FROM {quote(SyncOperation._meta.db_table)} WHERE {run_column(SyncOperation)} = %s"]
    parts += [f"UPDATE {quote(m._meta.db_table)} SET {run_column(m)} = NULL WHERE {run_column(m)} = %s"
              for m in (DestructiveSpend, HeldSync)]
    parts.append(f"DELETE FROM {quote(SyncRun._meta.db_table)} WHERE {quote(SyncRun._meta.pk.column)} = %s")
    return "; ".join(parts), len(parts)


def delete_run(pk: int) -> None:
    """Delete a run row as the ORM would (SyncRun has no delete signal receivers): its audit rows, and the
    references to it of the safety window's ledger and holds. Fixed statements (held by `one_statement`)."""
    connection = _connection(SyncRun)
    sql, parts = _delete_run_sql(connection.alias, connection.vendor)
    for part in sql.split("; "):
        _write(connection, part, [pk])


def insert_operations(rows: Sequence[Mapping[str, Any]]) -> None:
    """Audit rows (``run_id``, ``user_key``, ``username``, ``operation``, ``target``, ``outcome``, ``error``),
    stamped now, in as few INSERTs as the backend's parameter limit allows."""
    if not rows:
        return
    connection = _connection(SyncOperation)
    now = timezone.now()
    fields = [SyncOperation._meta.get_field(n) for n in _OPERATION_FIELDS]
    # Each value straight from the row by the field's attribute name (``run_id``): no model instance per row.
    if connection.vendor == "postgresql" and len(rows) > 1:
        # One array per column: the statement is the same for any number of rows (psycopg parses a long
        # VALUES list of placeholders afresh on every call, more CPU than the insert).
        for i in range(0, len(rows), _UPDATE_MANY_CHUNK):
            chunk = rows[i:i + _UPDATE_MANY_CHUNK]
            columns = [[f.get_db_prep_save(now if f.attname == "at" else row[f.attname], connection) for row in chunk]
                       for f in fields]
            _write(connection, _insert_arrays_sql(connection.alias, connection.vendor, SyncOperation, _OPERATION_FIELDS),
                   columns)
        return
    batch = max(1, min(len(rows), connection.ops.bulk_batch_size(fields, rows) or len(rows), 500))
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        params: list[Any] = []
        for row in chunk:
            params += [f.get_db_prep_save(now if f.attname == "at" else row[f.attname], connection) for f in fields]
        _write(connection, _insert_sql(connection.alias, connection.vendor, SyncOperation, _OPERATION_FIELDS, len(chunk),
                                       False), params)


@lru_cache(maxsize=16)
def _insert_arrays_sql(alias: str, vendor: str, model: type[Model], names: tuple[str, ...]) -> str:
    """INSERT rows given as one array parameter per column (PostgreSQL's unnest)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(n) for n in names]
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    return (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"SELECT * FROM unnest({arrays})")


def update_link(user_key: str, values: Mapping[str, Any], user_pk: Any, *, create: bool = False) -> bool | None:
    """UPDATE the AccountLink of `user_key` with `values`, its user reference taken by a subquery from the
    user's row (so a user deleted meanwhile leaves it empty). False when there is no such link yet.

    Inside `one_statement` the write is held and None returned: then `create` makes it an upsert that
    creates a missing link as the ORM's ``create`` would (the fields' defaults for the rest), else a link
    that is not there stays missing."""
    connection = _connection(AccountLink)
    User = get_user_model()
    names = tuple(values)
    user = User._meta.pk.get_db_prep_value(user_pk, connection)
    key = AccountLink._meta.get_field("user_key").get_db_prep_save(user_key, connection)
    if _held.alias == connection.alias:
        if not create:
            _write(connection, _update_sql(connection.alias, connection.vendor, AccountLink, names, "user_key", "user"),
                   [*_prep(AccountLink, connection, values), user, key])
            return None
        now = timezone.now()
        rest = {f.name: (now if f.name == "created_at" else f.get_default()) for f in AccountLink._meta.concrete_fields
                if f.name not in values and f.name not in ("id", "user_key", "user")}
        _write(connection, _upsert_link_sql(connection.alias, connection.vendor, User, names, tuple(rest)),
               [key, user, *_prep(AccountLink, connection, values), *_prep(AccountLink, connection, rest)])
        return None
    sql = _update_sql(connection.alias, connection.vendor, AccountLink, names, "user_key", "user")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_prep(AccountLink, connection, values), user, key])
        return cursor.rowcount > 0


@lru_cache(maxsize=64)
def _upsert_link_sql(alias: str, vendor: str, user_model: type[Model], names: tuple[str, ...], rest: tuple[str, ...]) -> str:
    """INSERT a link (user key, user by subquery, `names`, then `rest` at their defaults) or, where its user
    key has one, UPDATE that one's `names` and user reference (PostgreSQL)."""
    quote = connections[alias].ops.quote_name
    meta = AccountLink._meta
    column = lambda name: quote(meta.get_field(name).column)  # noqa: E731
    user_pk = quote(user_model._meta.pk.column)
    columns = [column("user_key"), column("user")] + [column(n) for n in names + rest]
    values = ["%s", f"(SELECT {user_pk} FROM {quote(user_model._meta.db_table)} WHERE {user_pk} = %s)"]
    values += ["%s"] * len(names + rest)
    sets = ", ".join(f"{column(n)} = EXCLUDED.{column(n)}" for n in (*names, "user"))
    return (f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) VALUES ({', '.join(values)}) "
            f"ON CONFLICT ({column('user_key')}) DO UPDATE SET {sets}")


def _group_name_column(user_model: type[Model]) -> str | None:
    """The name column of the user model's standard ``groups`` many-to-many, or None without one."""
    try:
        field = user_model._meta.get_field("groups")
    except Exception:
        return None
    if not getattr(field, "many_to_many", False):
        return None
    try:
        return field.related_model._meta.get_field("name").column
    except Exception:
        return None


def group_names(user: Any) -> list[str] | None:
    """The names of the user's Django groups in one plain query, or None when the user model has no
    standard ``groups`` many-to-many (the caller then asks the ORM)."""
    name_column = _group_name_column(type(user))
    if name_column is None or user.pk is None:
        return None
    group = type(user)._meta.get_field("groups").related_model
    connection = connections[router.db_for_read(group)]
    sql = _groups_sql(connection.alias, connection.vendor, type(user), name_column)
    with connection.cursor() as cursor:
        cursor.execute(sql, [type(user)._meta.pk.get_db_prep_value(user.pk, connection)])
        return [row[0] for row in cursor.fetchall()]


@lru_cache(maxsize=8)
def _groups_sql(alias: str, vendor: str, user_model: type[Model], name_column: str, user_ref: str = "%s") -> str:
    """The user's group names, ordered; `user_ref` is what the user's id is compared with (a parameter, or
    the outer query's column when this is a subquery)."""
    quote = connections[alias].ops.quote_name
    field = user_model._meta.get_field("groups")
    through = field.remote_field.through._meta
    group = field.related_model._meta
    return (f"SELECT g.{quote(name_column)} FROM {quote(group.db_table)} g "
            f"JOIN {quote(through.db_table)} t ON t.{quote(field.m2m_reverse_name())} = g.{quote(group.pk.column)} "
            f"WHERE t.{quote(field.m2m_column_name())} = {user_ref} ORDER BY g.{quote(name_column)}")


@lru_cache(maxsize=16)
def _converters(alias: str, vendor: str, model: type[Model], fields: tuple[Any, ...]) -> tuple[tuple[Any, tuple[Any, ...]], ...]:
    """Per field: its column expression and the database converters the ORM's compiler would apply to it
    (JSON, SQLite's datetimes and decimals, ...), looked up once per process."""
    connection = connections[alias]
    out = []
    for field in fields:
        expression = field.get_col(model._meta.db_table)
        out.append((expression, tuple(connection.ops.get_db_converters(expression) + expression.get_db_converters(connection))))
    return tuple(out)


def _from_row(model: type[Model], alias: str, connection: Any, fields: tuple[Any, ...], values: Sequence[Any]) -> Model:
    """A model instance from a row, its values passed through each field's database converters."""
    converted = []
    for (expression, converters), value in zip(_converters(alias, connection.vendor, model, fields), values):
        for convert in converters:
            value = convert(value, expression, connection)
        converted.append(value)
    return model.from_db(alias, [f.attname for f in fields], converted)


@lru_cache(maxsize=8)
def _user_link_sql(alias: str, vendor: str, user_model: type[Model],
                   groups: bool = False, many: bool = False) -> tuple[str, tuple[Any, ...], tuple[Any, ...]]:
    """The user-with-link SELECT; with `groups` (PostgreSQL) its last column is the user's group names,
    an ARRAY subquery, so the person is one round trip instead of two. With `many` (PostgreSQL) it reads
    the users whose pk is in an array parameter (a batch pass), else the one user of a parameter."""
    quote = connections[alias].ops.quote_name
    user_fields = tuple(user_model._meta.concrete_fields)
    link_fields = tuple(AccountLink._meta.concrete_fields)
    columns = [f"u.{quote(f.column)}" for f in user_fields] + [f"l.{quote(f.column)}" for f in link_fields]
    user_pk = quote(user_model._meta.pk.column)
    if groups:
        name_column = _group_name_column(user_model)
        assert name_column is not None
        columns.append(f"ARRAY({_groups_sql(alias, vendor, user_model, name_column, f'u.{user_pk}')})")
    sql = (f"SELECT {', '.join(columns)} FROM {quote(user_model._meta.db_table)} u "
           f"LEFT JOIN {quote(AccountLink._meta.db_table)} l ON l.{quote(AccountLink._meta.get_field('user').column)} "
           f"= u.{user_pk} WHERE u.{user_pk} " + ("= ANY(%s)" if many else "= %s"))
    return sql, user_fields, link_fields


def user_with_link(user_pk: Any) -> tuple[Any, AccountLink | None] | None:
    """The site user with this pk and the AccountLink bound to it (None when it has none), in one plain
    query: what ``select_related("rocketchat_link")`` reads, without building the query each time. None when
    there is no such user; NotImplemented for a user model this cannot read alone (multi-table
    inheritance): the caller then asks the ORM."""
    found = _read_user(user_pk, groups=False)
    return found if found is None or found is NotImplemented else found[:2]


def user_link_groups(user_pk: Any) -> tuple[Any, AccountLink | None, list[str] | None] | None:
    """`user_with_link` and the user's group names (`group_names`) in the same statement where the
    database can (PostgreSQL: an ARRAY subquery); the names are None elsewhere, or when the user model
    has no standard ``groups`` (the caller then reads them on their own)."""
    return _read_user(user_pk, groups=True)


def _read_user(user_pk: Any, *, groups: bool) -> Any:
    User = get_user_model()
    if User._meta.parents:
        return NotImplemented
    connection = connections[router.db_for_read(User)]
    groups = groups and connection.vendor == "postgresql" and _group_name_column(User) is not None
    if groups and router.db_for_read(User._meta.get_field("groups").related_model) != connection.alias:
        groups = False  # the groups live in another database: read them on their own
    sql, user_fields, link_fields = _user_link_sql(connection.alias, connection.vendor, User, groups)
    with connection.cursor() as cursor:
        cursor.execute(sql, [User._meta.pk.get_db_prep_value(user_pk, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(user_fields)
    user = _from_row(User, connection.alias, connection, user_fields, row[:split])
    link = None
    if row[split + link_fields.index(AccountLink._meta.pk)] is not None:
        link = _from_row(AccountLink, connection.alias, connection, link_fields, row[split:split + len(link_fields)])
    return user, link, (list(row[-1]) if groups else None)


def users_links_groups(user_pks: Sequence[Any]) -> list[tuple[Any, AccountLink | None, list[str]]] | None:
    """`user_link_groups` for many users in one statement (a batch pass: what ``prefetch_related("groups")``
    and a read of their links cost in three ORM queries): (user, link bound to it or None, group names)
    per user found, in no particular order. None where this cannot be one plain statement (not
    PostgreSQL, a user model without standard groups or with multi-table inheritance, the groups in
    another database): the caller then asks the ORM."""
    User = get_user_model()
    if User._meta.parents:
        return None
    if not user_pks:
        return []
    connection = connections[router.db_for_read(User)]
    if (connection.vendor != "postgresql" or _group_name_column(User) is None
            or router.db_for_read(User._meta.get_field("groups").related_model) != connection.alias):
        return None
    sql, user_fields, link_fields = _user_link_sql(connection.alias, connection.vendor, User, True, True)
    pk = User._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(sql, [[pk.get_db_prep_value(value, connection) for value in user_pks]])
        rows = cursor.fetchall()
    split = len(user_fields)
    link_pk = split + link_fields.index(AccountLink._meta.pk)
    out = []
    for row in rows:
        user = _from_row(User, connection.alias, connection, user_fields, row[:split])
        link = None
        if row[link_pk] is not None:
            link = _from_row(AccountLink, connection.alias, connection, link_fields, row[split:split + len(link_fields)])
        out.append((user, link, list(row[-1])))
    return out


def _in_list(vendor: str, n: int) -> str:
    """What follows ``column`` for "is one of n parameters": one array parameter on PostgreSQL (the same
    statement text for any n; psycopg parses a new or long text's placeholders afresh), else a list."""
    return "= ANY(%s)" if vendor == "postgresql" else f"IN ({', '.join(['%s'] * n)})"


def _in_params(vendor: str, values: Sequence[Any]) -> list[Any]:
    return [list(values)] if vendor == "postgresql" else list(values)


@lru_cache(maxsize=64)
def _held_sql(alias: str, vendor: str, ids: int) -> str:
    quote = connections[alias].ops.quote_name
    rc_user_id = quote(AccountLink._meta.get_field("rc_user_id").column)
    return (f"SELECT {rc_user_id}, {quote(AccountLink._meta.get_field('user_key').column)} "
            f"FROM {quote(AccountLink._meta.db_table)} WHERE {rc_user_id} <> '' AND {rc_user_id} "
            f"{_in_list(vendor, ids)} ORDER BY {quote(AccountLink._meta.get_field('created_at').column)} DESC, "
            f"{quote(AccountLink._meta.pk.column)} DESC")


def accounts_held(account_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(account id, user key) of the AccountLinks holding these accounts, oldest last: the query of
    ``links.claimed_by_others`` for a targeted sync's few accounts, as one fixed statement."""
    if not account_ids:
        return []
    connection = connections[router.db_for_read(AccountLink)]
    with connection.cursor() as cursor:
        n = 0 if connection.vendor == "postgresql" else len(account_ids)  # one text for any number on PostgreSQL
        cursor.execute(_held_sql(connection.alias, connection.vendor, n), _in_params(connection.vendor, account_ids))
        return [(rc_id, key) for rc_id, key in cursor.fetchall()]


@lru_cache(maxsize=64)
def _delete_holds_sql(alias: str, vendor: str, keys: int) -> str:
    from django_hooks.models import HeldSync

    quote = connections[alias].ops.quote_name
    return (f"DELETE FROM {quote(HeldSync._meta.db_table)} WHERE "
            f"{quote(HeldSync._meta.get_field('user_key').column)} {_in_list(vendor, keys)}")


def delete_holds(user_keys: Sequence[str]) -> None:
    """Delete the HeldSync rows of these people in one statement (nothing refers to a hold, and no signal
    listens to its deletion, so the ORM's delete would send exactly this)."""
    from django_hooks.models import HeldSync

    if not user_keys:
        return
    connection = connections[router.db_for_write(HeldSync)]
    pg = connection.vendor == "postgresql"
    _write(connection, _delete_holds_sql(connection.alias, connection.vendor, 0 if pg else len(user_keys)),
           _in_params(connection.vendor, user_keys))


_UPDATE_MANY_CHUNK = 500

#: What `save_link_rows` writes: `_LINK_SET` always, `_LINK_KEEP` where the row's value is not None (None keeps
#: the stored one), and the user reference from the user's row.
_LINK_SET = ("status", "last_error", "updated_at")
_LINK_KEEP = ("site_username", "rc_user_id", "rc_username", "created_by_bridge", "last_synced_at")


@lru_cache(maxsize=8)
def _save_links_sql(alias: str, vendor: str, user_model: type[Model]) -> str:
    """Update the links that exist and create the missing ones (where the row says `create_`), in one
    statement: the rows come as one array parameter per column (unnest), so its text is the same for any
    number of them (psycopg parses a new or long text's placeholders afresh, more CPU than the writes).
    The parameters after the arrays: the defaults of the `_LINK_KEEP` fields, then the creation time."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = AccountLink._meta
    column = lambda name: quote(meta.get_field(name).column)  # noqa: E731
    names = _LINK_SET + _LINK_KEEP
    casts = [meta.get_field("user_key").db_type(connection), meta.get_field("user").db_type(connection), "boolean"]
    casts += [meta.get_field(n).db_type(connection) for n in names]
    arrays = ", ".join(f"%s::{cast}[]" for cast in casts)
    columns = ["key_", "user_", "create_"] + [f"v{i}" for i in range(len(names))]
    user_pk = quote(user_model._meta.pk.column)
    user_ref = f"(SELECT s.{user_pk} FROM {quote(user_model._meta.db_table)} s WHERE s.{user_pk} = v.user_)"
    sets = [f"{column(n)} = v.v{i}" if n in _LINK_SET else f"{column(n)} = COALESCE(v.v{i}, t.{column(n)})"
            for i, n in enumerate(names)]
    sets.append(f"{column('user')} = {user_ref}")
    casts_of = dict(zip(names, casts[3:]))
    created = [f"v.v{i}" if n in _LINK_SET else f"COALESCE(v.v{i}, %s::{casts_of[n]})" for i, n in enumerate(names)]
    inserted = ["user_key", "user", *names]
    return (f"WITH v AS (SELECT * FROM unnest({arrays}) AS v({', '.join(columns)})), "
            f"updated AS (UPDATE {quote(meta.db_table)} AS t SET {', '.join(sets)} FROM v "
            f"WHERE t.{column('user_key')} = v.key_ RETURNING t.{column('user_key')}) "
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(column(n) for n in inserted)}, {column('created_at')}) "
            f"SELECT v.key_, {user_ref}, {', '.join(created)}, %s FROM v "
            f"WHERE v.create_ AND v.key_ NOT IN (SELECT {column('user_key')} FROM updated) "
            f"ON CONFLICT ({column('user_key')}) DO UPDATE SET "
            + ", ".join(f"{column(n)} = EXCLUDED.{column(n)}" for n in inserted[1:]))


def save_link_rows(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Store many people's AccountLinks, each row its own values (``user_key``; ``user``: the user's pk or
    None; ``create``: whether a missing link is made; the fields of `_LINK_SET`, and of `_LINK_KEEP` where
    None keeps the stored value), in one fixed statement per 500 rows on PostgreSQL (held by
    `one_statement`): what reading the links and their users, updating them and creating the missing ones
    through the ORM cost in four or more. The user reference is taken by a subquery from the user's row (a
    user deleted meanwhile leaves it empty), as `update_link` does; a new link gets the fields' defaults
    where a row says None, and a link made concurrently under the same key is overwritten, as the ORM's
    ``bulk_create(update_conflicts=True)`` did. False where not PostgreSQL (nothing written)."""
    connection = _connection(AccountLink)
    if connection.vendor != "postgresql":
        return False
    User = get_user_model()
    meta = AccountLink._meta
    fields = [meta.get_field(n) for n in _LINK_SET + _LINK_KEEP]
    key_field, user_pk = meta.get_field("user_key"), User._meta.pk
    defaults = [f.get_db_prep_save(f.get_default(), connection) for f in fields if f.name in _LINK_KEEP]
    sql = _save_links_sql(connection.alias, connection.vendor, User)
    now = timezone.now()
    for i in range(0, len(rows), _UPDATE_MANY_CHUNK):
        chunk = rows[i:i + _UPDATE_MANY_CHUNK]
        params: list[Any] = [[key_field.get_db_prep_save(row["user_key"], connection) for row in chunk],
                             [None if row["user"] is None else user_pk.get_db_prep_value(row["user"], connection)
                              for row in chunk],
                             [bool(row["create"]) for row in chunk]]
        params += [[None if row[f.name] is None else f.get_db_prep_save(row[f.name], connection) for row in chunk]
                   for f in fields]
        _write(connection, sql, [*params, *defaults, meta.get_field("created_at").get_db_prep_save(now, connection)])
    return True


@lru_cache(maxsize=64)
def _update_many_sql(alias: str, vendor: str, model: type[Model], names: tuple[str, ...], rows: int) -> str:
    """UPDATE model SET each field from a VALUES list, matched by primary key (PostgreSQL). Every value is
    cast to its column's type: a VALUES list of parameters is otherwise text."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    pk = model._meta.pk
    fields = [model._meta.get_field(n) for n in names]
    casts = [pk.db_type(connection)] + [f.db_type(connection) for f in fields]
    one = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    columns = ["pk_"] + [f"v{i}" for i in range(len(fields))]
    sets = ", ".join(f"{quote(f.column)} = v.v{i}" for i, f in enumerate(fields))
    return (f"UPDATE {quote(model._meta.db_table)} AS t SET {sets} FROM (VALUES {', '.join([one] * rows)}) "
            f"AS v({', '.join(columns)}) WHERE t.{quote(pk.column)} = v.pk_")


def update_many(model: type[Model], objs: Sequence[Model], names: Sequence[str]) -> None:
    """Write fields `names` of these saved instances, each row its own values: what the ORM's
    ``bulk_update`` does, in one fixed statement per 500 rows on PostgreSQL. ``bulk_update`` builds a
    CASE WHEN per field and row: a batch pass's links cost more CPU to build than the pass's own engine
    work. Other databases keep ``bulk_update``."""
    if not objs:
        return
    connection = _connection(model)
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, list(names), batch_size=_UPDATE_MANY_CHUNK)
        return
    names = tuple(names)
    fields = [model._meta.get_field(n) for n in names]
    pk = model._meta.pk
    with connection.cursor() as cursor:
        for i in range(0, len(objs), _UPDATE_MANY_CHUNK):
            chunk = objs[i:i + _UPDATE_MANY_CHUNK]
            params: list[Any] = []
            for obj in chunk:
                params.append(pk.get_db_prep_value(obj.pk, connection))
                params += [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            cursor.execute(_update_many_sql(connection.alias, connection.vendor, model, names, len(chunk)), params)
