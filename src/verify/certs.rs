//! What certificate a client is shown, and whether it is the endpoint's own.
//!
//! What certificate a client is shown, and whether it is the endpoint's
//! own. Every handshake completes whatever the certificate, so the chain
//! can be read even when it would be refused; the chain is then checked
//! against three sets of anchors (the system's public roots, the lab
//! origin CAs given with `--origin-ca`, the CAs given with `--ca-file` that
//! devices trust, such as an inspecting proxy's), and a probe whose chain
//! none accepts sends no request.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::model::text::display_escape;

/// The roots and issuing CAs Microsoft's services present certificates
/// from (Learn: "Azure Certificate Authority details"); a chain through
/// one of them is the endpoint's own.
pub const MICROSOFT_CAS: &[&str] = &[
    "DigiCert Global Root CA",
    "DigiCert Global Root G2",
    "DigiCert Global Root G3",
    "Microsoft RSA Root Certificate Authority 2017",
    "Microsoft ECC Root Certificate Authority 2017",
    "Baltimore CyberTrust Root",
];
pub const MICROSOFT_CAS_SOURCE: &str = "Learn: Azure Certificate Authority details";

/// PEM files larger than this are not certificate bundles.
const MAX_PEM: u64 = 16 << 20;

/// The anchors a probe's chain is judged against.
pub struct Trust {
    provider: Arc<CryptoProvider>,
    public: Option<Arc<WebPkiServerVerifier>>,
    origin: Option<Arc<WebPkiServerVerifier>>,
    given: Option<Arc<WebPkiServerVerifier>>,
    /// How many public roots the system store gave.
    pub public_roots: usize,
}

/// Which anchors accept a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Anchor {
    /// A root of the system's store.
    Public,
    /// A CA given with `--origin-ca`: the lab's stand-in for the endpoint.
    OriginCa,
    /// A CA given with `--ca-file`: trusted by devices, not the endpoint's.
    GivenCa,
    None,
}

/// Whose certificate the client was shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presenter {
    /// Through a CA Microsoft uses: the endpoint's own.
    Microsoft,
    /// A lab origin's CA given with `--origin-ca`.
    Origin,
    /// A public CA Microsoft does not list: not an interception (no
    /// public CA issues for it), but not what the endpoint should show.
    OtherPublic,
    /// A CA no public store holds: someone in the path made it.
    Private,
}

/// The chain one handshake showed, and what was made of it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Shown {
    pub subject: String,
    pub issuer: String,
    /// The name the top certificate of the path from the leaf was
    /// issued by.
    pub root: String,
    pub not_after: String,
    pub anchor: Anchor,
    pub presenter: Presenter,
    /// Why a client would refuse it; `None` when some anchor accepts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl Shown {
    pub fn inspected(&self) -> bool {
        self.presenter == Presenter::Private
    }
}

impl Trust {
    /// The system's roots, and the CAs of the two files when given.
    pub fn new(ca_file: Option<&Path>, origin_ca: Option<&Path>) -> Result<Trust, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let native = rustls_native_certs::load_native_certs();
        let mut public = RootCertStore::empty();
        let (public_roots, _) = public.add_parsable_certificates(native.certs);
        let build = |store: RootCertStore| -> Result<Option<Arc<WebPkiServerVerifier>>, String> {
            if store.is_empty() {
                return Ok(None);
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(&provider))
                .build()
                .map(Some)
                .map_err(|e| e.to_string())
        };
        Ok(Trust {
            public: build(public)?,
            origin: build(read_anchors(origin_ca, "--origin-ca")?)?,
            given: build(read_anchors(ca_file, "--ca-file")?)?,
            public_roots,
            provider: Arc::clone(&provider),
        })
    }

    /// A client configuration for one handshake, and where its chain is
    /// recorded.
    pub fn client(&self) -> Result<(Arc<ClientConfig>, Arc<Recorder>), String> {
        let recorder = Arc::new(Recorder {
            public: self.public.clone(),
            origin: self.origin.clone(),
            given: self.given.clone(),
            provider: Arc::clone(&self.provider),
            seen: Mutex::new(None),
        });
        let config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        Ok((Arc::new(config), recorder))
    }
}

