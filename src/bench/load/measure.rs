//! The figures of a load run: CPU and memory from `/proc`, latency percentiles, and the
//! slope of resident memory over time.

use super::Latency;

pub(super) fn proc_status(pid: u32) -> (u64, f64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    (rss, cpu_seconds(&format!("/proc/{pid}/stat")))
}

/// CPU time of the whole machine from `/proc/stat`: (busy, total) in seconds over all cores.
pub(super) fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let at = |i: usize| ticks.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let idle = at(3) + at(4);
    let total: u64 = ticks.iter().take(8).sum();
    ((total - idle.min(total)) as f64 / 100.0, total as f64 / 100.0)
}

/// User plus system CPU time from a `/proc/…/stat` file (USER_HZ is 100 on Linux).
pub(super) fn cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

pub(super) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

pub(super) fn latency(mut us: Vec<u32>, errors: u64) -> Latency {
    us.sort_unstable();
    Latency {
        count: us.len() as u64,
        errors,
        p50_ms: percentile(&us, 0.50),
        p90_ms: percentile(&us, 0.90),
        p99_ms: percentile(&us, 0.99),
        max_ms: us.last().map_or(0.0, |v| f64::from(*v) / 1000.0),
    }
}

pub(super) fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) =
        points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (y - my), b + (x - mx) * (x - mx)));
    if den == 0.0 { 0.0 } else { num / den }
}
