"""The entitlement stream (R27): an async Server-Sent Events view under ASGI, fed by one
per-process hub that hears commits across processes (PostgreSQL LISTEN/NOTIFY, or polling
on SQLite). No thread and no database connection per subscriber."""
