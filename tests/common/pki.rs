//! The one certificate maker of the tests, by one mechanism: rcgen.
//! Keys are ECDSA P-256 (ring makes no RSA key); Squid 5.7's ssl-bump and
//! `security_file_certgen`, Python's ssl, `openssl s_server`, rustls and
//! egressgen take them. Everything is written as PEM.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};

use super::squid::chmod;

/// When a certificate is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// From an hour ago for two days.
    Current,
    /// The year 2020: long expired.
    Expired,
}

/// A certificate and its private key, both PEM.
pub struct Cert {
    pub cert: String,
    pub key: String,
}

/// Where [`Cert::write`] put a certificate and its key.
pub struct Files {
    pub crt: PathBuf,
    pub key: PathBuf,
}

fn params(cn: &str, names: &[String], validity: Validity) -> CertificateParams {
    // A name that parses as an IP address becomes an IP SAN, any other a
    // DNS SAN.
    let mut params = CertificateParams::new(names.to_vec()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    match validity {
        Validity::Current => {
            let now = time::OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::HOUR;
            params.not_after = now + time::Duration::days(2);
        }
        Validity::Expired => {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
    }
    params
}

impl Cert {
    /// A self-signed end-entity certificate named `cn` for `names` (DNS
    /// names or IP addresses; none for a certificate that names no host).
    pub fn self_signed(cn: &str, names: &[String]) -> Cert {
        let key = KeyPair::generate().unwrap();
        let cert = params(cn, names, Validity::Current)
            .self_signed(&key)
            .unwrap();
        Cert {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// `NAME.crt` and `NAME.key` in `dir`, readable by the user Squid
    /// switches to.
    pub fn write(&self, dir: &Path, name: &str) -> Files {
        let files = Files {
            crt: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        for (path, pem) in [(&files.crt, &self.cert), (&files.key, &self.key)] {
            std::fs::write(path, pem).unwrap();
            chmod(path, 0o644);
        }
        files
    }

    /// `NAME.pem` in `dir`: the key, then the certificate, in one file, as
    /// Squid's `tls-cert` (our `bump_cert`) takes it.
    pub fn write_combined(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, format!("{}{}", self.key, self.cert)).unwrap();
        chmod(&path, 0o644);
        path
    }
}

/// A self-signed certificate authority that signs leaves.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    /// A CA named `cn`, as Squid's ssl-bump needs one to sign with:
    /// basicConstraints CA:TRUE, keyUsage keyCertSign and cRLSign.
    pub fn new(cn: &str) -> Ca {
        let mut params = params(cn, &[], Validity::Current);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    /// The CA's own certificate and key.
    pub fn cert(&self) -> Cert {
        Cert {
            cert: self.issuer.pem(),
            key: self.issuer.key().serialize_pem(),
        }
    }

    /// A certificate named `cn` for `names` (DNS names or IP addresses),
    /// signed by this CA.
    pub fn sign(&self, cn: &str, names: &[String], validity: Validity) -> Cert {
        let key = KeyPair::generate().unwrap();
        let cert = params(cn, names, validity)
            .signed_by(&key, &self.issuer)
            .unwrap();
        Cert {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}
