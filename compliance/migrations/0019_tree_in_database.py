"""R33 on PostgreSQL: the database adds each ledger entry's Merkle leaf, and the subtrees it
completes, in the INSERT that appends the entry (issue 18: a write with history + chain +
tree within 2x the write without history).

A row trigger on ``compliance_auditrecord`` computes, with PostgreSQL's ``sha256()``,

    leaf = SHA-256(0x00 || decode(hash, 'hex'))          node = SHA-256(0x01 || left || right)

and inserts the leaf and one node per trailing 1 bit of the leaf index, reading each left
sibling by primary key: the same nodes ``compliance.audit.tree.append_leaf`` writes from
Python (still the path on SQLite), without its two round trips (tests/test_audit_tree_sql.py
proves the nodes and roots equal for every size 1..300). It runs inside the appending
statement, so under the chain lock, and a rolled-back entry takes its nodes with it. A tree
behind the ledger (a database restored without its nodes) catches up first, in seq order, as
``append_leaf`` did. An entry whose leaf is already stored adds nothing. The functions run as
the inserting role (no SECURITY DEFINER): the runtime role's SELECT, INSERT on the two tables
is all they need, and they can only add rows the append-only triggers allow."""

from django.db import migrations

ADD_LEAF = "clearance_tree_add_leaf"
TRIGGER = "clearance_tree_follow_ledger"
LEVEL_SHIFT = 48  # compliance.models.transparency.LEVEL_SHIFT

ADD_LEAF_SQL = rf"""
CREATE OR REPLACE FUNCTION {ADD_LEAF}(leaf_seq bigint, entry_hash varchar) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    leaf_index bigint := leaf_seq - 1;
    node bytea := sha256('\x00'::bytea || decode(entry_hash, 'hex'));
    node_level integer := 0;
    sibling bytea;
BEGIN
    INSERT INTO compliance_merklenode (key, hash) VALUES (leaf_index, node)
        ON CONFLICT (key) DO NOTHING;
    IF NOT FOUND THEN
        RETURN;  -- already stored, and with it the subtrees it completes
    END IF;
    WHILE ((leaf_index >> node_level) & 1) = 1 LOOP
        SELECT m.hash INTO STRICT sibling FROM compliance_merklenode m
            WHERE m.key = ((node_level::bigint << {LEVEL_SHIFT}) | ((leaf_index >> node_level) - 1));
        node := sha256('\x01'::bytea || sibling || node);
        node_level := node_level + 1;
        INSERT INTO compliance_merklenode (key, hash)
            VALUES (((node_level::bigint << {LEVEL_SHIFT}) | (leaf_index >> node_level)), node);
    END LOOP;
END
$$;
"""

TRIGGER_SQL = rf"""
CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    behind record;
BEGIN
    IF NEW.seq > 1 AND NOT EXISTS (
        SELECT 1 FROM compliance_merklenode m WHERE m.key = NEW.seq - 2
    ) THEN
        FOR behind IN
            SELECT a.seq, a.hash FROM compliance_auditrecord a
            WHERE a.seq < NEW.seq AND a.seq > (
                SELECT coalesce(max(m.key), -1) + 1 FROM compliance_merklenode m
                WHERE m.key < (1::bigint << {LEVEL_SHIFT})
            )
            ORDER BY a.seq
        LOOP
            PERFORM {ADD_LEAF}(behind.seq, behind.hash);
        END LOOP;
    END IF;
    PERFORM {ADD_LEAF}(NEW.seq, NEW.hash);
    RETURN NULL;
END
$$;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite: compliance.audit.tree.append_leaf, from ledger.append
    schema_editor.execute(ADD_LEAF_SQL, params=None)
    schema_editor.execute(TRIGGER_SQL, params=None)
    schema_editor.execute(
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON compliance_auditrecord "
        f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
    )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON compliance_auditrecord")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}()")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {ADD_LEAF}(bigint, varchar)")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0017_user_preferences")]
    operations = [migrations.RunPython(install, uninstall)]