fn read_anchors(path: Option<&Path>, flag: &str) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let Some(path) = path else { return Ok(store) };
    let shown = path.display();
    let bytes =
        crate::input::read_limited(path, MAX_PEM).map_err(|e| format!("{flag} {shown}: {e}"))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{flag} {shown}: not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{flag} {shown}: holds no certificate"));
    }
    let (added, refused) = store.add_parsable_certificates(certs);
    if refused > 0 || added == 0 {
        return Err(format!(
            "{flag} {shown}: {refused} certificate(s) are not usable trust anchors"
        ));
    }
    Ok(store)
}

/// Records the chain of one handshake and lets it complete.
#[derive(Debug)]
pub struct Recorder {
    public: Option<Arc<WebPkiServerVerifier>>,
    origin: Option<Arc<WebPkiServerVerifier>>,
    given: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    seen: Mutex<Option<Shown>>,
}

impl Recorder {
    pub fn take(&self) -> Option<Shown> {
        self.seen.lock().ok().and_then(|mut s| s.take())
    }

    fn check(
        &self,
        verifier: &Option<Arc<WebPkiServerVerifier>>,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        now: UnixTime,
    ) -> Option<Result<(), rustls::Error>> {
        verifier.as_ref().map(|v| {
            v.verify_server_cert(end_entity, intermediates, name, &[], now)
                .map(|_| ())
        })
    }
}

/// Whether an error is about the name only: webpki checks the name after
/// it has found a path to an anchor, so such a chain did reach one.
fn name_error(e: &rustls::Error) -> bool {
    use rustls::CertificateError as C;
    matches!(
        e,
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. })
    )
}

/// A time inside the leaf's validity: checked then, a chain fails only
/// for want of an anchor (or for its name), whatever its dates. webpki
/// checks dates before it looks for an issuer, so at the real time an
/// expired certificate would hide which anchor it leads to.
fn mid_validity(end_entity: &CertificateDer<'_>) -> Option<UnixTime> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(end_entity.as_ref()).ok()?;
    let from = cert.validity().not_before.timestamp();
    let to = cert.validity().not_after.timestamp();
    let mid = u64::try_from(from / 2 + to / 2).ok()?;
    Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        mid,
    )))
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let stores = [
            (Anchor::Public, &self.public),
            (Anchor::OriginCa, &self.origin),
            (Anchor::GivenCa, &self.given),
        ];
        let then = mid_validity(end_entity).unwrap_or(now);
        let at = |v, time| self.check(v, end_entity, intermediates, name, time);
        let reached = stores.iter().find(
            |(_, v)| matches!(at(v, then), Some(r) if r.as_ref().err().is_none_or(name_error)),
        );
        let (anchor, refused) = match reached {
            Some((anchor, v)) => (
                *anchor,
                at(v, now).and_then(Result::err).map(|e| describe(&e)),
            ),
            None => (
                Anchor::None,
                Some(no_anchor(stores.iter().filter_map(|(_, v)| at(v, then)))),
            ),
        };
        let mut chain = vec![end_entity];
        chain.extend(intermediates);
        let shown = read_chain(&chain, anchor, refused);
        if let Ok(mut slot) = self.seen.lock() {
            *slot = Some(shown);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A certificate error as a sentence.
fn describe(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired | C::ExpiredContext { .. } => "the certificate has expired".to_string(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the certificate is not valid yet".to_string()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the certificate does not name this host".to_string()
            }
            C::Revoked => "the certificate is revoked".to_string(),
            other => format!("the certificate is refused: {other:?}"),
        },
        other => other.to_string(),
    }
}

/// Why a chain that reaches no anchor is refused: a property of the
/// certificate itself (its usage, its constraints) when some store says
/// so, else the missing issuer.
fn no_anchor(results: impl Iterator<Item = Result<(), rustls::Error>>) -> String {
    results
        .filter_map(Result::err)
        .find(|e| {
            !matches!(
                e,
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            )
        })
        .map(|e| describe(&e))
        .unwrap_or_else(|| "the chain leads to no trusted root (unknown issuer)".to_string())
}

