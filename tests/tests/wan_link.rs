//! The WAN emulator the benchmarks use (`azlin_e2e::wan`): two network
//! namespaces joined through TUN devices by a userspace relay. Packets
//! cross it both ways (a TCP stream carries a megabyte intact);
//! a link that loses every packet carries none, and counts them lost.
//! No time is asserted; the benchmarks measure it.

use std::{
    io::{Read, Write},
    process::Stdio,
    sync::atomic::Ordering,
    time::Duration,
};

use azlin_e2e::wan::{self, ADDR_B, Shape, WanLink};

fn skip() -> bool {
    if let Some(why) = wan::unavailable() {
        eprintln!("skipped: {why}");
        return true;
    }
    false
}

#[test]
fn packets_cross_the_link_both_ways_and_tcp_carries_a_stream_intact() {
    if skip() {
        return;
    }
    let shape = Shape::symmetric(Duration::from_millis(20), 0.0, Some(100.0));
    let link = WanLink::start("azlin-wan-t1", shape, shape).unwrap();
    // A megabyte over TCP from B's listener to A, byte for byte (python3
    // on each side: a listener in B, a client in A).
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut server = link
        .command(false, "python3")
        .args([
            "-c",
            &format!(
                "import socket,sys\nd=sys.stdin.buffer.read()\ns=socket.socket()\n\
                 s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('{ADDR_B}',7070))\n\
                 s.listen(1)\nprint('ready',flush=True)\nc,_=s.accept()\nc.sendall(d)\nc.close()\n"
            ),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    server.stdin.take().unwrap().write_all(&data).unwrap();
    let mut ready = [0u8; 6];
    server
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut ready)
        .unwrap();
    let client = link
        .command(true, "python3")
        .args([
            "-c",
            &format!(
                "import socket,sys\nc=socket.create_connection(('{ADDR_B}',7070),timeout=30)\n\
                 out=sys.stdout.buffer\nwhile True:\n    b=c.recv(65536)\n    if not b: break\n    out.write(b)\n"
            ),
        ])
        .output()
        .unwrap();
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert_eq!(client.stdout.len(), data.len());
    assert!(client.stdout == data, "the stream arrived changed");
    assert!(server.wait().unwrap().success());
    // Both directions carried packets (data one way, acknowledgements the
    // other).
    assert!(link.counts[0].carried.load(Ordering::Relaxed) > 0);
    assert!(link.counts[1].carried.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_link_that_loses_everything_carries_nothing() {
    if skip() {
        return;
    }
    let lossy = Shape::symmetric(Duration::ZERO, 1.0, None);
    let link = WanLink::start("azlin-wan-t2", lossy, lossy).unwrap();
    let connect = link
        .command(true, "python3")
        .args([
            "-c",
            &format!("import socket\nsocket.create_connection(('{ADDR_B}',7070),timeout=2)\n"),
        ])
        .output()
        .unwrap();
    assert!(!connect.status.success());
    assert_eq!(link.counts[0].carried.load(Ordering::Relaxed), 0);
    assert!(link.counts[0].lost.load(Ordering::Relaxed) >= 1);
    drop(link);
    // The namespaces are gone with it.
    let listed = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("azlin-wan-t2"));
}
