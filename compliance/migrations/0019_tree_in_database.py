"""R33 on PostgreSQL: the database adds each ledger entry's Merkle leaf, and the subtrees it
completes, in the INSERT that appends the entry (issue 18: a write with history + chain +
tree within 2x the write without history).

A row trigger on ``compliance_auditrecord`` computes, with PostgreSQL's ``sha256()``,

    leaf = SHA-256(0x00 || decode(hash, 'hex'))          node = SHA-256(0x01 || left || right)

and inserts the leaf and one node per trailing 1 bit of the leaf index, after one read of the
left siblings by primary key: the same nodes ``compliance.audit.tree.append_leaf`` writes
from Python (still the path on SQLite), without its two round trips (tests/test_audit_tree_sql.py
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

# The common case in two statements: one read (the left siblings, and the previous leaf, which
# proves the tree is not behind) and one INSERT of the leaf and its new subtrees, as
# ``append_leaf`` does. Behind: catch up leaf by leaf with ADD_LEAF, in seq order.
TRIGGER_SQL = rf"""
CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    leaf_index bigint := NEW.seq - 1;
    depth integer := 0;
    wanted bigint[] := ARRAY[NEW.seq - 2];
    found_keys bigint[];
    found_hashes bytea[];
    new_keys bigint[];
    new_hashes bytea[];
    node bytea;
    sibling integer;
    behind record;
BEGIN
    WHILE ((leaf_index >> depth) & 1) = 1 LOOP
        wanted := wanted || ((depth::bigint << {LEVEL_SHIFT}) | ((leaf_index >> depth) - 1));
        depth := depth + 1;
    END LOOP;
    SELECT coalesce(array_agg(m.key), '{{}}'), coalesce(array_agg(m.hash), '{{}}')
        INTO found_keys, found_hashes
        FROM compliance_merklenode m WHERE m.key = ANY (wanted);
    IF leaf_index > 0 AND NOT ((leaf_index - 1) = ANY (found_keys)) THEN
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
        PERFORM {ADD_LEAF}(NEW.seq, NEW.hash);
        RETURN NULL;
    END IF;
    node := sha256('\x00'::bytea || decode(NEW.hash, 'hex'));
    new_keys := ARRAY[leaf_index];
    new_hashes := ARRAY[node];
    FOR d IN 0 .. depth - 1 LOOP
        sibling := array_position(found_keys, wanted[d + 2]);
        IF sibling IS NULL THEN
            RAISE EXCEPTION 'Merkle node % missing below leaf %', wanted[d + 2], leaf_index;
        END IF;
        node := sha256('\x01'::bytea || found_hashes[sibling] || node);
        new_keys := new_keys || (((d + 1)::bigint << {LEVEL_SHIFT}) | (leaf_index >> (d + 1)));
        new_hashes := new_hashes || node;
    END LOOP;
    -- An entry whose leaf is stored already (rows of one INSERT fired out of seq order after
    -- a catch-up) has its subtrees stored too, with these very hashes: nothing to add.
    INSERT INTO compliance_merklenode (key, hash)
        SELECT k, h FROM unnest(new_keys, new_hashes) AS u(k, h)
        ON CONFLICT (key) DO NOTHING;
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
