//! A real HTTP/1.1 server on loopback that records each POST it receives
//! (when, and its JSON body) and answers 500 to the first `fail_first`
//! requests (counted across connections), to test the webhook channel and its retries.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener},
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;

#[derive(Default)]
struct Log {
    /// Every request, failed ones too: (when, body).
    attempts: Vec<(Instant, Value)>,
    /// Requests answered 2xx.
    delivered: Vec<(Instant, Value)>,
}

pub struct WebhookServer {
    pub addr: SocketAddr,
    log: Arc<(Mutex<Log>, Condvar)>,
}

impl WebhookServer {
    pub fn start(fail_first: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new((Mutex::new(Log::default()), Condvar::new()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                // Keep-alive connections carry many requests: serve each.
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, fail_first, &shared));
            }
        });
        Self { addr, log }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Bodies answered 2xx so far.
    pub fn delivered(&self) -> Vec<Value> {
        let log = self.log.0.lock().unwrap();
        log.delivered.iter().map(|(_, b)| b.clone()).collect()
    }

    pub fn attempts(&self) -> usize {
        self.log.0.lock().unwrap().attempts.len()
    }

    /// Wait until `cond` holds for the delivered bodies; panics after
    /// `timeout` showing what did arrive.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        cond: impl Fn(&[Value]) -> bool,
    ) -> Instant {
        let (lock, cv) = &*self.log;
        let deadline = Instant::now() + timeout;
        let mut log = lock.lock().unwrap();
        loop {
            let bodies: Vec<Value> = log.delivered.iter().map(|(_, b)| b.clone()).collect();
            if cond(&bodies) {
                return log.delivered.last().map_or_else(Instant::now, |(t, _)| *t);
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "timed out waiting for {what}; delivered: {bodies:#?}"
            );
            log = cv.wait_timeout(log, deadline - now).unwrap().0;
        }
    }

    /// When each delivered body arrived.
    pub fn delivered_at(&self) -> Vec<(Instant, Value)> {
        self.log.0.lock().unwrap().delivered.clone()
    }
}

fn serve(stream: std::net::TcpStream, fail_first: usize, log: &(Mutex<Log>, Condvar)) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let ok;
        {
            let (lock, cv) = log;
            let mut log = lock.lock().unwrap();
            ok = line.starts_with("POST ") && log.attempts.len() >= fail_first;
            log.attempts.push((at, value.clone()));
            if ok {
                log.delivered.push((at, value));
            }
            cv.notify_all();
        }
        let reply = if ok {
            "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
        } else {
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
