//! Hold a VM still while the controller snapshots it
//! ([`Query::Quiesce`](azlin_protocol::stream::Query::Quiesce)): every
//! process of the VM but the agent itself, init and the journal is frozen
//! by the kernel's cgroup freezer, and the file systems are flushed.
//!
//! Why not `docker pause` (what `docker commit` does by default): it
//! freezes the agent too, for longer than the link's idle timeout, so the
//! VM would be reported lost and every terminal on it cut. The freezer is
//! the same mechanism pause uses, applied to everything but the agent: no
//! process runs while the snapshot is taken, so it is of one moment, and
//! frozen processes get no signal (SIGSTOP would show shells a stopped
//! job), so they carry on when thawed as if nothing happened.
//!
//! A hold thaws by itself when its time is up, so a controller that goes
//! away leaves nothing frozen; an agent that starts finds a hold a
//! previous run left and thaws it ([`recover`]).
//!
//! - cgroup v1 (a freezer hierarchy): the VM's processes are moved into a
//!   child group of the agent's own freezer cgroup, which is frozen.
//! - cgroup v2: each subtree of the VM's cgroups that holds neither the
//!   agent, init nor the journal gets `cgroup.freeze`; the agent's own
//!   children (commands it runs) go into a frozen child of its group.
//!
//! Not here: the snapshot itself (the controller's provider).

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use azlin_protocol::stream::{MAX_QUIESCE_MS, QueryReply};

/// The child group the held processes are moved into.
const HOLD_GROUP: &str = "azlin-quiesce";
/// Where a v2 hold lists the subtrees it froze, so a restarted agent can
/// thaw them (`/run` is gone after a reboot, and so is the freeze).
const V2_RECORD: &str = "/run/azlin-agent-quiesce";
/// What a group is thawed by: a file of it and what is written there.
type Thaw = (&'static str, &'static str);
const V1_THAW: Thaw = ("freezer.state", "THAWED");
const V2_THAW: Thaw = ("cgroup.freeze", "0");

/// How long the kernel gets to freeze everything.
const FREEZE_WAIT: Duration = Duration::from_secs(5);

/// Which cgroup hierarchy holds the freezer, and where this agent is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// `own`: the agent's freezer cgroup (in a container, the whole VM's).
    V1 { own: PathBuf },
    /// `root`: the VM's cgroup root as mounted; `own`: the agent's group.
    V2 { root: PathBuf, own: PathBuf },
}

/// The freezer this process can use, from `/proc/self/cgroup` and
/// `/proc/self/mountinfo`'s texts: a v1 freezer hierarchy first (on a
/// hybrid host systemd tracks units in v2 but freezes nothing there), else
/// the unified one.
pub fn layout_from(cgroups: &str, mountinfo: &str) -> Result<Layout, String> {
    let mounts: Vec<(String, String, String, String)> = mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            Some((
                left.get(3)?.to_string(),
                left.get(4)?.to_string(),
                right.first()?.to_string(),
                right.get(2).unwrap_or(&"").to_string(),
            ))
        })
        .collect();
    let place = |path: &str, root: &str, mountpoint: &str| -> PathBuf {
        let inside = path
            .strip_prefix(root)
            .filter(|_| root != "/")
            .unwrap_or(path);
        Path::new(mountpoint).join(inside.trim_start_matches('/'))
    };
    let mut unified = None;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        if controllers.split(',').any(|c| c == "freezer") {
            let found = mounts.iter().find(|(_, _, fstype, options)| {
                fstype == "cgroup" && options.split(',').any(|o| o == "freezer")
            });
            if let Some((root, mountpoint, _, _)) = found {
                return Ok(Layout::V1 {
                    own: place(path, root, mountpoint),
                });
            }
        } else if controllers.is_empty() {
            unified = Some(path.to_string());
        }
    }
    if let Some(path) = unified
        && let Some((root, mountpoint, _, _)) = mounts.iter().find(|m| m.2 == "cgroup2")
    {
        return Ok(Layout::V2 {
            root: PathBuf::from(mountpoint),
            own: place(&path, root, mountpoint),
        });
    }
    Err("this VM has no cgroup freezer the agent can reach".into())
}

