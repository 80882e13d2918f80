//! Process measurements: the server's RSS and CPU time from `/proc/PID/{status,stat}`, the
//! bench's own CPU time (`getrusage`), and raising the open-file limit. A [`Window`] also runs
//! a [`HiccupMeter`] on the bench's CPU.

use std::io;
use std::time::{Duration, Instant};

use crate::hiccup::{self, HiccupMeter};
use crate::metrics::{round, Report};
use crate::threads::{self, ThreadTimes};

/// One sample of a process: CPU time split into user and system, and resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcSample {
    /// User-mode CPU time, in microseconds.
    pub user_us: u64,
    /// Kernel-mode CPU time, in microseconds.
    pub sys_us: u64,
    /// Resident set size, in KiB (`VmRSS`).
    pub rss_kib: u64,
    /// Time its threads were runnable but waiting for a CPU (`run_delay` summed over
    /// `/proc/PID/task/*/schedstat`), in microseconds: other processes competing for the core.
    pub wait_us: u64,
}

/// `utime` and `stime` (fields 14 and 15, in clock ticks) from the text of `/proc/PID/stat`.
/// The command name (field 2) may contain spaces and parentheses, so fields are counted from
/// the last `)`.
pub fn parse_stat(text: &str) -> Option<(u64, u64)> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11); // field 3 is the first here
    let utime = fields.next()?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// `VmRSS` in KiB from the text of `/proc/PID/status`.
pub fn parse_vmrss_kib(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `(sum_exec_runtime, run_delay)` (fields 1 and 2, ns: time on a CPU, and time runnable but
/// waiting for one) from the text of a `/proc/PID/task/TID/schedstat`.
pub fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_whitespace().map(|f| f.parse().ok());
    Some((fields.next()??, fields.next()??))
}

/// Run-queue wait of every live thread of `/proc/<which>`, in microseconds (0 if unavailable;
/// threads that already exited are not counted).
pub fn run_delay_us(which: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{which}/task")) else { return 0 };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|text| parse_schedstat(&text).map(|(_, delay)| delay))
        .sum();
    ns / 1000
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, usually 100).
pub fn clock_ticks_per_s() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// Samples process `pid` (`"self"` works too via [`sample_path`]).
pub fn sample(pid: u32) -> io::Result<ProcSample> {
    sample_path(&pid.to_string())
}

/// Samples `/proc/<which>/`: `which` is a pid or `self`.
pub fn sample_path(which: &str) -> io::Result<ProcSample> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("cannot parse /proc/{which}/{what}"));
    let stat = std::fs::read_to_string(format!("/proc/{which}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{which}/status"))?;
    let (utime, stime) = parse_stat(&stat).ok_or_else(|| bad("stat"))?;
    let us_per_tick = 1_000_000 / clock_ticks_per_s();
    Ok(ProcSample {
        user_us: utime * us_per_tick,
        sys_us: stime * us_per_tick,
        rss_kib: parse_vmrss_kib(&status).ok_or_else(|| bad("status"))?,
        wait_us: run_delay_us(which),
    })
}

/// The bench process's own CPU time so far (`getrusage(RUSAGE_SELF)`), microsecond precision.
pub fn self_cpu() -> ProcSample {
    // SAFETY: an all-zero rusage is valid, and getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    let rss_kib = sample_path("self").map(|s| s.rss_kib).unwrap_or(0);
    ProcSample { user_us: us(usage.ru_utime), sys_us: us(usage.ru_stime), rss_kib, wait_us: run_delay_us("self") }
}

/// The machine's CPU time so far from the `cpu` line of `/proc/stat`: `(steal, total)` in
/// clock ticks, where steal is time the hypervisor gave this machine's CPUs to someone else.
pub fn parse_machine_steal(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).map(|f| f.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    let steal = *fields.get(7)?;
    Some((steal, fields.iter().take(8).sum()))
}

/// [`parse_machine_steal`] of this machine now, if readable.
pub fn machine_steal() -> Option<(u64, u64)> {
    parse_machine_steal(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The machine's one-minute load average (`/proc/loadavg`), if readable.
pub fn loadavg_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// Raises the open-file soft limit to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(limit.rlim_cur)
    }
}

/// A measured window: samples of the server (when its pid is known) and of the bench at the
/// start, compared with samples at [`Window::finish`], and a [`HiccupMeter`] running between.
pub struct Window {
    pid: Option<u32>,
    started: Instant,
    server: Option<ProcSample>,
    /// The server's threads at the start (empty without a pid).
    threads: ThreadTimes,
    bench: ProcSample,
    steal: Option<(u64, u64)>,
    hiccups: Option<HiccupMeter>,
}

impl Window {
    /// Starts a window, sampling the server `pid` (if any) and the bench, and starts the hiccup
    /// meter's thread (which inherits the bench's CPU affinity) and, when attached, perf's
    /// recording ([`crate::perf`]).
    pub fn start(pid: Option<u32>) -> Self {
        let server = pid.and_then(|p| sample(p).ok());
        let threads = pid.map(ThreadTimes::sample).unwrap_or_default();
        let hiccups = HiccupMeter::start();
        crate::perf::enable();
        Self { pid, started: Instant::now(), server, threads, bench: self_cpu(), steal: machine_steal(), hiccups }
    }

