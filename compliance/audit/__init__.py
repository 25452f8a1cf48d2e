"""The audit trail (R21–R24).

context.py    who is acting (``system_actor``)      signals.py    history hooks → ledger
chain.py      canonical form and hashes (pure)       registry.py   history tables, snapshots
ledger.py     build an entry, append it under the    backfill.py   chain history written in
              chain lock                                           bulk (``chain_unchained``)
verify.py     ``verify_chain()``: the chain, then    paging.py     keyset pages (newest first)
              every live row against its history                  and chunks (a whole table)
log.py        ``audit_records(**filters)``, items     export.py     streamed CSV / JSONL
offline.py    check an exported file without Django  timetravel.py ``release_gate_as_of``
"""
