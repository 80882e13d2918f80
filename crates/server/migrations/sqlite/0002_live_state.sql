-- Banter schema v2 (SQLite): live conversation state. Receipt watermarks per member, last
-- seen per user, edits, deletes (tombstones), replies, mentions and reactions.

ALTER TABLE users ADD COLUMN last_seen_at INTEGER;          -- Unix ms the user last went offline

ALTER TABLE members ADD COLUMN delivered_seq INTEGER NOT NULL DEFAULT 0;  -- >= read_seq

ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;         -- set: body is '' (a tombstone)
ALTER TABLE messages ADD COLUMN reply_to BLOB;              -- a message of the same channel

-- Who a message mentions (`@username` of a member at send time).
CREATE TABLE mentions (
    channel_id BLOB NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel_id, seq)
) WITHOUT ROWID;

CREATE INDEX mentions_channel_seq ON mentions (channel_id, seq);

-- One row per (message, user, emoji); `seq` copies the message's for range reads.
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
