//! A yardstick for the machine, taken before each scenario: the median round trip of a small
//! message over a loopback TCP connection between two threads of this process (on the
//! bench's CPU when it is pinned, as `scripts/bench` does).
//!
//! Most of what a delivery costs the server and the bench is this kernel path: a `send`, the
//! loopback receive path, a wake-up. Session 9's machine and session 10's differed about
//! twofold in every scenario with the same binaries, so a run's figures are read next to its
//! `machine_loopback_rtt_us`.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Instant;

/// Round trips measured by [`loopback_round_trip_us`] before each scenario (~0.1 s).
pub const ROUND_TRIPS: usize = 2000;
/// Bytes each way per round trip.
pub const MESSAGE_BYTES: usize = 64;

/// Median round trip, in µs, of `round_trips` messages of [`MESSAGE_BYTES`] that a second
/// thread echoes over a loopback TCP connection (`TCP_NODELAY` on both ends), after 100
/// unmeasured ones. Blocking. Errors: a socket error on either end.
pub fn loopback_round_trip_us(round_trips: usize) -> io::Result<f64> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let warmup = 100;
    let echo = std::thread::spawn(move || -> io::Result<()> {
        let mut message = [0u8; MESSAGE_BYTES];
        for _ in 0..warmup + round_trips {
            server.read_exact(&mut message)?;
            server.write_all(&message)?;
        }
        Ok(())
    });
    let mut message = [7u8; MESSAGE_BYTES];
    let mut times = Vec::with_capacity(round_trips);
    for i in 0..warmup + round_trips {
        let started = Instant::now();
        client.write_all(&message)?;
        client.read_exact(&mut message)?;
        if i >= warmup {
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    echo.join().map_err(|_| io::Error::other("the echo thread panicked"))??;
    times.sort_by(f64::total_cmp);
    Ok(times.get(times.len() / 2).copied().unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_round_trip_is_measured_in_microseconds() {
        let rtt = loopback_round_trip_us(200).unwrap();
        // A loopback round trip takes microseconds to tens of microseconds; never 0, never a second.
        assert!(rtt > 0.5 && rtt < 100_000.0, "{rtt} µs");
    }
}
