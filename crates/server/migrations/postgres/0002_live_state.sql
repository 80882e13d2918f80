-- Banter schema v2 (PostgreSQL): live conversation state. Mirrors
-- migrations/sqlite/0002_live_state.sql; `emoji` uses the "C" collation, as sorted keys do in
-- 0001_init.sql, so emoji tie-breaks order as in SQLite.

ALTER TABLE users ADD COLUMN last_seen_at bigint;           -- Unix ms the user last went offline

ALTER TABLE members ADD COLUMN delivered_seq bigint NOT NULL DEFAULT 0;   -- >= read_seq

ALTER TABLE messages ADD COLUMN edited_at bigint;
ALTER TABLE messages ADD COLUMN deleted_at bigint;          -- set: body is '' (a tombstone)
ALTER TABLE messages ADD COLUMN reply_to uuid;              -- a message of the same channel

-- Who a message mentions (`@username` of a member at send time).
CREATE TABLE mentions (
    channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    PRIMARY KEY (user_id, channel_id, seq)
);

CREATE INDEX mentions_channel_seq ON mentions (channel_id, seq);

-- One row per (message, user, emoji); `seq` copies the message's for range reads.
CREATE TABLE reactions (
    message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      text COLLATE "C" NOT NULL,                -- ordered by bytes, as in SQLite
    channel_id uuid NOT NULL,
    seq        bigint NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX reactions_channel_seq ON reactions (channel_id, seq);