/// The subtrees under `root` a v2 hold freezes: the children of every
/// group on the way from `root` to `own` that are not on that way, less
/// init's and the journal's. `children` lists a group's child groups.
pub fn v2_subtrees(
    root: &Path,
    own: &Path,
    children: &dyn Fn(&Path) -> Vec<PathBuf>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut at = root.to_path_buf();
    while at != own && own.starts_with(&at) {
        let mut next = None;
        for child in children(&at) {
            let name = child.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if own.starts_with(&child) {
                next = Some(child);
            } else if name != "init.scope" && name != "systemd-journald.service" {
                out.push(child);
            }
        }
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    out
}

/// What is frozen now.
struct Hold {
    layout: Layout,
    /// v2: the subtrees frozen.
    subtrees: Vec<PathBuf>,
    processes: u32,
    generation: u64,
}

static HELD: Mutex<Option<Hold>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn layout() -> Result<Layout, String> {
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"));
    layout_from(&read("/proc/self/cgroup")?, &read("/proc/self/mountinfo")?)
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn pids_of(group: &Path) -> Vec<i32> {
    std::fs::read_to_string(group.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Processes that keep running: this agent, init (systemd serves the
/// agent) and the journal (the agent logs through it).
fn exempt(pid: i32) -> bool {
    if pid == 1 || pid == std::process::id() as i32 {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|c| c.trim() == "systemd-journal")
}

/// Move every process of `from` but the exempt ones into `to`; how many.
fn move_all(from: &Path, to: &Path) -> u32 {
    let mut moved = 0;
    // Twice: a process may fork while the first pass runs.
    for _ in 0..2 {
        for pid in pids_of(from) {
            if !exempt(pid) && std::fs::write(to.join("cgroup.procs"), pid.to_string()).is_ok() {
                moved += 1;
            }
        }
    }
    moved
}

/// Put the held processes back and remove the group (v1 and v2 alike).
/// Moved out while still frozen, they cannot fork meanwhile; the kernel
/// thaws each as it lands in a group that is not frozen.
fn release_group(own: &Path, hold: &Path, (file, value): Thaw) -> u32 {
    let mut count = 0;
    for _ in 0..10 {
        let pids = pids_of(hold);
        if pids.is_empty() {
            break;
        }
        for pid in &pids {
            if std::fs::write(own.join("cgroup.procs"), pid.to_string()).is_ok() {
                count += 1;
            }
        }
    }
    let _ = std::fs::write(hold.join(file), value);
    let _ = std::fs::remove_dir(hold);
    count
}

fn wait_until(check: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + FREEZE_WAIT;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn v2_frozen(group: &Path) -> bool {
    std::fs::read_to_string(group.join("cgroup.events"))
        .is_ok_and(|e| e.lines().any(|l| l.trim() == "frozen 1"))
}

fn freeze(layout: &Layout) -> Result<(Vec<PathBuf>, u32), String> {
    match layout {
        Layout::V1 { own } => {
            let hold = own.join(HOLD_GROUP);
            if hold.exists() {
                release_group(own, &hold, V1_THAW);
            }
            std::fs::create_dir(&hold)
                .map_err(|e| format!("cannot make the freezer group {}: {e}", hold.display()))?;
            let moved = move_all(own, &hold);
            write(&hold.join("freezer.state"), "FROZEN")?;
            let state = || {
                std::fs::read_to_string(hold.join("freezer.state"))
                    .is_ok_and(|s| s.trim() == "FROZEN")
            };
            if !wait_until(state) {
                release_group(own, &hold, V1_THAW);
                return Err("the kernel did not freeze the VM's processes in time".into());
            }
            Ok((Vec::new(), moved))
        }
        Layout::V2 { root, own } => {
            let children = |dir: &Path| -> Vec<PathBuf> {
                std::fs::read_dir(dir)
                    .map(|entries| {
                        entries
                            .filter_map(|e| e.ok())
                            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                            .map(|e| e.path())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut subtrees = v2_subtrees(root, own, &children);
            let hold = own.join(HOLD_GROUP);
            if hold.exists() {
                release_group(own, &hold, V2_THAW);
            }
            std::fs::create_dir(&hold)
                .map_err(|e| format!("cannot make the cgroup {}: {e}", hold.display()))?;
            let mut moved = move_all(own, &hold);
            subtrees.push(hold);
            let record: Vec<String> = subtrees.iter().map(|p| p.display().to_string()).collect();
            write(Path::new(V2_RECORD), &record.join("\n"))?;
            for group in &subtrees {
                if let Err(e) = write(&group.join("cgroup.freeze"), "1") {
                    thaw_v2(own, &subtrees);
                    return Err(e);
                }
                moved += u32::try_from(pids_of(group).len()).unwrap_or(u32::MAX);
            }
            if !wait_until(|| subtrees.iter().all(|g| v2_frozen(g))) {
                thaw_v2(own, &subtrees);
                return Err("the kernel did not freeze the VM's processes in time".into());
            }
            Ok((subtrees, moved))
        }
    }
}

fn thaw_v2(own: &Path, subtrees: &[PathBuf]) -> u32 {
    let mut count = 0;
    for group in subtrees {
        if group.file_name().is_some_and(|n| n == HOLD_GROUP) {
            count += release_group(own, group, V2_THAW);
        } else {
            let _ = std::fs::write(group.join(V2_THAW.0), V2_THAW.1);
        }
    }
    let _ = std::fs::remove_file(V2_RECORD);
    count
}

fn thaw_hold(hold: &Hold) -> u32 {
    match &hold.layout {
        Layout::V1 { own } => release_group(own, &own.join(HOLD_GROUP), V1_THAW),
        Layout::V2 { own, .. } => {
            thaw_v2(own, &hold.subtrees);
            hold.processes
        }
    }
}

/// Freeze the VM but the agent for at most `hold_ms`, then flush. A
/// local VM (its `home` set in the config: the agent runs on the user's
/// own machine) is refused: its cgroup holds the user's processes, not a
/// VM's.
pub async fn quiesce(ctx: &crate::exec::ExecContext, hold_ms: u32) -> QueryReply {
    if ctx.home.is_some() {
        return QueryReply::Error {
            reason: "this is a local VM: its processes are its user's own, not frozen".into(),
        };
    }
    if hold_ms == 0 || hold_ms > MAX_QUIESCE_MS {
        return QueryReply::Error {
            reason: format!("a hold must last 1 to {MAX_QUIESCE_MS} ms, not {hold_ms}"),
        };
    }
    let done = tokio::task::spawn_blocking(move || -> Result<(u32, String, u64), String> {
        let mut held = HELD.lock().expect("quiesce lock");
        if held.is_some() {
            return Err("this VM is already held for a snapshot".into());
        }
        let layout = layout()?;
        let (subtrees, processes) = freeze(&layout)?;
        // Flushed after the freeze: nothing dirties a page meanwhile.
        nix::unistd::sync();
        let how = match &layout {
            Layout::V1 { .. } => "cgroup v1 freezer",
            Layout::V2 { .. } => "cgroup v2 freeze",
        };
        let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
        *held = Some(Hold {
            layout,
            subtrees,
            processes,
            generation,
        });
        Ok((processes, how.to_string(), generation))
    })
    .await;
    match done {
        Ok(Ok((processes, how, generation))) => {
            tracing::info!("holding {processes} processes for a snapshot ({how})");
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(u64::from(hold_ms))).await;
                let _ = tokio::task::spawn_blocking(move || {
                    let mut held = HELD.lock().expect("quiesce lock");
                    if held.as_ref().is_some_and(|h| h.generation == generation) {
                        let hold = held.take().expect("checked");
                        thaw_hold(&hold);
                        tracing::warn!("a snapshot hold ran out: the VM was thawed by itself");
                    }
                })
                .await;
            });
            QueryReply::Quiesced { processes, how }
        }
        Ok(Err(reason)) => QueryReply::Error {
            reason: format!("cannot hold the VM still: {reason}"),
        },
        Err(e) => QueryReply::Error {
            reason: format!("cannot hold the VM still: {e}"),
        },
    }
}

/// Thaw what [`quiesce`] froze (nothing frozen: nothing to do).
pub async fn thaw() -> QueryReply {
    let done = tokio::task::spawn_blocking(|| {
        let hold = HELD.lock().expect("quiesce lock").take();
        hold.map_or(0, |h| thaw_hold(&h))
    })
    .await;
    QueryReply::Thawed {
        processes: done.unwrap_or(0),
    }
}

/// At start: thaw a hold a previous run of the agent left.
pub fn recover() {
    let Ok(layout) = layout() else {
        return;
    };
    match &layout {
        Layout::V1 { own } => {
            let hold = own.join(HOLD_GROUP);
            if hold.exists() {
                let n = release_group(own, &hold, V1_THAW);
                tracing::warn!("thawed {n} processes a previous agent left held");
            }
        }
        Layout::V2 { own, .. } => {
            if let Ok(record) = std::fs::read_to_string(V2_RECORD) {
                let subtrees: Vec<PathBuf> = record.lines().map(PathBuf::from).collect();
                thaw_v2(own, &subtrees);
                tracing::warn!("thawed what a previous agent left held");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_CGROUP: &str = "6:freezer:/docker/abc\n1:cpu:/docker/abc\n0::/docker/abc\n";
    const V1_MOUNTS: &str = "\
36 25 0:31 / /sys/fs/cgroup/freezer rw,nosuid shared:15 - cgroup cgroup rw,freezer
37 25 0:32 / /sys/fs/cgroup/unified rw,nosuid shared:16 - cgroup2 cgroup2 rw
";

    #[test]
    fn a_v1_freezer_is_preferred_and_placed_under_its_mount() {
        assert_eq!(
            layout_from(V1_CGROUP, V1_MOUNTS).unwrap(),
            Layout::V1 {
                own: PathBuf::from("/sys/fs/cgroup/freezer/docker/abc")
            }
        );
    }

    #[test]
    fn a_namespaced_mount_root_is_taken_off_the_path() {
        let mounts =
            "36 25 0:31 /docker/abc /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
        assert_eq!(
            layout_from("6:freezer:/docker/abc/sub\n", mounts).unwrap(),
            Layout::V1 {
                own: PathBuf::from("/sys/fs/cgroup/freezer/sub")
            }
        );
    }

    #[test]
    fn unified_alone_is_v2_and_nothing_is_refused() {
        let mounts = "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            layout_from("0::/system.slice/azlin-agent.service\n", mounts).unwrap(),
            Layout::V2 {
                root: PathBuf::from("/sys/fs/cgroup"),
                own: PathBuf::from("/sys/fs/cgroup/system.slice/azlin-agent.service"),
            }
        );
        assert!(layout_from("0::/x\n", "").is_err());
        assert!(layout_from("", V1_MOUNTS).is_err());
    }

    #[test]
    fn v2_freezes_every_other_subtree_but_init_and_the_journal() {
        let root = PathBuf::from("/cg");
        let own = root.join("system.slice/azlin-agent.service");
        let tree = |dir: &Path| -> Vec<PathBuf> {
            let names: &[&str] = match dir.to_str().unwrap() {
                "/cg" => &["init.scope", "system.slice", "user.slice"],
                "/cg/system.slice" => &[
                    "azlin-agent.service",
                    "cron.service",
                    "systemd-journald.service",
                ],
                _ => &[],
            };
            names.iter().map(|n| dir.join(n)).collect()
        };
        assert_eq!(
            v2_subtrees(&root, &own, &tree),
            vec![
                PathBuf::from("/cg/user.slice"),
                PathBuf::from("/cg/system.slice/cron.service"),
            ]
        );
    }

    /// A cgroup2 tree of its own under the host's unified hierarchy
    /// (mounted here for the test: a cgroup v1 host has it too), torn
    /// down however the test ends: thawed, its processes killed, its
    /// groups removed, unmounted.
    struct Sandbox {
        mount: tempfile::TempDir,
        root: PathBuf,
        children: Vec<std::process::Child>,
    }

    impl Sandbox {
        /// A shell loop in `group` that writes a new number to `file`
        /// every 10 ms.
        fn ticker(&mut self, group: &Path, file: &Path) {
            let child = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "i=0; while :; do i=$((i+1)); echo $i > {}; sleep 0.01; done",
                    file.display()
                ))
                .spawn()
                .unwrap();
            std::fs::write(group.join("cgroup.procs"), child.id().to_string()).unwrap();
            self.children.push(child);
        }
    }

    impl Drop for Sandbox {
        fn drop(&mut self) {
            let mut groups: Vec<PathBuf> = Vec::new();
            let mut stack = vec![self.root.clone()];
            while let Some(g) = stack.pop() {
                let _ = std::fs::write(g.join("cgroup.freeze"), "0");
                if let Ok(entries) = std::fs::read_dir(&g) {
                    stack.extend(
                        entries
                            .filter_map(|e| e.ok())
                            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                            .map(|e| e.path()),
                    );
                }
                groups.push(g);
            }
            // Every process of the tree, the loops' `sleep`s too, which
            // outlive a killed shell for a moment and keep a group busy.
            let _ = std::fs::write(self.root.join("cgroup.kill"), "1");
            for c in &mut self.children {
                let _ = c.kill();
                let _ = c.wait();
            }
            // Deepest first; a group empties as its last process is reaped.
            for g in groups.iter().rev() {
                for _ in 0..500 {
                    if std::fs::remove_dir(g).is_ok() || !g.exists() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            let _ = std::process::Command::new("umount")
                .arg(self.mount.path())
                .status();
        }
    }

    /// Whether the number in `file` moves on within a while.
    fn ticks(file: &Path) -> bool {
        let read = || std::fs::read_to_string(file).unwrap_or_default();
        let first = read();
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(20));
            if read() != first {
                return true;
            }
        }
        false
    }

    /// The v2 hold on a real cgroup2 tree laid out as a VM's: the user's
    /// processes and the agent's own commands stop, init keeps running,
    /// and all of it runs again once thawed, with nothing of the hold left.
    #[test]
    fn a_v2_hold_freezes_a_real_cgroup2_tree_and_thaws_it() {
        if !nix::unistd::Uid::effective().is_root() {
            println!("skipped: mounting cgroup2 needs root");
            return;
        }
        let mount = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "cgroup2", "none"])
            .arg(mount.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(mounted, "cgroup2 cannot be mounted here");
        let root = mount
            .path()
            .join(format!("azlin-quiesce-test-{}", std::process::id()));
        let mut sandbox = Sandbox {
            mount,
            root: root.clone(),
            children: Vec::new(),
        };
        let own = root.join("system.slice/azlin-agent.service");
        for g in [
            "init.scope",
            "system.slice/cron.service",
            "user.slice/session-1.scope",
        ] {
            std::fs::create_dir_all(root.join(g)).unwrap();
        }
        std::fs::create_dir_all(&own).unwrap();
        let files = tempfile::tempdir().unwrap();
        let (user, command, init) = (
            files.path().join("user"),
            files.path().join("command"),
            files.path().join("init"),
        );
        sandbox.ticker(&root.join("user.slice/session-1.scope"), &user);
        sandbox.ticker(&own, &command);
        sandbox.ticker(&root.join("init.scope"), &init);
        for f in [&user, &command, &init] {
            assert!(ticks(f), "{} runs before the hold", f.display());
        }

        let layout = Layout::V2 {
            root: root.clone(),
            own: own.clone(),
        };
        let (subtrees, held) = freeze(&layout).unwrap();
        assert!(held >= 2, "held {held}");
        assert!(subtrees.contains(&own.join(HOLD_GROUP)), "{subtrees:?}");
        assert!(subtrees.contains(&root.join("user.slice")), "{subtrees:?}");
        assert!(!subtrees.iter().any(|g| g.ends_with("init.scope")));
        assert!(v2_frozen(&root.join("user.slice")));
        assert!(!ticks(&user), "the user's processes are frozen");
        assert!(!ticks(&command), "the agent's commands are frozen");
        assert!(ticks(&init), "init keeps running");
        assert!(
            Path::new(V2_RECORD).exists(),
            "a restarted agent finds the hold"
        );

        let hold = Hold {
            layout,
            subtrees,
            processes: held,
            generation: 0,
        };
        thaw_hold(&hold);
        assert!(ticks(&user), "the user's processes run again");
        assert!(ticks(&command), "the agent's commands run again");
        assert!(!own.join(HOLD_GROUP).exists());
        assert!(!v2_frozen(&root.join("user.slice")));
        assert!(!Path::new(V2_RECORD).exists());
        let command_pid = sandbox.children[1].id() as i32;
        assert!(
            pids_of(&own).contains(&command_pid),
            "back in the agent's group"
        );
        drop(sandbox);
        // Nothing of the test is left in the host's cgroup tree.
        let mount = tempfile::tempdir().unwrap();
        let looked = std::process::Command::new("mount")
            .args(["-t", "cgroup2", "none"])
            .arg(mount.path())
            .status()
            .is_ok_and(|s| s.success());
        let left = looked && mount.path().join(root.file_name().unwrap()).exists();
        let _ = std::process::Command::new("umount")
            .arg(mount.path())
            .status();
        assert!(!left, "the test's cgroups were left behind");
    }
}
