//! The log-gathering VFS ([`super::gather`]) against real SQLite files: a commit's frames
//! reach the log in one write, other connections (on the default VFS, with their own file
//! descriptors) see each commit as soon as it returns, and spilled, rewritten, rolled-back and
//! checkpointed frames come out as SQLite wrote them.

use rusqlite::{Connection, OpenFlags};

use super::gather::{register_as, Gather, FLUSH_BYTES};

/// A shim of the test's own (so its write count is the test's alone), a writer through it and
/// a reader on the default VFS, over a fresh WAL database with one table keyed at random.
fn open(dir: &tempfile::TempDir, shim: &str) -> (&'static Gather, Connection, Connection) {
    let gather = register_as(shim).expect("registered");
    let path = dir.path().join("gather.db");
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let writer = Connection::open_with_flags_and_vfs(&path, flags, shim).unwrap();
    writer
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB NOT NULL UNIQUE, v BLOB NOT NULL);",
        )
        .unwrap();
    let reader = Connection::open(&path).unwrap();
    (gather, writer, reader)
}

/// Inserts `rows` rows with random 16-byte keys (so the key index is dirtied all over) and
/// 300-byte values, in the caller's transaction.
fn insert(c: &Connection, rows: usize) {
    let mut insert = c.prepare_cached("INSERT INTO t (k, v) VALUES (randomblob(16), zeroblob(300))").unwrap();
    for _ in 0..rows {
        insert.execute([]).unwrap();
    }
}

fn count(c: &Connection) -> i64 {
    c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
}

fn log_len(dir: &tempfile::TempDir) -> u64 {
    std::fs::metadata(dir.path().join("gather.db-wal")).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn each_commit_reaches_the_log_in_the_fewest_writes_and_other_connections_see_it_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (gather, writer, reader) = open(&dir, "banter-gather-test-commit");
    let mut total = 0;
    for round in 0..30 {
        let (writes, len) = (gather.log_writes(), log_len(&dir));
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        insert(&writer, 50);
        writer.execute_batch("COMMIT").unwrap();
        total += 50;
        // Read through another file descriptor right after the commit returned: the frames
        // must be in the file, not in the writer's buffer.
        assert_eq!(count(&reader), total, "round {round}");
        let frames = (log_len(&dir) - len) / 4120;
        let writes = gather.log_writes() - writes;
        if round == 0 {
            // The log's header is synced on its own before the first frames.
            assert!(writes <= 2, "round 0: {writes} writes");
        } else {
            assert!(frames >= 5, "round {round}: only {frames} frames, so the test shows nothing");
            let fewest = (frames * 4120).div_ceil(FLUSH_BYTES as u64);
            assert_eq!(writes, fewest, "round {round}: {frames} frames in {writes} writes");
        }
    }
}

#[test]
fn spilled_rewritten_and_rolled_back_frames_and_checkpoints_come_out_as_sqlite_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let (gather, writer, reader) = open(&dir, "banter-gather-test-spill");
    // A page cache of a few pages: a large transaction spills dirty pages into the log before
    // it commits, rewrites some of them there, and reads them back.
    writer.execute_batch("PRAGMA cache_size = 8").unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    insert(&writer, 3000);
    assert_eq!(count(&writer), 3000, "the transaction reads back its own spilled pages");
    writer.execute_batch("ROLLBACK").unwrap();
    assert_eq!((count(&writer), count(&reader)), (0, 0));

    for _ in 0..3 {
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        insert(&writer, 3000);
        writer.execute_batch("COMMIT").unwrap();
    }
    assert!(gather.log_writes() > 0);
    assert_eq!(count(&reader), 9000);
    let check: String = reader.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");

    // A checkpoint through the shim copies the log into the database file and empties it.
    let (busy, _, _): (i64, i64, i64) =
        writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
    assert_eq!((busy, log_len(&dir)), (0, 0));
    drop((writer, reader));
    let fresh = Connection::open(dir.path().join("gather.db")).unwrap();
    assert_eq!(count(&fresh), 9000);
    let check: String = fresh.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}
