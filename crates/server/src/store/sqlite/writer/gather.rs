//! A VFS shim over SQLite's default VFS that gathers a transaction's log writes into one.
//!
//! SQLite writes each frame of a commit to the WAL as two `pwrite`s: the 24-byte frame header,
//! then the page. Under `persist` a commit of ~50 messages dirties ~95 pages, so ~190 system
//! calls, each straddling a kernel page boundary (a frame is 4,120 bytes): `pwrite` was 26% of
//! the server's CPU (session 10's profile), most of it the kernel's per-call and per-page-cache-
//! page overhead rather than the copying.
//!
//! A WAL file opened through this VFS keeps consecutive writes in one buffer (its
//! [`Pending`]) and writes them with one `pwrite` when a commit frame is complete (the header
//! whose "database size after commit" field is set, then its page), before any other operation
//! on the file (read, sync, truncate, size, file control, close), before a write elsewhere in
//! the file, and at [`FLUSH_BYTES`]. So a commit reaches the file inside SQLite's write of its
//! last frame, before SQLite publishes the commit to readers in the shared-memory index: other
//! connections never see a frame that is not in the file, and an error writing it fails the
//! commit as a failed `pwrite` would. Durability is unchanged (`synchronous = NORMAL` syncs
//! nothing on commit; every sync is passed through after the flush). This relies on SQLite
//! writing a frame as its header, then its page (`walWriteOneFrame` in the bundled 3.46): the
//! tests (`gather_tests`) fail if a commit's frames are not in the file when it returns.
//!
//! Every other file (the database file, journals) is the default VFS's own, opened as if the
//! shim were not there; the log's other methods are passed through after a flush. Only the
//! message writer's connection uses it ([`super::thread`]).

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name the shim is registered under (see [`register`]).
pub const NAME: &str = "banter-gather";
/// Most bytes written in one call: the default VFS writes at most 2^17 − 1 bytes per `pwrite`
/// (unix `seekAndWriteFd` masks the length to 17 bits), so a larger buffer is written in
/// parts. A write that would take the buffer past this flushes it first, so the parts end on
/// frame edges: a commit of ~95 frames (~390 KB) is 4 writes instead of ~190.
pub const FLUSH_BYTES: usize = 0x1ffff;
/// Bytes in a WAL frame header (SQLite's `WAL_FRAME_HDRSIZE`).
const FRAME_HEADER: usize = 24;

/// One registered shim: the VFS it wraps and how many writes reached the log files.
pub struct Gather {
    base: *mut ffi::sqlite3_vfs,
    /// `pwrite`s issued to WAL files opened through this shim (for tests and diagnostics).
    log_writes: AtomicU64,
}

// SAFETY: `base` points to a VFS that SQLite keeps for the life of the process and that is
// safe to use from any thread (SQLite's own VFSes are).
unsafe impl Send for Gather {}
unsafe impl Sync for Gather {}

impl Gather {
    /// Writes that reached this shim's WAL files so far.
    pub fn log_writes(&self) -> u64 {
        self.log_writes.load(Ordering::Relaxed)
    }
}

/// Registers the shim (once per process) under [`NAME`], over the default VFS, and returns
/// it. Errors: SQLite has no default VFS, or refused the registration (its result code).
pub fn register() -> Result<&'static Gather, c_int> {
    static SHIM: OnceLock<Result<&'static Gather, c_int>> = OnceLock::new();
    *SHIM.get_or_init(|| register_as(NAME))
}

/// Registers a shim of its own under `name` (tests use fresh names to count their own writes).
pub fn register_as(name: &str) -> Result<&'static Gather, c_int> {
    // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS or NULL; the new VFS and its
    // name are leaked, so they outlive every connection that uses them, as SQLite requires.
    unsafe {
        if ffi::sqlite3_initialize() != ffi::SQLITE_OK {
            return Err(ffi::SQLITE_ERROR);
        }
        let base = ffi::sqlite3_vfs_find(std::ptr::null());
        if base.is_null() {
            return Err(ffi::SQLITE_ERROR);
        }
        let gather: &'static Gather = Box::leak(Box::new(Gather { base, log_writes: AtomicU64::new(0) }));
        let name = CString::new(name).map_err(|_| ffi::SQLITE_MISUSE)?.into_raw();
        let mut vfs = std::ptr::read(base);
        vfs.szOsFile = (INNER_OFFSET + (*base).szOsFile as usize) as c_int;
        vfs.pNext = std::ptr::null_mut();
        vfs.zName = name;
        vfs.pAppData = gather as *const Gather as *mut c_void;
        // The default (unix) VFS's other methods ignore their VFS argument, so they are shared
        // as they are; only `xOpen` needs the shim.
        vfs.xOpen = Some(open);
        let rc = ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0);
        if rc == ffi::SQLITE_OK {
            Ok(gather)
        } else {
            Err(rc)
        }
    }
}

/// A WAL file opened through the shim. SQLite allocates `szOsFile` bytes for every file: for a
/// log, this struct, then the base VFS's own file at [`INNER_OFFSET`]; any other file is the
/// base VFS's own, from the start.
#[repr(C)]
struct File {
    /// Must come first: SQLite reads the methods through it.
    methods: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// The writes not yet issued.
    pending: Pending,
    gather: &'static Gather,
}

