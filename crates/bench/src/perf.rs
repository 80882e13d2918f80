//! Profiles of the measured window alone. `scripts/bench` with `PERF=1` starts
//! `perf record -D -1 --control fifo:CTL,ACK` on the server (recording disabled) and passes
//! `--perf-control CTL,ACK`: the bench enables recording when a measured window starts
//! ([`crate::proc::Window::start`]) and disables it when the window ends, so a profile holds
//! the scenario and not its set-up (in a `storm` of 10,000, the set-up's sign-ups were most of
//! the samples before). Without the flag every call here does nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// perf's control FIFO (commands) and its ack FIFO (one `ack` line per command done).
struct Control {
    ctl: File,
    ack: BufReader<File>,
}

/// The attached control, if any (one per process, like a logger).
static CONTROL: Mutex<Option<Control>> = Mutex::new(None);

/// How long [`attach`] waits for perf to open its control FIFO.
const ATTACH_WAIT: Duration = Duration::from_secs(10);

/// Attaches to perf through `spec`, `CTL,ACK`: the paths of the two FIFOs perf was started
/// with. Waits up to 10 s for perf to open them. Errors: a malformed `spec`, a FIFO that
/// cannot be opened, or perf not there in time.
pub fn attach(spec: &str) -> io::Result<()> {
    let (ctl, ack) = spec
        .split_once(',')
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "--perf-control takes CTL,ACK"))?;
    // Without a reader, a non-blocking open for writing fails (ENXIO): perf not started yet.
    let deadline = std::time::Instant::now() + ATTACH_WAIT;
    let ctl = loop {
        match OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(ctl) {
            Ok(file) => break file,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    };
    // Opened without waiting for a writer; perf's open for writing then goes through.
    let ack = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(ack)?;
    for file in [&ctl, &ack] {
        // SAFETY: fcntl on descriptors these `File`s own.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, 0) };
    }
    *CONTROL.lock().unwrap_or_else(PoisonError::into_inner) = Some(Control { ctl, ack: BufReader::new(ack) });
    Ok(())
}

/// Starts recording (a window begins), once perf acknowledges it.
pub fn enable() {
    command("enable");
}

/// Stops recording (a window ended), once perf acknowledges it.
pub fn disable() {
    command("disable");
}

/// Sends `cmd` and waits for perf's ack; a failure is reported and detaches (the run goes on,
/// its profile incomplete).
fn command(cmd: &str) {
    let mut control = CONTROL.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(c) = control.as_mut() else { return };
    let mut line = String::new();
    let done = writeln!(c.ctl, "{cmd}").and_then(|()| c.ack.read_line(&mut line));
    match done {
        // perf writes `ack\n` with C's terminating NUL, which starts the next line read.
        Ok(n) if n > 0 && line.trim_matches(|c: char| c == '\0' || c.is_whitespace()) == "ack" => {}
        Ok(_) => {
            eprintln!("warning: perf did not acknowledge `{cmd}` (gone?); profiling stops");
            *control = None;
        }
        Err(e) => {
            eprintln!("warning: perf control failed on `{cmd}`: {e}; profiling stops");
            *control = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::io::{BufRead, BufReader, Write as _};

    use super::*;

    fn mkfifo(path: &std::path::Path) {
        let c = CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }

    /// A stand-in for `perf record --control fifo:CTL,ACK`, opening the FIFOs as perf does
    /// (the control one read-write and non-blocking, the ack one for writing) and acking each
    /// command; it returns the commands it got once the bench side detaches.
    #[test]
    fn windows_enable_and_disable_recording_and_each_command_waits_for_its_ack() {
        let dir = tempfile::tempdir().unwrap();
        let (ctl, ack) = (dir.path().join("ctl"), dir.path().join("ack"));
        mkfifo(&ctl);
        mkfifo(&ack);
        let (ctl_path, ack_path) = (ctl.clone(), ack.clone());
        let perf = std::thread::spawn(move || {
            let ctl = OpenOptions::new().read(true).write(true).open(ctl_path).unwrap();
            let mut ack = OpenOptions::new().write(true).open(ack_path).unwrap();
            let mut got = Vec::new();
            for line in BufReader::new(ctl).lines() {
                let line = line.unwrap();
                ack.write_all(b"ack\n\0").unwrap(); // as perf does: the C string's NUL too
                got.push(line);
                if got.len() == 2 {
                    break;
                }
            }
            got
        });
        attach(&format!("{},{}", ctl.display(), ack.display())).unwrap();
        enable();
        disable();
        assert_eq!(perf.join().unwrap(), ["enable", "disable"]);
        // perf gone: the next command finds no ack, reports it and detaches.
        enable();
        assert!(CONTROL.lock().unwrap().is_none());
        disable();
        assert!(attach("no-comma").is_err());
    }
}
