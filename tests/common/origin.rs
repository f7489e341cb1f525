//! The far end of the `verify` tests, all on loopback: a test PKI (an
//! origin CA, a leaf naming every probe host, an expired leaf, a proxy CA
//! for Squid's ssl-bump) and origin servers that answer, stall, reset or
//! present an expired certificate.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::pki::{Ca, Cert, Validity};
use super::squid::ProxyCa;

pub const ORIGIN_CA_CN: &str = "egressgen test origin CA";
pub const PROXY_CA_CN: &str = "egressgen test proxy CA";
const LEAF_CN: &str = "egressgen test origin";

/// The test PKI: the origin CA's certificate file, a leaf it signed and an
/// expired one, and the proxy CA.
pub struct Pki {
    pub origin_ca: PathBuf,
    pub leaf: Cert,
    pub expired: Cert,
    pub proxy: ProxyCa,
}

/// An origin CA with a leaf for `names` (and an expired one), and a
/// proxy CA, written into `dir`.
pub fn pki(dir: &Path, names: &[String]) -> Pki {
    let origin = Ca::new(ORIGIN_CA_CN);
    Pki {
        origin_ca: origin.cert().write(dir, "origin-ca").crt,
        leaf: origin.sign(LEAF_CN, names, Validity::Current),
        expired: origin.sign(LEAF_CN, names, Validity::Expired),
        proxy: ProxyCa::new(dir, PROXY_CA_CN),
    }
}

/// What an origin does with a TLS connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Completes the handshake and answers 200.
    Answer,
    /// Accepts and never says a word.
    Stall,
    /// Accepts, lets the client hello arrive, closes unread: a reset.
    Reset,
}

fn server_config(cert_key: &Cert) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_key.cert.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(cert_key.key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

fn bind(addr: &str, port: u16) -> TcpListener {
    TcpListener::bind((addr, port)).unwrap_or_else(|e| {
        panic!("the verify test needs {addr}:{port} for an origin (run as root, port free): {e}")
    })
}

/// Reads a request head and answers 200 with the body `origin`.
fn answer<S: Read + Write>(stream: &mut S) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\norigin");
    let _ = stream.flush();
}

/// An origin on `addr`: HTTP on 80 (when `http`) and TLS on 443 with
/// `cert_key`, behaving as told, for the rest of the test process.
pub fn serve(addr: &str, http: bool, cert_key: &Cert, behaviour: Behaviour) {
    if http {
        let listener = bind(addr, 80);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut conn = conn;
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    answer(&mut conn);
                });
            }
        });
    }
    let listener = bind(addr, 443);
    let config = server_config(cert_key);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || handle(conn, config, behaviour));
        }
    });
}

fn handle(conn: TcpStream, config: Arc<rustls::ServerConfig>, behaviour: Behaviour) {
    match behaviour {
        Behaviour::Stall => std::thread::sleep(Duration::from_secs(120)),
        Behaviour::Reset => std::thread::sleep(Duration::from_millis(200)),
        Behaviour::Answer => {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(server) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(server, conn);
            answer(&mut tls);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    }
}
