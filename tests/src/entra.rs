//! A stand-in Microsoft Entra ID token endpoint, over real HTTPS on
//! loopback (azure_identity refuses an authority that is not HTTPS): a
//! certificate authority made here signs the server's certificate for
//! 127.0.0.1, and the CA's PEM goes in a file for `SSL_CERT_FILE`, which
//! the platform verifier under azure_core reads. Each
//! `POST /{tenant}/oauth2/v2.0/token` is recorded (its form fields) and
//! answered with a bearer token when the client secret matches, or Entra's
//! `invalid_client` error when it does not.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    sync::{Arc, Mutex},
};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

pub struct TokenServer {
    addr: SocketAddr,
    /// The CA to trust, as a PEM file.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
    /// Each token request: its path and form fields.
    pub requests: Arc<Log>,
}

impl TokenServer {
    /// Issues `token` to a client presenting `secret`.
    pub fn start(secret: &str, token: &str) -> Self {
        azlin_protocol::install_crypto_provider();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(
                    vec![server.der().clone(), ca_cert.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
                )
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (log, secret, token) = (requests.clone(), secret.to_string(), token.to_string());
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, log, secret, token) =
                    (config.clone(), log.clone(), secret.clone(), token.clone());
                std::thread::spawn(move || {
                    let tls = rustls::ServerConnection::new(config).unwrap();
                    let stream = rustls::StreamOwned::new(tls, tcp);
                    let _ = serve(stream, &log, &secret, &token);
                });
            }
        });
        Self {
            addr,
            ca_file,
            _dir: dir,
            requests,
        }
    }

    /// For `AZURE_AUTHORITY_HOST`.
    pub fn authority(&self) -> String {
        format!("https://{}/", self.addr)
    }
}

/// Token requests: path and form fields.
pub type Log = Mutex<Vec<(String, BTreeMap<String, String>)>>;

fn serve<S: Read + Write>(stream: S, log: &Log, secret: &str, token: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut length = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let form: BTreeMap<String, String> = String::from_utf8_lossy(&body)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let good = form.get("client_secret").map(String::as_str) == Some(secret);
    log.lock().unwrap().push((path, form));
    let (status, answer) = if good {
        (
            "200 OK",
            format!(
                r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{token}"}}"#
            ),
        )
    } else {
        (
            "401 Unauthorized",
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#.to_string(),
        )
    };
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    stream.flush()
}

/// `application/x-www-form-urlencoded` decoding.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
