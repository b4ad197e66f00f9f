//! Drive a program on a real pseudo-terminal, as a person at a terminal
//! would: it gets the PTY as its controlling terminal, keys are typed into
//! the master, everything it draws is collected, and the window can be
//! resized (the kernel sends SIGWINCH).

use std::{
    fs::File,
    io::{Read, Write},
    os::fd::{AsRawFd, OwnedFd},
    os::unix::process::CommandExt,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

pub struct Pty {
    master: File,
    child: Child,
    /// Everything drawn, and a signal for each new piece (so waiting for a
    /// keystroke's echo costs no polling delay).
    screen: Arc<(Mutex<Vec<u8>>, Condvar)>,
    /// The reader has seen the terminal close: everything drawn is in
    /// `screen`.
    drained: Arc<std::sync::atomic::AtomicBool>,
}

fn winsize(cols: u16, rows: u16) -> nix::pty::Winsize {
    nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Pty {
    /// Start `cmd` on a new `cols`×`rows` terminal.
    pub fn spawn(mut cmd: Command, cols: u16, rows: u16) -> Self {
        let pair = nix::pty::openpty(&winsize(cols, rows), None).expect("openpty");
        let slave: OwnedFd = pair.slave;
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave.try_clone().unwrap()));
        // SAFETY: setsid and ioctl are plain system calls, safe between fork
        // and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        drop(slave);
        let master = File::from(pair.master);
        let screen = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = screen.clone();
        let drained = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = drained.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Ends at EOF, or EIO once every holder of the slave is gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.0.lock().unwrap().extend_from_slice(&buf[..n]);
                sink.1.notify_all();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        Self {
            master,
            child,
            screen,
            drained,
        }
    }

    /// Type `keys`.
    pub fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
    }

    /// Everything drawn so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.0.lock().unwrap()).into_owned()
    }

    /// How much has been drawn: a mark for [`Pty::wait_for`].
    pub fn mark(&self) -> usize {
        self.screen.0.lock().unwrap().len()
    }

    /// Wait until `needle` is drawn after `mark`; panic with the screen if
    /// it is not within `timeout`. Returns how long it took.
    pub fn wait_for(&self, mark: usize, needle: &str, timeout: Duration) -> Duration {
        self.wait_until(mark, timeout, |tail| {
            String::from_utf8_lossy(tail).contains(needle)
        })
        .unwrap_or_else(|| {
            panic!(
                "{needle:?} was not drawn within {timeout:?}; the screen since the mark:\n{}",
                String::from_utf8_lossy(&self.screen.0.lock().unwrap()[mark..])
            )
        })
    }

    /// Wait until what was drawn after `mark` satisfies `done`; how long
    /// that took, or `None` after `timeout`.
    pub fn wait_until(
        &self,
        mark: usize,
        timeout: Duration,
        done: impl Fn(&[u8]) -> bool,
    ) -> Option<Duration> {
        let start = Instant::now();
        let mut screen = self.screen.0.lock().unwrap();
        loop {
            if done(&screen[mark.min(screen.len())..]) {
                return Some(start.elapsed());
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return None;
            }
            screen = self.screen.1.wait_timeout(screen, left).unwrap().0;
        }
    }

    /// Resize the window; the program gets SIGWINCH.
    pub fn resize(&self, cols: u16, rows: u16) {
        let ws = winsize(cols, rows);
        // SAFETY: TIOCSWINSZ reads one winsize through the pointer.
        let rc = unsafe { nix::libc::ioctl(self.master.as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) };
        assert_eq!(rc, 0, "resize");
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait for the program to exit, and for what it drew last to be read
    /// (up to 5 s more, for programs that leave a child holding the
    /// terminal).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let exited = Instant::now();
                while !self.drained.load(std::sync::atomic::Ordering::SeqCst)
                    && exited.elapsed() < Duration::from_secs(5)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return status;
            }
            if start.elapsed() > timeout {
                panic!(
                    "still running after {timeout:?}; the screen:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
