//! The command lines of the processes running now, read from `/proc`, for
//! rules that watch a process. Cheaper than a full process refresh: only
//! `cmdline` is read, and only when such a rule exists.

use std::fs;

/// Every process's command line, arguments joined by spaces; kernel
/// threads (empty command lines) are left out.
pub fn running() -> Vec<String> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .filter(|raw| !raw.is_empty())
        .map(|raw| {
            let text = String::from_utf8_lossy(&raw);
            text.trim_end_matches('\0').replace('\0', " ")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_a_process_by_its_arguments() {
        let mut child = std::process::Command::new("sleep")
            .arg("31.4159")
            .spawn()
            .unwrap();
        // Until the child has exec'd, /proc shows the parent's command line.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = false;
        while !found && std::time::Instant::now() < deadline {
            found = super::running().iter().any(|c| c == "sleep 31.4159");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(found);
    }
}
