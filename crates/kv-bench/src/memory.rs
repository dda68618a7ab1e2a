//! Peak resident memory above a base, read from `/proc/self` (Linux only; elsewhere every reading
//! is `None` and the report leaves memory blank).

use std::fs;

/// Resets the kernel's peak-RSS mark to the current RSS (`echo 5 > /proc/self/clear_refs`) and
/// returns that base in KiB.
pub fn reset_peak() -> Option<u64> {
    fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kib("VmRSS:")
}

/// The peak RSS since the last reset, in KiB.
pub fn peak() -> Option<u64> {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn peak_after_reset_is_at_least_the_base() {
        let base = reset_peak().expect("clear_refs is writable on Linux");
        let peak = peak().expect("VmHWM is reported on Linux");
        assert!(peak >= base, "peak {peak} KiB below base {base} KiB");
    }
}