    /// Seconds since the window started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the window: stops perf's recording (when attached) and the hiccup meter, and adds
    /// wall time, the bench's CPU, the machine's steal and hiccups
    /// (`machine_hiccup_{p99,p999,max}_ms`), and (with a server pid) the server's CPU split, RSS
    /// and, for `per = Some((unit, n))` with n > 0, its CPU µs per unit
    /// (`server_cpu_us_per_<unit>`, e.g. per delivery or per commit) to `report`, and the same
    /// split by thread name (`server_threads_us_per_<unit>`, or `server_threads_ms` without a
    /// unit; see [`threads::summary`]).
    pub fn finish(mut self, report: &mut Report, per: Option<(&str, u64)>) {
        crate::perf::disable();
        let wall = self.started.elapsed().as_secs_f64();
        let hiccups = self.hiccups.take().map(HiccupMeter::finish);
        let bench = self_cpu();
        let bench_cpu_s = (bench.user_us + bench.sys_us - self.bench.user_us - self.bench.sys_us) as f64 / 1e6;
        report.result("window_s", round(wall, 3));
        report.result("bench_cpu_s", round(bench_cpu_s, 3));
        report.result("bench_cpu_pct_of_one_core", round(100.0 * bench_cpu_s / wall.max(1e-9), 1));
        report.result("bench_rss_kib", bench.rss_kib);
        report.result("bench_runqueue_wait_s", round(bench.wait_us.saturating_sub(self.bench.wait_us) as f64 / 1e6, 3));
        if let Some(load) = loadavg_1m() {
            // Other processes on the machine compete for the same cores: context for latency.
            report.result("machine_loadavg_1m", load);
        }
        if let (Some((steal0, total0)), Some((steal1, total1))) = (self.steal, machine_steal()) {
            // On a virtual machine, CPU time the hypervisor took away: every figure is slower.
            let pct = 100.0 * steal1.saturating_sub(steal0) as f64 / total1.saturating_sub(total0).max(1) as f64;
            report.result("machine_steal_pct", round(pct, 1));
        }
        if let Some(hist) = &hiccups {
            // Stalls of the bench's CPU: a latency tail below the hiccup max may be the machine's.
            hiccup::add_to(hist, report);
        }
        let (Some(pid), Some(before)) = (self.pid, self.server) else { return };
        let by_thread = ThreadTimes::sample(pid).since(&self.threads);
        let Ok(after) = sample(pid) else {
            report.result("server_sample_error", format!("cannot read /proc/{pid}"));
            return;
        };
        let user_s = after.user_us.saturating_sub(before.user_us) as f64 / 1e6;
        let sys_s = after.sys_us.saturating_sub(before.sys_us) as f64 / 1e6;
        report.result("server_cpu_user_s", round(user_s, 3));
        report.result("server_cpu_sys_s", round(sys_s, 3));
        report.result("server_cpu_pct_of_one_core", round(100.0 * (user_s + sys_s) / wall.max(1e-9), 1));
        report.result("server_runqueue_wait_s", round(after.wait_us.saturating_sub(before.wait_us) as f64 / 1e6, 3));
        report.result("server_rss_before_kib", before.rss_kib);
        report.result("server_rss_after_kib", after.rss_kib);
        match per.filter(|&(_, n)| n > 0) {
            Some((unit, n)) => {
                report.result(&format!("server_cpu_us_per_{unit}"), round((user_s + sys_s) * 1e6 / n as f64, 3));
                report.result(&format!("server_threads_us_per_{unit}"), threads::summary(&by_thread, n));
            }
            None => _ = report.result("server_threads_ms", threads::summary(&by_thread, 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let text = "4242 (banter (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 96 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat(text), Some((731, 96)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn steal_is_the_eighth_cpu_field() {
        let text = "cpu  623305 855 83307 308182 9520 0 17621 198380 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        let total = 623305 + 855 + 83307 + 308182 + 9520 + 17621 + 198380;
        assert_eq!(parse_machine_steal(text), Some((198380, total)));
        assert_eq!(parse_machine_steal("cpu0 1 2\n"), None);
        assert!(machine_steal().is_some());
    }

    #[test]
    fn schedstat_gives_the_time_on_cpu_and_the_run_queue_wait() {
        assert_eq!(parse_schedstat("96760418 14446971 367\n"), Some((96_760_418, 14_446_971)));
        assert_eq!(parse_schedstat("1"), None);
        assert_eq!(parse_schedstat(""), None);
    }

    #[test]
    fn vmrss_is_read_in_kib() {
        let text = "Name:\tbanter\nVmPeak:\t  900 kB\nVmRSS:\t   51234 kB\nThreads:\t3\n";
        assert_eq!(parse_vmrss_kib(text), Some(51234));
        assert_eq!(parse_vmrss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let me = sample(std::process::id()).expect("/proc/self");
        assert!(me.rss_kib > 0);
        let cpu = self_cpu();
        assert!(cpu.rss_kib > 0);
        assert!(clock_ticks_per_s() > 0);
    }
}