/// Names and dates of the chain as shown.
fn read_chain(chain: &[&CertificateDer<'_>], anchor: Anchor, refused: Option<String>) -> Shown {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .filter_map(|c| X509Certificate::from_der(c.as_ref()).ok().map(|(_, x)| x))
        .collect();
    let cn = |name: &x509_parser::x509::X509Name<'_>| -> String {
        let text = name
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_string)
            .or_else(|| {
                name.iter_organization()
                    .next()
                    .and_then(|a| a.as_str().ok())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        display_escape(&text)
    };
    let leaf = parsed.first();
    let subject = leaf.map(|c| cn(c.subject())).unwrap_or_default();
    let issuer = leaf.map(|c| cn(c.issuer())).unwrap_or_default();
    let not_after = leaf
        .map(|c| {
            let t = c.validity().not_after.to_datetime();
            format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
        })
        .unwrap_or_default();
    // The issuers on the path from the leaf up, following each issuer to
    // the certificate of that subject: extra certificates a server sends
    // do not count, and neither does any subject name.
    let mut path = Vec::new();
    let mut at = leaf;
    while let Some(cert) = at {
        if path.len() > parsed.len() {
            break;
        }
        path.push(cn(cert.issuer()));
        at = parsed
            .iter()
            .find(|c| c.subject() == cert.issuer() && c.subject() != cert.subject());
    }
    let root = path.last().cloned().unwrap_or_default();
    let microsoft = path.iter().any(|n| MICROSOFT_CAS.contains(&n.as_str()));
    let presenter = match anchor {
        Anchor::Public if microsoft => Presenter::Microsoft,
        Anchor::Public => Presenter::OtherPublic,
        Anchor::OriginCa => Presenter::Origin,
        Anchor::GivenCa | Anchor::None => Presenter::Private,
    };
    Shown {
        subject,
        issuer,
        root,
        not_after,
        anchor,
        presenter,
        refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd,
    };

    fn ca(cn: &str) -> (Issuer<'static, KeyPair>, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        (Issuer::new(params, key), cert.der().clone())
    }

    fn leaf(issuer: &Issuer<'_, KeyPair>, expired: bool) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "a.example.com");
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        params.signed_by(&key, issuer).unwrap().der().clone()
    }

    fn shown(recorder: &Recorder, cert: &CertificateDer<'_>) -> Shown {
        let name = ServerName::try_from("a.example.com").unwrap();
        recorder
            .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .unwrap();
        recorder.take().unwrap()
    }

    /// A recorder whose lab-origin store holds an unrelated CA, checked
    /// before the given one: an expired certificate must not be taken
    /// for that store's.
    fn recorder(given: CertificateDer<'static>) -> Recorder {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = |cert: CertificateDer<'static>| {
            let mut store = RootCertStore::empty();
            store.add(cert).unwrap();
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .unwrap()
        };
        let (_, unrelated) = ca("egressgen unit unrelated CA");
        Recorder {
            public: None,
            origin: Some(verifier(unrelated)),
            given: Some(verifier(given)),
            provider: provider.clone(),
            seen: Mutex::new(None),
        }
    }

    #[test]
    fn an_expired_certificate_still_shows_which_anchor_it_leads_to() {
        let (issuer, anchor) = ca("egressgen unit proxy CA");
        let r = recorder(anchor);
        let fresh = shown(&r, &leaf(&issuer, false));
        assert_eq!(
            (fresh.anchor, fresh.presenter, fresh.refused.as_deref()),
            (Anchor::GivenCa, Presenter::Private, None)
        );
        assert_eq!(fresh.issuer, "egressgen unit proxy CA");
        let old = shown(&r, &leaf(&issuer, true));
        assert_eq!(
            (old.anchor, old.refused.as_deref()),
            (Anchor::GivenCa, Some("the certificate has expired"))
        );
    }

    #[test]
    fn a_name_alone_makes_nobody_microsoft() {
        let (_, anchor) = ca("egressgen unit proxy CA");
        let r = recorder(anchor);
        // Self-signed, expired, named like a root Microsoft uses.
        let (impostor, _) = ca("DigiCert Global Root G2");
        let s = shown(&r, &leaf(&impostor, true));
        assert_eq!((s.anchor, s.presenter), (Anchor::None, Presenter::Private));
        assert_eq!(s.root, "DigiCert Global Root G2");
        assert!(s.refused.unwrap().contains("unknown issuer"));
    }
}
