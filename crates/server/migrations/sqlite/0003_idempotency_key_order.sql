-- The idempotency key's unique index leads with client_id instead of sender_id. Clients make
-- time-ordered keys (UUIDv7: the SDK, the CLI and the web client), so a new key lands at the
-- right edge of the index, and a commit of many senders' messages changes one leaf page of it
-- instead of one page per sender (the `persist` bench: 13-15 -> 7-8 KiB of log written per message).
-- The uniqueness is the same: one message per (sender, client_id).
--
-- SQLite cannot drop the index of a table constraint, so the table is rebuilt, keeping each
-- row's rowid, and its unique indexes are built after the copy (sorted, not row by row). A
-- migration runs in a transaction, where foreign keys cannot be switched off: dropping a table
-- that another references deletes its rows one by one and cascades (every reaction would go).
-- So reactions, the only table that references messages, are kept aside and dropped first;
-- both tables then drop at once, and reactions come back as they were.
CREATE TABLE messages_rebuilt (
    id         BLOB NOT NULL,
    channel_id BLOB NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    sender_id  BLOB NOT NULL REFERENCES users (id),
    client_id  TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    deleted_at INTEGER,                             -- set: body is '' (a tombstone)
    reply_to   BLOB                                 -- a message of the same channel
);

INSERT INTO messages_rebuilt
    (rowid, id, channel_id, seq, sender_id, client_id, body, created_at, edited_at, deleted_at, reply_to)
SELECT rowid, id, channel_id, seq, sender_id, client_id, body, created_at, edited_at, deleted_at, reply_to
FROM messages ORDER BY rowid;

CREATE TEMP TABLE reactions_kept AS SELECT * FROM reactions;
DROP TABLE reactions;
DROP TABLE messages;
ALTER TABLE messages_rebuilt RENAME TO messages;
CREATE UNIQUE INDEX messages_id ON messages (id);
CREATE UNIQUE INDEX messages_channel_seq ON messages (channel_id, seq);
CREATE UNIQUE INDEX messages_key ON messages (client_id, sender_id);

CREATE TABLE reactions (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    channel_id BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) WITHOUT ROWID;
CREATE INDEX reactions_channel_seq ON reactions (channel_id, seq);
INSERT INTO reactions SELECT * FROM temp.reactions_kept;
DROP TABLE temp.reactions_kept;
