//! Logged-in user sessions, counted from utmp as `who` does: records of type
//! `USER_PROCESS` whose process still exists.

use std::path::Path;

/// Where glibc keeps the login records.
pub const UTMP: &str = "/var/run/utmp";

/// Size of one `struct utmp` on 64-bit Linux glibc.
const RECORD: usize = 384;
const USER_PROCESS: i16 = 7;

/// Count live user sessions in a utmp file; a missing file means none.
pub fn count(path: &Path) -> u32 {
    match std::fs::read(path) {
        Ok(bytes) => count_records(&bytes, |pid| Path::new(&format!("/proc/{pid}")).exists()),
        Err(_) => 0,
    }
}

/// Count `USER_PROCESS` records whose pid `alive` says still runs. A short
/// trailing record (file being rewritten) is ignored.
pub fn count_records(bytes: &[u8], alive: impl Fn(i32) -> bool) -> u32 {
    let count = bytes
        .chunks_exact(RECORD)
        .filter(|r| {
            let kind = i16::from_ne_bytes([r[0], r[1]]);
            let pid = i32::from_ne_bytes([r[4], r[5], r[6], r[7]]);
            kind == USER_PROCESS && pid > 0 && alive(pid)
        })
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: i16, pid: i32) -> Vec<u8> {
        let mut r = vec![0u8; RECORD];
        r[0..2].copy_from_slice(&kind.to_ne_bytes());
        r[4..8].copy_from_slice(&pid.to_ne_bytes());
        r
    }

    #[test]
    fn counts_live_user_processes_only() {
        let mut bytes = Vec::new();
        bytes.extend(record(USER_PROCESS, 10));
        bytes.extend(record(USER_PROCESS, 11)); // dead
        bytes.extend(record(2, 12)); // BOOT_TIME
        bytes.extend(record(8, 13)); // DEAD_PROCESS
        bytes.extend(record(USER_PROCESS, 14));
        bytes.extend([0u8; 100]); // torn tail
        assert_eq!(count_records(&bytes, |pid| pid != 11), 2);
        assert_eq!(count(Path::new("/nonexistent/utmp")), 0);
    }
}
