//! `azlin storage` on the docker provider, end to end: `create` starts a
//! real NFS server (nfs-ganesha, `deploy/nfs-image`) on the fleet's
//! network, configured by azlin to export `/home` root squashed to that
//! network alone; a userspace NFS 4.1 client (`nfs_probe`; this machine's
//! kernel has no NFS client) proves it speaks 4.1 and not 4.0, squashes
//! root, keeps a user's uid, serves what one session wrote to another,
//! and hides the export from a client outside the network; `create`
//! again changes nothing; `list` and `status` show it with no price (no
//! bill) and say its files live in memory. `storage mount` on a docker
//! VM runs through its agent up to the kernel's mount call: the NFS
//! client is installed, the kernel's refusal is explained and
//! `/etc/fstab` is left as it was; a folder `fstab` already uses is
//! refused; `unmount` removes exactly its own line. `new --nfs-storage`
//! gives the export's root folder to uid 1000 before the VM is made, and
//! the VM comes up with its agent saying why the mount failed (`new`,
//! `status`). `delete` removes the server.

use std::{net::SocketAddr, time::Duration};

use azlin_e2e::{
    docker::{DockerEnv, TEST_SUBNET, docker_ok, image, nfs_image},
    nfs_probe::{
        self, NFS4_OK, NFS4ERR_ACCESS, NFS4ERR_MINOR_VERS_MISMATCH, NFS4ERR_NOENT,
        NFS4ERR_OP_NOT_IN_SESSION, Session,
    },
};

/// Ganesha's anonymous uid (-2), which a squashed root becomes.
const ANONYMOUS: &str = "4294967294";
use serde_json::Value;

