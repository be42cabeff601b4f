//! The lab's identity provider: an OAuth2 token endpoint (client credentials grant) on
//! 127.0.0.1 that issues the JWT access tokens the lab's Dovecot accepts — what
//! login.microsoftonline.com is to Microsoft 365. Served by hyper in the test process,
//! over TLS with the lab's certificate when the lab has one.

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
    task: tokio::task::JoinHandle<()>,
}

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
        let counter = requests.clone();
        let tokens = issued.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let client = client.clone();
                let counter = counter.clone();
                let tokens = tokens.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        answer(req, client.clone(), counter.clone(), tokens.clone())
                    });
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

/// RFC 6749 §4.4: a form with grant_type, client_id, client_secret (and scope).
async fn answer(
    req: Request<Incoming>,
    client: Client,
    counter: Arc<AtomicUsize>,
    issued: Arc<Mutex<Vec<(String, String)>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    counter.fetch_add(1, Ordering::SeqCst);
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
    if field("grant_type") != "client_credentials" {
        return json(400, r#"{"error":"unsupported_grant_type"}"#.into());
    }
    if field("client_id") != client.id || field("client_secret") != client.secret {
        return json(
            401,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#.into(),
        );
    }
    let scope = field("scope").to_string();
    let mut issued = issued.lock().unwrap();
    let before = issued.iter().filter(|(s, _)| *s == scope).count();
    let key: &[u8] = if before < client.revoked_first {
        b"a key the lab no longer trusts"
    } else {
        OAUTH2_KEY
    };
    let token = oauth2_token(client.user, 3600, key);
    issued.push((scope, token.clone()));
    json(
        200,
        format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{token}"}}"#),
    )
}
