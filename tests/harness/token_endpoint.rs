//! The lab's identity provider: an OAuth2 token endpoint on 127.0.0.1 that issues the
//! JWT access tokens the lab's Dovecot accepts — what login.microsoftonline.com is to
//! Microsoft 365. Grants: client credentials; the device authorization grant (the device
//! endpoint beside the token endpoint, as Microsoft's; the user "signs in" after the
//! first poll) with a refresh token; the refresh token grant for the refresh tokens it
//! issued. Served by hyper in the test process, over TLS with the lab's certificate when
//! the lab has one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{oauth2_token, MailLab, OAUTH2_KEY};

pub struct TokenEndpoint {
    /// `http://127.0.0.1:PORT/tenant/oauth2/v2.0/token`, or `https://localhost:…` over TLS.
    pub url: String,
    /// Requests answered, refused ones included.
    pub requests: Arc<AtomicUsize>,
    /// Every access token handed out, in order, with the scope asked for.
    pub issued: Arc<Mutex<Vec<(String, String)>>>,
    /// Refresh tokens handed out (device grant), in order.
    pub refresh_tokens: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

/// What the endpoint remembers between requests.
#[derive(Clone)]
struct State {
    client: Client,
    counter: Arc<AtomicUsize>,
    issued: Arc<Mutex<Vec<(String, String)>>>,
    refresh_tokens: Arc<Mutex<Vec<String>>>,
    /// Polls of the device code so far (the sign-in is done after the first).
    device_polls: Arc<AtomicUsize>,
}

/// The device code the endpoint hands out (a secret of the sign-in).
pub const DEVICE_CODE: &str = "lab-device-code-Secret-0d9c";

/// Who may ask and for whom tokens are issued.
#[derive(Clone)]
pub struct Client {
    pub id: &'static str,
    pub secret: &'static str,
    /// The mailbox the tokens sign in as (`sub`).
    pub user: &'static str,
    /// The first this many tokens for each scope are signed with a key the lab does not
    /// trust (as a token revoked after it was issued would be refused).
    pub revoked_first: usize,
}

impl Client {
    /// A public client (no secret), as a device sign-in uses.
    fn is_public(&self) -> bool {
        self.secret.is_empty()
    }
}

impl TokenEndpoint {
    /// Starts the endpoint in the current tokio runtime; with `tls`, over HTTPS with the
    /// lab's certificate (for `localhost`).
    pub async fn start(lab: &MailLab, client: Client, tls: bool) -> TokenEndpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = tls.then(|| {
            assert!(lab.tls.is_some(), "TokenEndpoint: TLS needs a lab with TLS");
            let dir = lab.dir.join("tls");
            let chain = CertificateDer::pem_file_iter(dir.join("server.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        });
        let requests = Arc::new(AtomicUsize::new(0));
        let issued = Arc::new(Mutex::new(Vec::new()));
        let refresh_tokens = Arc::new(Mutex::new(Vec::new()));
        let state = State {
            client,
            counter: requests.clone(),
            issued: issued.clone(),
            refresh_tokens: refresh_tokens.clone(),
            device_polls: Arc::new(AtomicUsize::new(0)),
        };
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| answer(req, state.clone()));
                    let http = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        Some(a) => {
                            if let Ok(tls) = a.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
        let host = if tls { "localhost" } else { "127.0.0.1" };
        let scheme = if tls { "https" } else { "http" };
        TokenEndpoint {
            url: format!("{scheme}://{host}:{port}/tenant/oauth2/v2.0/token"),
            requests,
            issued,
            refresh_tokens,
            task,
        }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// (scope, token) of every token handed out.
    pub fn issued(&self) -> Vec<(String, String)> {
        self.issued.lock().unwrap().clone()
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// RFC 6749 §4.4 (client credentials), RFC 8628 (device code: `…/devicecode`, then the
/// device_code grant), RFC 6749 §6 (refresh token).
async fn answer(req: Request<Incoming>, state: State) -> Result<Response<Full<Bytes>>, Infallible> {
    state.counter.fetch_add(1, Ordering::SeqCst);
    let device_endpoint = req.uri().path().ends_with("/devicecode");
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let json = |status: u16, body: String| {
        Ok(Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap())
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let client = &state.client;
    let secret_ok = client.is_public() || field("client_secret") == client.secret;
    if field("client_id") != client.id || !secret_ok {
        return json(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#.into(),
        );
    }
    if device_endpoint {
        return json(
            200,
            format!(
                r#"{{"device_code":"{DEVICE_CODE}","user_code":"LAB-C0DE","verification_uri":"https://localhost/devicelogin","expires_in":600,"interval":0}}"#
            ),
        );
    }
    let scope = field("scope").to_string();
    let refresh = match field("grant_type") {
        "client_credentials" => None,
        "urn:ietf:params:oauth:grant-type:device_code" => {
            if field("device_code") != DEVICE_CODE {
                return json(400, r#"{"error":"invalid_grant"}"#.into());
            }
            if state.device_polls.fetch_add(1, Ordering::SeqCst) == 0 {
                return json(400, r#"{"error":"authorization_pending"}"#.into());
            }
            let mut issued = state.refresh_tokens.lock().unwrap();
            let token = format!("lab-refresh-token-{}-Secret", issued.len() + 1);
            issued.push(token.clone());
            Some(token)
        }
        "refresh_token" => {
            let known = state.refresh_tokens.lock().unwrap();
            if !known.iter().any(|t| t == field("refresh_token")) {
                return json(
                    400,
                    r#"{"error":"invalid_grant","error_description":"unknown refresh token"}"#
                        .into(),
                );
            }
            None
        }
        _ => return json(400, r#"{"error":"unsupported_grant_type"}"#.into()),
    };
    let mut issued = state.issued.lock().unwrap();
    let before = issued.iter().filter(|(s, _)| *s == scope).count();
    let key: &[u8] = if before < client.revoked_first {
        b"a key the lab no longer trusts"
    } else {
        OAUTH2_KEY
    };
    let token = oauth2_token(client.user, 3600, key);
    issued.push((scope, token.clone()));
    let refresh = refresh.map_or(String::new(), |r| format!(r#","refresh_token":"{r}""#));
    json(
        200,
        format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{token}"{refresh}}}"#),
    )
}
