"""The audit trail (R21–R24).

context.py     who is acting (``system_actor``)        signals.py   history hooks → ledger
chain.py       canonical form and hashes (pure)         registry.py  history tables, snapshots
ledger.py      append an entry under the chain lock     verify.py    ``verify_chain()``
log.py         ``audit_records(**filters)``, items       export.py    streamed CSV / JSONL
offline.py     check an exported file without Django    timetravel.py ``release_gate_as_of``
"""
