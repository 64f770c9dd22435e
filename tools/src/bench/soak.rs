//! `coracle bench --servers nginx,redis --soak SECONDS ROOTFS_DIR`: each server under its
//! load for SECONDS, with the guest's memory use sampled all along, to show that it stays
//! flat (issue 13's 10-minute soak).
//!
//! The guest samples itself: with `--soak` the servers' script (`net::guest_script`) also
//! runs [`sampler`], a shell loop printing `MemTotal - MemAvailable` of /proc/meminfo (the
//! same formula on both sides; Coracle's MemAvailable is its free frames) every few seconds
//! on its stdout, which on both sides ends up in the VM's log file next to the console. The
//! host reads the samples that arrived during each server's soak and reports the first, the
//! last and the largest, with the requests per second over the soak and the VM's host CPU.

use std::time::{Duration, Instant};

use super::net::{self, Server};

/// What a sample line starts with.
const MARK: &str = "coracle-bench-mem";

/// Seconds between samples: about 60 per soak, at least one a second, at most one every 10.
pub fn sample_every(soak_seconds: u32) -> u32 {
    (soak_seconds / 60).clamp(1, 10)
}

/// The guest's sampling loop, a line of the servers' shell script (mawk and sleep are in
/// every Debian root).
pub fn sampler(every: u32) -> String {
    format!(
        "(while :; do awk '/^MemTotal:/ {{ t = $2 }} /^MemAvailable:/ {{ a = $2 }} \
         END {{ print \"{MARK}\", t - a }}' /proc/meminfo; sleep {every}; done) &\n"
    )
}

/// The samples (KiB in use) in `log`, in order.
pub fn samples(log: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(log)
        .lines()
        .filter_map(|l| {
            let rest = l.split(MARK).nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// The soak of `server` (its load as in `net::drive`, for `seconds`), as `name value unit`
/// lines; `label` names the side in the progress lines (the series of samples goes there).
pub fn drive(
    vm: &net::Vm,
    server: Server,
    port: u16,
    load: net::Load,
    seconds: u32,
    label: &str,
) -> Result<String, String> {
    let name = server.name();
    let from = std::fs::metadata(vm.log()).map_or(0, |m| m.len()) as usize;
    let began = Instant::now();
    let cpu_before = net::tree_cpu(vm.pid());
    let mut requests = 0.0;
    match server {
        Server::Nginx => {
            let (report, _, _) = net::wrk(vm, port, seconds)?;
            requests = report.0 * began.elapsed().as_secs_f64();
        }
        Server::Redis => {
            // redis-benchmark counts requests, not seconds: rounds until the time is up.
            while began.elapsed() < Duration::from_secs(seconds.into()) {
                net::redis_benchmark(vm, port, load.redis_requests)?;
                requests += 2.0 * f64::from(load.redis_requests);
            }
        }
        Server::Iperf3 => return Err("--soak drives nginx and redis, not iperf3".into()),
    }
    let wall = began.elapsed();
    let cpu = net::tree_cpu(vm.pid()).saturating_sub(cpu_before);
    let log = std::fs::read(vm.log()).unwrap_or_default();
    let kib = samples(log.get(from..).unwrap_or_default());
    let mib = |k: u64| k as f64 / 1024.0;
    let (Some(&first), Some(&last), Some(&max)) = (kib.first(), kib.last(), kib.iter().max())
    else {
        return Err(format!(
            "no memory samples from the guest during the {name} soak (is awk in the root?)"
        ));
    };
    let series: Vec<String> = kib.iter().map(|&k| format!("{:.1}", mib(k))).collect();
    eprintln!(
        "bench: {label} {name} soak: guest memory in use (MiB, {} samples): {}",
        kib.len(),
        series.join(" ")
    );
    Ok(format!(
        "{name}_soak_requests {:.0} req/s\n\
         {name}_soak_mem_start {:.1} MiB\n{name}_soak_mem_end {:.1} MiB\n\
         {name}_soak_mem_max {:.1} MiB\n{name}_soak_host_cpu {:.1} %\n",
        requests / wall.as_secs_f64().max(1e-9),
        mib(first),
        mib(last),
        mib(max),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_through_console_noise() {
        let log = b"nginx: started\r\ncoracle-bench-mem 51200\r\n[   3.1] random: crng init\n\
            coracle-bench-mem 52224\ncoracle-bench-mem oops\n";
        assert_eq!(samples(log), [51200, 52224]);
        assert_eq!(sample_every(600), 10);
        assert_eq!(sample_every(30), 1);
        assert_eq!(sample_every(120), 2);
        let line = sampler(10);
        assert!(line.contains("/proc/meminfo; sleep 10; done) &"), "{line}");
        assert!(
            line.contains("print \"coracle-bench-mem\", t - a"),
            "{line}"
        );
    }
}