/// Where the base VFS's file starts in the allocation (8-byte aligned).
const INNER_OFFSET: usize = std::mem::size_of::<File>().next_multiple_of(8);

/// Consecutive writes to a WAL file not yet issued.
#[derive(Default)]
struct Pending {
    /// File offset of `bytes[0]`.
    start: i64,
    bytes: Vec<u8>,
    /// The last write was the header of a commit frame: its page completes the commit.
    commit_next: bool,
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let gather = &*((*vfs).pAppData as *const Gather);
    (*file).pMethods = std::ptr::null();
    let Some(base_open) = (*gather.base).xOpen else { return ffi::SQLITE_ERROR };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        return base_open(gather.base, name, file, flags, out_flags);
    }
    let inner = (file as *mut u8).add(INNER_OFFSET) as *mut ffi::sqlite3_file;
    (*inner).pMethods = std::ptr::null();
    let rc = base_open(gather.base, name, inner, flags, out_flags);
    if (*inner).pMethods.is_null() {
        return if rc == ffi::SQLITE_OK { ffi::SQLITE_ERROR } else { rc };
    }
    let methods = ffi::sqlite3_file { pMethods: &METHODS };
    std::ptr::write(file as *mut File, File { methods, inner, pending: Pending::default(), gather });
    rc
}

/// A log file's methods: every one passes through to the base file, those that look at the file
/// after a flush. Version 1: SQLite maps shared memory and pages only through the database
/// file, never the log.
static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// The shim's view of `file`.
unsafe fn this<'a>(file: *mut ffi::sqlite3_file) -> &'a mut File {
    &mut *(file as *mut File)
}

/// The base file's methods.
unsafe fn base<'a>(file: &File) -> &'a ffi::sqlite3_io_methods {
    &*(*file.inner).pMethods
}

/// Issues the pending writes, if any, as one write. Its result code.
unsafe fn flush(file: &mut File) -> c_int {
    if file.pending.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let Some(base_write) = base(file).xWrite else { return ffi::SQLITE_IOERR_WRITE };
    let pending = &mut file.pending;
    file.gather.log_writes.fetch_add(1, Ordering::Relaxed);
    let (data, len) = (pending.bytes.as_ptr() as *const c_void, pending.bytes.len() as c_int);
    let rc = base_write(file.inner, data, len, pending.start);
    pending.bytes.clear();
    rc
}

/// Flushes, then runs `call` on the base file if the flush succeeded.
unsafe fn after_flush(file: *mut ffi::sqlite3_file, call: impl FnOnce(&File) -> c_int) -> c_int {
    let file = this(file);
    match flush(file) {
        ffi::SQLITE_OK => call(file),
        rc => rc,
    }
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, data: *const c_void, amount: c_int, offset: i64) -> c_int {
    let shim = this(file);
    let bytes = std::slice::from_raw_parts(data as *const u8, amount as usize);
    let pending = &shim.pending;
    let apart = offset != pending.start + pending.bytes.len() as i64;
    if !pending.bytes.is_empty() && (apart || pending.bytes.len() + bytes.len() > FLUSH_BYTES) {
        match flush(shim) {
            ffi::SQLITE_OK => {}
            rc => return rc,
        }
    }
    let pending = &mut shim.pending;
    if pending.bytes.is_empty() {
        pending.start = offset;
    }
    pending.bytes.extend_from_slice(bytes);
    let completes_commit = pending.commit_next;
    pending.commit_next = bytes.len() == FRAME_HEADER && bytes[4..8] != [0; 4];
    if completes_commit || pending.bytes.len() >= FLUSH_BYTES {
        return flush(shim);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let rc = flush(this(file));
    let inner = this(file).inner;
    let closed = base(this(file)).xClose.map_or(ffi::SQLITE_OK, |c| c(inner));
    std::ptr::drop_in_place(file as *mut File);
    (*file).pMethods = std::ptr::null();
    if rc == ffi::SQLITE_OK {
        closed
    } else {
        rc
    }
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, data: *mut c_void, amount: c_int, offset: i64) -> c_int {
    after_flush(file, |f| base(f).xRead.map_or(ffi::SQLITE_IOERR_READ, |r| r(f.inner, data, amount, offset)))
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_flush(file, |f| base(f).xTruncate.map_or(ffi::SQLITE_IOERR_TRUNCATE, |t| t(f.inner, size)))
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    after_flush(file, |f| base(f).xSync.map_or(ffi::SQLITE_IOERR_FSYNC, |s| s(f.inner, flags)))
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_flush(file, |f| base(f).xFileSize.map_or(ffi::SQLITE_IOERR_FSTAT, |s| s(f.inner, size)))
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    after_flush(file, |f| base(f).xFileControl.map_or(ffi::SQLITE_NOTFOUND, |c| c(f.inner, op, arg)))
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let f = this(file);
    base(f).xLock.map_or(ffi::SQLITE_IOERR_LOCK, |l| l(f.inner, level))
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let f = this(file);
    base(f).xUnlock.map_or(ffi::SQLITE_IOERR_UNLOCK, |u| u(f.inner, level))
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let f = this(file);
    base(f).xCheckReservedLock.map_or(ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, |c| c(f.inner, out))
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let f = this(file);
    base(f).xSectorSize.map_or(4096, |s| s(f.inner))
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let f = this(file);
    base(f).xDeviceCharacteristics.map_or(0, |d| d(f.inner))
}