#[test]
fn a_docker_storage_is_a_real_nfs_41_server_for_the_fleet_alone() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.configure(&format!("nfs_image = \"{}\"\n", nfs_image()));
    let out = env.ok(&["storage", "create", "teamnfs", "--provider", "docker"]);
    assert!(
        out.contains(&format!(
            "exports /home (100 GiB, root squashed) to {TEST_SUBNET} only"
        )),
        "{out}"
    );
    let list: Vec<Value> =
        serde_json::from_str(&env.ok(&["storage", "list", "--provider", "docker", "--json"]))
            .unwrap();
    assert_eq!(list.len(), 1, "{list:#?}");
    let s = &list[0]["storage"];
    assert_eq!(s["name"], "teamnfs");
    assert_eq!(s["root_squash"], true);
    assert!(
        s["reachable_from"].as_str().unwrap().contains(TEST_SUBNET),
        "{s}"
    );
    assert!(list[0]["per_month"].is_null());
    assert_eq!(list[0]["price_note"], "docker storage has no bill");
    assert!(
        s["notes"].to_string().contains("open files by handle"),
        "{s}"
    );
    let export = s["export"].as_str().unwrap();
    let (host, path) = export.split_once(':').unwrap();
    assert_eq!(path, "/home");

    // The server azlin configured, as it runs.
    let container = s["place"]
        .as_str()
        .unwrap()
        .strip_prefix("container ")
        .unwrap()
        .to_string();
    let conf = docker_ok(&["exec", &container, "cat", "/etc/ganesha/ganesha.conf"]);
    assert!(conf.contains("Squash = Root_Squash;"), "{conf}");
    assert!(
        conf.contains(&format!("Clients = {TEST_SUBNET};")),
        "{conf}"
    );

    // It speaks NFS 4.1 (EXCHANGE_ID, sessions), not 4.0.
    let server: SocketAddr = format!("{host}:2049").parse().unwrap();
    assert_eq!(nfs_probe::exchange_id(server, 1).unwrap(), NFS4_OK);
    assert_eq!(
        nfs_probe::putrootfh(server, 1).unwrap(),
        NFS4ERR_OP_NOT_IN_SESSION
    );
    assert_eq!(
        nfs_probe::exchange_id(server, 0).unwrap(),
        NFS4ERR_MINOR_VERS_MISMATCH
    );

    // What it serves, through two clients of its own (NFS 4.1 sessions):
    // root is squashed (its file belongs to the anonymous user), a user
    // keeps their own uid, and what one session wrote another reads.
    let mut root = Session::open(server, "root-on-vm", 0).unwrap();
    assert_eq!(root.write("home", "by-root", b"squashed").unwrap(), NFS4_OK);
    assert_eq!(
        root.owner("home", "by-root").unwrap(),
        Ok(ANONYMOUS.to_string())
    );
    let mut dev = Session::open(server, "dev-on-vm-1", 1000).unwrap();
    assert_eq!(
        dev.write("home", "notes.txt", b"written on vm-1").unwrap(),
        NFS4_OK
    );
    assert_eq!(
        dev.owner("home", "notes.txt").unwrap(),
        Ok("1000".to_string())
    );
    let mut dev_elsewhere = Session::open(server, "dev-on-vm-2", 1000).unwrap();
    assert_eq!(
        dev_elsewhere.read("home", "notes.txt").unwrap(),
        Ok(b"written on vm-1".to_vec())
    );

    // From outside the fleet's network (the server joined to Docker's
    // default bridge too, and asked there): the export is not even there.
    docker_ok(&["network", "connect", "bridge", &container]);
    let outside = docker_ok(&[
        "inspect",
        "--format",
        "{{(index .NetworkSettings.Networks \"bridge\").IPAddress}}",
        &container,
    ]);
    let outside: SocketAddr = format!("{}:2049", outside.trim()).parse().unwrap();
    let mut stranger = Session::open(outside, "not-in-the-fleet", 1000).unwrap();
    assert_eq!(
        stranger.write("home", "intruder", b"x").unwrap(),
        NFS4ERR_NOENT
    );
    docker_ok(&["network", "disconnect", "bridge", &container]);

    // Again: the same server.
    env.ok(&["storage", "create", "teamnfs", "--provider", "docker"]);
    let servers: Vec<String> = env
        .containers()
        .into_iter()
        .filter(|c| c.contains("storage-"))
        .collect();
    assert_eq!(servers, vec![container.clone()]);
    let status = env.ok(&["storage", "status", "teamnfs", "--provider", "docker"]);
    assert!(
        status.contains("price:      - (docker storage has no bill)"),
        "{status}"
    );

    // Mounted on a docker VM through its agent, up to the kernel's call.
    env.ok(&["new", "--provider", "docker", "--name", "nfsvm"]);
    env.wait("connected", Duration::from_secs(90), || {
        env.connected("nfsvm")
    });
    let vm = env.container("nfsvm");
    let set_fstab = |text: &str| {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("fstab");
        std::fs::write(&f, text).unwrap();
        docker_ok(&["cp", &f.display().to_string(), &format!("{vm}:/etc/fstab")]);
    };
    let fstab = || docker_ok(&["exec", &vm, "cat", "/etc/fstab"]);
    let users =
        "# the user's own\nUUID=abc / ext4 defaults 0 1\nother:/data /mnt/data nfs4 defaults 0 0\n";
    set_fstab(users);
    let err = env.fails(&["storage", "mount", "teamnfs", "--vm", "nfsvm"]);
    let kernel_nfs = std::fs::read_to_string("/proc/filesystems")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().last() == Some("nfs4"));
    if kernel_nfs {
        assert!(err.contains("the kernel did not mount"), "{err}");
    } else {
        assert!(
            err.contains("this kernel has no NFS client: nfs4 is not in /proc/filesystems"),
            "{err}"
        );
    }
    assert!(err.contains("/etc/fstab is unchanged"), "{err}");
    assert_eq!(fstab(), users);
    assert!(
        docker_ok(&[
            "exec",
            &vm,
            "sh",
            "-c",
            "command -v mount.nfs4 || ls /sbin/mount.nfs4"
        ])
        .contains("mount.nfs4"),
        "the NFS client was installed"
    );
    let err = env.fails(&[
        "storage",
        "mount",
        "teamnfs",
        "--vm",
        "nfsvm",
        "--path",
        "/mnt/data",
    ]);
    assert!(
        err.contains("/etc/fstab mounts other:/data at /mnt/data already"),
        "{err}"
    );
    let err = env.fails(&[
        "storage",
        "mount",
        "teamnfs",
        "--vm",
        "nfsvm",
        "--path",
        "/mnt/../etc",
    ]);
    assert!(err.contains("is not a folder to mount at"), "{err}");
    assert_eq!(fstab(), users);

    // As a reboot would find it: its line, and the same export elsewhere.
    let ours = azlin_protocol::mount::fstab_line(export, "/mnt/teamnfs");
    let elsewhere = format!("{export} /srv/copy nfs4 defaults 0 0\n");
    set_fstab(&format!("{users}{ours}\n{elsewhere}"));
    let out = env.ok(&["storage", "unmount", "teamnfs", "--vm", "nfsvm"]);
    assert!(out.contains("removed its /etc/fstab line"), "{out}");
    assert_eq!(fstab(), format!("{users}{elsewhere}"));
    let err = env.fails(&["storage", "unmount", "teamnfs", "--vm", "nfsvm"]);
    assert!(
        err.contains("is not mounted at /mnt/teamnfs, nor in /etc/fstab"),
        "{err}"
    );

    // A VM whose home is the storage. One that is not there makes no VM.
    let before = env.containers();
    let err = env.fails(&[
        "new",
        "--provider",
        "docker",
        "--name",
        "nohome",
        "--nfs-storage",
        "nosuch",
    ]);
    assert!(err.contains("no docker storage nosuch"), "{err}");
    assert_eq!(env.containers(), before);
    // The share's root folder is given to uid 1000 before the VM is made
    // (the server does it: nothing squashed is asked to); the VM is made
    // with its user at that uid, comes up, and its agent tries the mount
    // and says why it could not, which `new` and `status` show; `fstab`
    // is unchanged and the local home stays.
    let out = env.run(&[
        "new",
        "--provider",
        "docker",
        "--name",
        "homevm",
        "--nfs-storage",
        "teamnfs",
    ]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    let refusal = if kernel_nfs {
        "the kernel did not mount"
    } else {
        "this kernel has no NFS client: nfs4 is not in /proc/filesystems"
    };
    assert!(
        said.contains(&format!(
            "home (the VM runs on with its local home): {export} NOT mounted"
        )),
        "{said}"
    );
    assert!(said.contains(refusal), "{said}");
    assert_eq!(
        docker_ok(&["exec", &container, "stat", "-c", "%u %a", "/srv/azlin-nfs"]).trim(),
        "1000 755"
    );
    let home_vm = env.container("homevm");
    // Only a VM whose home is shared may mount NFS (CAP_SYS_ADMIN, no
    // AppArmor profile), and its creation says so.
    assert!(said.contains("its container may mount NFS"), "{said}");
    let caps = |c: &str| {
        docker_ok(&[
            "inspect",
            "--format",
            "{{.HostConfig.CapAdd}} {{.HostConfig.SecurityOpt}}",
            c,
        ])
    };
    let granted = caps(&home_vm);
    assert!(
        granted.contains("SYS_ADMIN") && granted.contains("apparmor=unconfined"),
        "{granted}"
    );
    let plain = caps(&vm);
    assert!(!plain.contains("SYS_ADMIN"), "{plain}");
    let user = docker_ok(&["exec", &home_vm, "getent", "passwd", "1000"]);
    let home_dir = user.trim().split(':').nth(5).unwrap().to_string();
    assert!(home_dir.starts_with("/home/"), "{user}");
    let status = env.ok(&["status", "homevm"]);
    assert!(
        status.contains(&format!("home:        {export} NOT mounted: ")),
        "{status}"
    );
    assert!(status.contains(refusal), "{status}");
    let vm_fstab = docker_ok(&["exec", &home_vm, "cat", "/etc/fstab"]);
    assert!(!vm_fstab.contains(export), "{vm_fstab}");
    docker_ok(&[
        "exec",
        &home_vm,
        "test",
        "-f",
        &format!("{home_dir}/.ssh/authorized_keys"),
    ]);
    // The root folder is the user's now: they write there, others not.
    let mut dev = Session::open(server, "dev-home", 1000).unwrap();
    assert_eq!(dev.write("home", "mine", b"x").unwrap(), NFS4_OK);
    let mut other = Session::open(server, "someone-else", 1001).unwrap();
    assert_eq!(other.write("home", "theirs", b"x").unwrap(), NFS4ERR_ACCESS);
    // Restarted, the server leaves the owner and mode as they are.
    docker_ok(&["restart", &container]);
    env.wait("the server back", Duration::from_secs(30), || {
        docker_ok(&["logs", &container])
            .matches("NFS SERVER INITIALIZED")
            .count()
            >= 2
    });
    assert_eq!(
        docker_ok(&["exec", &container, "stat", "-c", "%u %a", "/srv/azlin-nfs"]).trim(),
        "1000 755"
    );
    env.ok(&["kill", "homevm"]);

    // Asked, nfsvm's agent says it has nothing mounted, so delete goes on.
    let shown: Value = serde_json::from_str(&env.ok(&[
        "storage",
        "status",
        "teamnfs",
        "--provider",
        "docker",
        "--json",
    ]))
    .unwrap();
    assert_eq!(shown[0]["mounted_on"], serde_json::json!([]), "{shown}");
    assert_eq!(shown[0]["not_asked"], serde_json::json!([]), "{shown}");

    // Deleted: the server is gone.
    let out = env.ok(&[
        "storage",
        "delete",
        "teamnfs",
        "--provider",
        "docker",
        "--yes",
    ]);
    assert!(out.contains("deleted storage teamnfs"), "{out}");
    assert!(!env.containers().contains(&container));
    assert!(
        !azlin_e2e::docker::docker(&["volume", "inspect", &format!("{container}-data")])
            .status
            .success(),
        "its files went with it"
    );
    let err = env.fails(&["storage", "status", "teamnfs", "--provider", "docker"]);
    assert!(err.contains("no docker storage teamnfs"), "{err}");
}
