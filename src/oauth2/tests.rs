//! Against a real HTTP server on 127.0.0.1 that answers as a token endpoint would, each
//! test with its own port (so its own cache entry): what is posted, what is kept and for
//! how long, what a refusal says, and that no secret reaches an error.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex as StdMutex};

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use tokio::net::TcpListener;

use super::*;
use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;

const SECRET: &str = "cs-Zq8~verysecret.value+/=";
const USER: &str = "security@example.org";

/// Each request's form fields, in order; answers are taken from the front of the queue.
#[derive(Clone, Default)]
struct Endpoint {
    seen: Arc<StdMutex<Vec<HashMap<String, String>>>>,
    /// The path of each request, in order.
    paths: Arc<StdMutex<Vec<String>>>,
    answers: Arc<StdMutex<VecDeque<(u16, String)>>>,
    /// A tenant of its own: tokens are held process-wide by token URL, and a later
    /// test's endpoint may get an earlier one's port.
    tenant: String,
}

static ENDPOINTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Endpoint {
    /// Serves `answers` on a fresh port; returns the endpoint and its token URL.
    async fn start(answers: &[(u16, &str)]) -> (Endpoint, String) {
        let n = ENDPOINTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let e = Endpoint {
            tenant: format!("tenant{n}"),
            ..Endpoint::default()
        };
        e.answers
            .lock()
            .unwrap()
            .extend(answers.iter().map(|(s, b)| (*s, b.to_string())));
        let state = e.clone();
        let answer = post(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
                    state.paths.lock().unwrap().push(uri.path().to_string());
                    state.seen.lock().unwrap().push(
                        form_urlencoded::parse(body.as_bytes())
                            .into_owned()
                            .collect(),
                    );
                    let (status, body) = state
                        .answers
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or((500, "no answer scripted".into()));
                    Response::builder()
                        .status(StatusCode::from_u16(status).unwrap())
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .unwrap()
                }
            },
        );
        // The token endpoint and (oauth2-login) Microsoft's device endpoint beside it.
        let app = axum::Router::new()
            .route(&e.path("token"), answer.clone())
            .route(&e.path("devicecode"), answer);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://{addr}{}", e.path("token"));
        (e, url)
    }

    /// The path of one of its endpoints (`token`, `devicecode`).
    fn path(&self, name: &str) -> String {
        format!("/{}/oauth2/v2.0/{name}", self.tenant)
    }

    fn requests(&self) -> Vec<HashMap<String, String>> {
        self.seen.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }
}

fn client(token_url: &str, secret_file: &Path) -> OAuth2 {
    OAuth2 {
        token_url: token_url.to_string(),
        client_id: "app-1".into(),
        scope: "https://outlook.office365.com/.default".into(),
        client_secret_file: Some(secret_file.to_path_buf()),
        ..OAuth2::default()
    }
}

fn secret_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let f = dir.path().join("client-secret");
    std::fs::write(&f, format!("{SECRET}\n")).unwrap();
    f
}

#[tokio::test]
async fn client_credentials_are_posted_and_the_token_is_kept_until_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (endpoint, url) = Endpoint::start(&[
        (
            200,
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"at-1"}"#,
        ),
        (
            200,
            r#"{"token_type":"bearer","expires_in":"3599","access_token":"at-2"}"#,
        ),
    ])
    .await;
    let cfg = client(&url, &secret_file(&dir));
    assert_eq!(access_token("intake", &cfg, USER).await.unwrap(), "at-1");
    assert_eq!(access_token("outbound", &cfg, USER).await.unwrap(), "at-1");
    let asked = endpoint.requests();
    assert_eq!(asked.len(), 1, "the second caller was served from memory");
    let want: HashMap<String, String> = [
        ("grant_type", "client_credentials"),
        ("client_id", "app-1"),
        ("client_secret", SECRET),
        ("scope", "https://outlook.office365.com/.default"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(asked[0], want);

    forget(&cfg, USER).await;
    assert_eq!(access_token("intake", &cfg, USER).await.unwrap(), "at-2");
    assert_eq!(endpoint.requests().len(), 2);
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let (endpoint, url) = Endpoint::start(&[
        (
            200,
            r#"{"token_type":"Bearer","expires_in":1,"access_token":"short-1"}"#,
        ),
        (
            200,
            r#"{"token_type":"Bearer","expires_in":1,"access_token":"short-2"}"#,
        ),
    ])
    .await;
    let cfg = client(&url, &secret_file(&dir));
    assert_eq!(access_token("intake", &cfg, USER).await.unwrap(), "short-1");
    assert_eq!(access_token("intake", &cfg, USER).await.unwrap(), "short-1");
    // Renewed at half its one-second life, not after it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(access_token("intake", &cfg, USER).await.unwrap(), "short-2");
    assert_eq!(endpoint.requests().len(), 2);
}

#[tokio::test]
async fn a_refusal_names_the_endpoint_and_the_providers_reason_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    // A provider that echoes what it was sent.
    let echo = format!(
        r#"{{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided ({SECRET}).\r\nTrace ID: 1f0"}}"#
    );
    let (_, url) = Endpoint::start(&[(401, &echo), (503, "<html>busy</html>")]).await;
    let cfg = client(&url, &secret_file(&dir));
    let err = access_token("intake", &cfg, USER)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "intake.oauth2: token endpoint {url}: refused (HTTP 401): invalid_client: \
             AADSTS7000215: Invalid client secret provided (<secret>).  Trace ID"
        )),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    let err = access_token("outbound", &cfg, USER)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("refused (HTTP 503): no OAuth2 error in the answer"),
        "{err}"
    );
    assert!(err.starts_with("outbound.oauth2: "), "{err}");
}

#[tokio::test]
async fn a_rotated_refresh_token_is_used_next_and_written_back() {
    let dir = tempfile::tempdir().unwrap();
    let rt_file = dir.path().join("refresh-token");
    std::fs::write(&rt_file, "rt-first\n").unwrap();
    let (endpoint, url) = Endpoint::start(&[
        (
            200,
            r#"{"token_type":"Bearer","expires_in":3600,"access_token":"ya29.a","refresh_token":"rt-second"}"#,
        ),
        (200, r#"{"token_type":"Bearer","expires_in":3600,"access_token":"ya29.b"}"#),
    ])
    .await;
    let cfg = OAuth2 {
        token_url: url,
        client_id: "installed-app".into(),
        refresh_token_file: Some(rt_file.clone()),
        ..OAuth2::default()
    };
    assert_eq!(access_token("intake", &cfg, USER).await.unwrap(), "ya29.a");
    assert_eq!(std::fs::read_to_string(&rt_file).unwrap(), "rt-second\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&rt_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    forget(&cfg, USER).await;
    assert_eq!(access_token("intake", &cfg, USER).await.unwrap(), "ya29.b");
    let asked = endpoint.requests();
    assert_eq!(asked[0]["grant_type"], "refresh_token");
    assert_eq!(asked[0]["refresh_token"], "rt-first");
    assert!(!asked[0].contains_key("client_secret"), "{:?}", asked[0]);
    assert!(!asked[0].contains_key("scope"), "{:?}", asked[0]);
    assert_eq!(asked[1]["refresh_token"], "rt-second");
    // Not rotated the second time: the file keeps the newest.
    assert_eq!(std::fs::read_to_string(&rt_file).unwrap(), "rt-second\n");
}

#[tokio::test]
async fn unusable_answers_and_endpoints_are_errors_that_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let huge = format!(r#"{{"access_token":"{}"}}"#, "x".repeat(100_000));
    let (_, url) = Endpoint::start(&[
        (200, "not json"),
        (200, r#"{"token_type":"Bearer","expires_in":3600}"#),
        (200, r#"{"token_type":"MAC","access_token":"m"}"#),
        (200, &huge),
    ])
    .await;
    let cfg = client(&url, &secret_file(&dir));
    for want in [
        "HTTP 200 without a JSON object",
        "the answer has no access_token",
        "token_type 'MAC' is not Bearer",
        "at most 65536 bytes",
    ] {
        let err = access_token("intake", &cfg, USER)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "want {want:?}: {err}");
    }

    // Nobody listening; TLS asked of a server that speaks plain HTTP.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let cfg = client(&format!("http://127.0.0.1:{port}/t"), &secret_file(&dir));
    let err = access_token("intake", &cfg, USER)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{err}"
    );
    let plain = url.replacen("http://", "https://", 1);
    let err = access_token("intake", &client(&plain, &secret_file(&dir)), USER)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("TLS with 127.0.0.1"), "{err}");

    // A secret source that cannot be read names its key.
    let cfg = client(&url, &dir.path().join("no-such-file"));
    let err = access_token("outbound", &cfg, USER)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("outbound.oauth2: outbound.oauth2.client_secret_file "),
        "{err}"
    );
}

#[test]
fn answers_are_read_as_rfc_6749_says() {
    let ok = read_answer(
        200,
        br#"{"access_token":"t","token_type":"Bearer","expires_in":"120","scope":"x"}"#,
    )
    .unwrap();
    assert_eq!(
        ok,
        Granted {
            access_token: "t".into(),
            lifetime: Some(Duration::from_secs(120)),
            refresh_token: None,
        }
    );
    let no_type = read_answer(200, br#"{"access_token":"t","refresh_token":""}"#).unwrap();
    assert_eq!((no_type.lifetime, no_type.refresh_token), (None, None));
    let err = read_answer(400, br#"{"error":"invalid_grant"}"#).unwrap_err();
    assert_eq!(err, "refused (HTTP 400): invalid_grant");
    let long = format!(
        r#"{{"error":"e","error_description":"{}"}}"#,
        "d".repeat(2000)
    );
    assert!(read_answer(400, long.as_bytes()).unwrap_err().len() < 450);
}

/// A Google service account key file with a fresh RSA key (made by the `openssl` command).
fn service_account_file(dir: &tempfile::TempDir, token_uri: &str) -> (std::path::PathBuf, String) {
    let pem = dir.path().join("sa.pem");
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&pem)
        .output()
        .expect("the `openssl` command makes the test's RSA key (apt-get install openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = std::fs::read_to_string(&pem).unwrap();
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "closeloop-test",
        "private_key_id": "k-123",
        "private_key": key,
        "client_email": "closeloop@closeloop-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    });
    let file = dir.path().join("sa.json");
    std::fs::write(&file, json.to_string()).unwrap();
    (file, key)
}

#[tokio::test]
async fn a_service_account_signs_an_assertion_for_the_mailbox() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use tokio_rustls::rustls::pki_types::pem::PemObject;

    let dir = tempfile::tempdir().unwrap();
    let (endpoint, url) = Endpoint::start(&[(
        200,
        r#"{"token_type":"Bearer","expires_in":3599,"access_token":"ya29.sa"}"#,
    )])
    .await;
    let (file, pem) = service_account_file(&dir, &url);
    let cfg = OAuth2 {
        scope: "https://mail.google.com/".into(),
        service_account_file: Some(file.clone()),
        ..OAuth2::default()
    };
    check_sources("intake", &cfg).unwrap();
    assert_eq!(access_token("intake", &cfg, USER).await.unwrap(), "ya29.sa");
    let asked = endpoint.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0]["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let assertion = &asked[0]["assertion"];
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3, "{assertion}");
    let json = |b64: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
    };
    let header = json(parts[0]);
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("RS256"), Some("k-123"))
    );
    let claims = json(parts[1]);
    assert_eq!(
        claims["iss"],
        "closeloop@closeloop-test.iam.gserviceaccount.com"
    );
    assert_eq!(claims["aud"], url.as_str());
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["scope"], "https://mail.google.com/");
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 3600);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(iat.abs_diff(now) < 60, "iat {iat}, now {now}");
    // Signed with the account's key: verified with its public half.
    let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public().as_ref().to_vec(),
    );
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    public.verify(signed.as_bytes(), &signature).unwrap();
    let mut forged = signature.clone();
    forged[10] ^= 1;
    assert!(public.verify(signed.as_bytes(), &forged).is_err());
}

#[test]
fn a_service_account_file_that_is_not_one_says_which_field() {
    let dir = tempfile::tempdir().unwrap();
    let (good, key) = service_account_file(&dir, "https://oauth2.googleapis.com/token");
    let text = std::fs::read_to_string(&good).unwrap();
    let cfg = |file: &Path| OAuth2 {
        service_account_file: Some(file.to_path_buf()),
        ..OAuth2::default()
    };
    let bad = dir.path().join("bad.json");
    let key_body = key.lines().nth(3).unwrap().to_string();
    for (content, want) in [
        (
            text.replace("service_account", "authorized_user"),
            "\"type\" is 'authorized_user'",
        ),
        (text.replace("MII", "XXX"), "\"private_key\" is not"),
        (
            "{\"type\":\"service_account\"}".to_string(),
            "not a service account key file",
        ),
        ("not json".to_string(), "not a service account key file"),
    ] {
        std::fs::write(&bad, &content).unwrap();
        let err = check_sources("outbound", &cfg(&bad)).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "outbound.oauth2: service_account_file {}: ",
                bad.display()
            )),
            "{err}"
        );
        assert!(err.contains(want), "want {want:?}: {err}");
        assert!(!err.contains(&key_body), "key material in: {err}");
    }
    let err = check_sources("intake", &cfg(&dir.path().join("missing.json"))).unwrap_err();
    assert!(err.contains("missing.json"), "{err}");
}

#[test]
fn sasl_messages_follow_their_formats() {
    assert_eq!(
        xoauth2("sec@example.org", "ya29.t"),
        "user=sec@example.org\x01auth=Bearer ya29.t\x01\x01"
    );
    // RFC 7628 §3.2.1's example, with RFC 5801's escapes in the user name.
    assert_eq!(
        oauthbearer("user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com", 143),
        "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    );
    assert!(oauthbearer("a,b=c@x.org", "t", "h", 1).starts_with("n,a=a=2Cb=3Dc@x.org,\x01"));
}

/// A self-signed RSA certificate and its key (PEM files, made by the `openssl` command),
/// and the certificate's SHA-1 fingerprint as openssl prints it, in bytes.
fn certificate_files(dir: &tempfile::TempDir) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let (cert, key) = (dir.path().join("app.pem"), dir.path().join("app.key"));
    let openssl = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("the `openssl` command makes the test's certificate (apt-get install openssl)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    openssl(&[
        os("req"),
        os("-x509"),
        os("-newkey"),
        os("rsa:2048"),
        os("-nodes"),
        os("-days"),
        os("2"),
        os("-subj"),
        os("/CN=closeloop-test"),
        os("-keyout"),
        key.as_os_str(),
        os("-out"),
        cert.as_os_str(),
    ]);
    let printed = openssl(&[
        os("x509"),
        os("-in"),
        cert.as_os_str(),
        os("-noout"),
        os("-fingerprint"),
        os("-sha1"),
    ]);
    let hexed: String = printed.split('=').nth(1).unwrap().trim().replace(':', "");
    (cert, key, hex::decode(hexed).unwrap())
}

#[tokio::test]
async fn a_client_certificate_signs_an_assertion_instead_of_a_secret() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    let dir = tempfile::tempdir().unwrap();
    let ok = r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ.cert"}"#;
    let (endpoint, url) = Endpoint::start(&[(200, ok), (200, ok)]).await;
    let (cert, key, sha1) = certificate_files(&dir);
    let cfg = OAuth2 {
        token_url: url.clone(),
        client_id: "app-2".into(),
        scope: "https://outlook.office365.com/.default".into(),
        client_certificate_file: Some(cert),
        client_key_file: Some(key.clone()),
        ..OAuth2::default()
    };
    check_sources("intake", &cfg).unwrap();
    assert_eq!(
        access_token("intake", &cfg, USER).await.unwrap(),
        "eyJ.cert"
    );
    forget(&cfg, USER).await;
    access_token("intake", &cfg, USER).await.unwrap();
    let asked = endpoint.requests();
    assert_eq!(asked[0]["grant_type"], "client_credentials");
    assert_eq!(asked[0]["client_id"], "app-2");
    assert_eq!(
        asked[0]["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(!asked[0].contains_key("client_secret"), "{:?}", asked[0]);
    let parts: Vec<&str> = asked[0]["client_assertion"].split('.').collect();
    let json = |b64: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
    };
    let header = json(parts[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode(&sha1).as_str());
    let claims = json(parts[1]);
    assert_eq!(
        (claims["iss"].as_str(), claims["sub"].as_str()),
        (Some("app-2"), Some("app-2"))
    );
    assert_eq!(claims["aud"], url.as_str());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["nbf"].as_u64().unwrap(),
        600
    );
    let again = json(asked[1]["client_assertion"].split('.').nth(1).unwrap());
    assert_ne!(
        claims["jti"], again["jti"],
        "an assertion is never sent twice"
    );
    // Signed with the certificate's key.
    let pair = jwt::rsa_key(&std::fs::read(&key).unwrap()).unwrap();
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public().as_ref().to_vec(),
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    public
        .verify(
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .unwrap();

    // A key file that is not a key: named, without its contents.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = check_sources("outbound", &cfg).unwrap_err();
    assert!(
        err.starts_with(&format!(
            "outbound.oauth2: client_key_file {}: ",
            key.display()
        )),
        "{err}"
    );
    assert!(!err.contains("bm90IGEga2V5"), "{err}");
}

/// An endpoint that takes the request and never answers: the request ends at the timeout,
/// and so does the connection (nothing is left running against a hung server).
#[tokio::test]
async fn a_silent_endpoint_times_out_and_its_connection_is_closed() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        // Read the request, answer nothing, and wait for the client to hang up.
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return std::time::Instant::now(),
                Ok(_) => {}
            }
        }
    });
    let began = std::time::Instant::now();
    let err = access_token("intake", &client(&url, &secret_file(&dir)), USER)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with(&format!("no answer within {TIMEOUT:?}")),
        "{err}"
    );
    let closed = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the connection was left open after the timeout")
        .unwrap();
    assert!(closed.duration_since(began) >= TIMEOUT);
}

/// A public client (no secret) asking for a refresh token by the device grant.
fn device_client(token_url: &str, dir: &tempfile::TempDir) -> OAuth2 {
    OAuth2 {
        token_url: token_url.to_string(),
        client_id: "app-1".into(),
        scope: "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access".into(),
        refresh_token_file: Some(dir.path().join("refresh-token")),
        ..OAuth2::default()
    }
}

const DEVICE_CODE: &str = "dc-Very-Secret-Device-Code-7788";

/// The device endpoint's answer for `expires_in` seconds, polled at once.
fn device_answer(expires_in: u64) -> String {
    format!(
        r#"{{"device_code":"{DEVICE_CODE}","user_code":"ABCD-EFGH",
            "verification_uri":"https://microsoft.com/devicelogin",
            "verification_uri_complete":"https://microsoft.com/devicelogin?otc=ABCD-EFGH",
            "expires_in":{expires_in},"interval":0,"message":"To sign in, use a web browser"}}"#
    )
}

#[tokio::test]
async fn device_login_shows_the_code_waits_for_the_sign_in_and_writes_the_refresh_token() {
    let dir = tempfile::tempdir().unwrap();
    // A code said to live for ever is waited for an hour at most (no overflow).
    let device = device_answer(u64::MAX);
    let (endpoint, url) = Endpoint::start(&[
        (200, device.as_str()),
        (400, r#"{"error":"authorization_pending"}"#),
        (400, r#"{"error":"slow_down"}"#),
        (
            200,
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"at-device","refresh_token":"rt-from-the-sign-in-1234"}"#,
        ),
    ])
    .await;
    let cfg = device_client(&url, &dir);
    // Before the sign-in, the start names the missing file and how to fill it.
    let before = check_sources("intake", &cfg).unwrap_err();
    assert!(
        before.contains("refresh-token: ")
            && before.ends_with(
                "(sign in once with `closeloop oauth2-login --section intake` to obtain it)"
            ),
        "{before}"
    );
    assert_eq!(
        device_authorization_url(&cfg).unwrap(),
        url.replace("/token", "/devicecode")
    );
    let mut shown = None;
    let file = login("intake", &cfg, Way::Device, |s| match s {
        Shown::Code(p) => shown = Some(p.clone()),
        Shown::Page(page) => panic!("{page}"),
    })
    .await
    .unwrap();
    assert_eq!(
        shown.unwrap(),
        Prompt {
            verification_uri: "https://microsoft.com/devicelogin".into(),
            verification_uri_complete: Some(
                "https://microsoft.com/devicelogin?otc=ABCD-EFGH".into()
            ),
            user_code: "ABCD-EFGH".into(),
            expires_in: Duration::from_secs(3600),
        }
    );
    assert_eq!(file, dir.path().join("refresh-token"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "rt-from-the-sign-in-1234\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let token_path = endpoint.path("token");
    assert_eq!(
        endpoint.paths(),
        [
            endpoint.path("devicecode"),
            token_path.clone(),
            token_path.clone(),
            token_path
        ]
    );
    let asked = endpoint.requests();
    let form = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        asked[0],
        form(&[
            ("client_id", "app-1"),
            (
                "scope",
                "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"
            ),
        ])
    );
    let poll = form(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", DEVICE_CODE),
        ("client_id", "app-1"),
    ]);
    assert_eq!(asked[1..], [poll.clone(), poll.clone(), poll]);
    check_sources("intake", &cfg).unwrap();
    // The refresh token written is the one the daemon then uses.
    let (endpoint, url2) = Endpoint::start(&[(
        200,
        r#"{"token_type":"Bearer","expires_in":3599,"access_token":"at-next"}"#,
    )])
    .await;
    let mut next = device_client(&url2, &dir);
    next.scope = String::new();
    assert_eq!(
        access_token("intake", &next, USER).await.unwrap(),
        "at-next"
    );
    assert_eq!(
        endpoint.requests()[0]["refresh_token"],
        "rt-from-the-sign-in-1234"
    );
}

#[tokio::test]
async fn device_login_failures_say_why_and_write_nothing() {
    async fn login_error(answers: &[(u16, &str)], change: impl FnOnce(&mut OAuth2)) -> String {
        let dir = tempfile::tempdir().unwrap();
        let (_endpoint, url) = Endpoint::start(answers).await;
        let mut cfg = device_client(&url, &dir);
        change(&mut cfg);
        let err = login("intake", &cfg, Way::Device, |_| {})
            .await
            .unwrap_err()
            .to_string();
        assert!(
            !dir.path().join("refresh-token").exists(),
            "written after: {err}"
        );
        for secret in [SECRET, DEVICE_CODE, "at-denied", "rt-"] {
            assert!(!err.contains(secret), "{secret} in {err}");
        }
        err
    }
    let device = device_answer(900);
    let device = device.as_str();
    let cases: Vec<(Vec<(u16, &str)>, &str)> = vec![
        (
            vec![
                (200, device),
                (
                    400,
                    r#"{"error":"access_denied","error_description":"the user declined"}"#,
                ),
            ],
            "refused (HTTP 400): access_denied: the user declined",
        ),
        (
            vec![(200, device), (400, r#"{"error":"expired_token"}"#)],
            "refused (HTTP 400): expired_token",
        ),
        (
            vec![
                (200, device),
                (200, r#"{"token_type":"Bearer","access_token":"at-denied"}"#),
            ],
            "the answer has no refresh_token; ask for one in scope (Microsoft: add offline_access)",
        ),
        (
            vec![(
                200,
                r#"{"device_code":"dc-Very-Secret-Device-Code-7788","verification_uri":"https://x"}"#,
            )],
            "the answer has no user_code",
        ),
        (
            vec![(
                400,
                r#"{"error":"invalid_client","error_description":"AADSTS7000218: the request body must contain client_assertion or client_secret"}"#,
            )],
            "/devicecode: refused (HTTP 400): invalid_client: AADSTS7000218",
        ),
    ];
    for (answers, want) in cases {
        let err = login_error(&answers, |_| {}).await;
        assert!(err.starts_with("intake.oauth2: "), "{err}");
        assert!(err.contains(want), "want {want:?} in {err}");
    }
    // The code runs out while the user has not signed in.
    let short = device_answer(0);
    let err = login_error(
        &[
            (200, short.as_str()),
            (400, r#"{"error":"authorization_pending"}"#),
        ],
        |_| {},
    )
    .await;
    assert!(
        err.contains("the code ABCD-EFGH expired before the sign-in was done"),
        "{err}"
    );
    // A confidential client's secret echoed by the provider is blanked.
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(&dir);
    let echo = format!(r#"{{"error":"invalid_client","error_description":"bad secret {SECRET}"}}"#);
    let err = login_error(&[(401, echo.as_str())], |c| {
        c.client_secret_file = Some(secret)
    })
    .await;
    assert!(err.contains("bad secret <secret>"), "{err}");
    // Nowhere to keep the token, or no device endpoint: said before asking anything.
    let err = login_error(&[], |c| c.refresh_token_file = None).await;
    assert!(err.contains("set refresh_token_file"), "{err}");
    let err = login_error(&[], |c| {
        c.refresh_token_file = None;
        c.refresh_token_env = Some("RT".into());
    })
    .await;
    assert!(err.contains("refresh_token_env cannot be written"), "{err}");
    let err = login_error(&[], |c| {
        c.token_url = "https://oauth2.googleapis.com/token".into()
    })
    .await;
    assert!(err.contains("set device_authorization_url"), "{err}");
}

/// The browser of a sign-in: GETs `path_and_query` on the loopback port of `page`'s
/// redirect_uri and returns the status line and body.
async fn browse(page_redirect: &str, path_and_query: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = page_redirect
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut s = tokio::net::TcpStream::connect(authority).await.unwrap();
    s.write_all(
        format!("GET {path_and_query} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The query of the sign-in page closeloop printed.
fn page_query(page: &str) -> HashMap<String, String> {
    let (_, query) = page.split_once('?').unwrap();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Signs in with the browser flow: `browser` plays the user's browser with the sign-in
/// page's query (it runs once closeloop waits).
async fn browser_login<F, Fut>(cfg: &OAuth2, browser: F) -> Result<PathBuf, OAuth2Error>
where
    F: FnOnce(String, HashMap<String, String>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    login("intake", cfg, Way::Browser, move |s| match s {
        Shown::Page(page) => {
            let query = page_query(page);
            tokio::spawn(browser(page.to_string(), query));
        }
        Shown::Code(p) => panic!("{p:?}"),
    })
    .await
}

#[tokio::test]
async fn browser_login_takes_the_code_on_loopback_and_proves_it_with_pkce() {
    let dir = tempfile::tempdir().unwrap();
    let (endpoint, url) = Endpoint::start(&[(
        200,
        r#"{"token_type":"Bearer","expires_in":3599,"access_token":"at-browser","refresh_token":"rt-browser-sign-in-4321"}"#,
    )])
    .await;
    let mut cfg = device_client(&url, &dir);
    cfg.scope = "https://mail.google.com/".into();
    cfg.client_secret_file = Some(secret_file(&dir));
    let seen = Arc::new(StdMutex::new(Vec::new()));
    let pages = seen.clone();
    let file = browser_login(&cfg, move |page, q| async move {
        let redirect = q["redirect_uri"].clone();
        // A probe without a state, then a stale tab's answer: neither ends the wait.
        let probe = browse(&redirect, "/favicon.ico").await;
        let stale = browse(&redirect, "/?code=old-code&state=stale").await;
        let done = format!("/?code=auth-code-Secret-55&state={}&scope=x", q["state"]);
        let answer = browse(&redirect, &done).await;
        pages.lock().unwrap().extend([page, probe, stale, answer]);
    })
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "rt-browser-sign-in-4321\n"
    );
    let pages = seen.lock().unwrap().clone();
    let q = page_query(&pages[0]);
    assert!(
        pages[0].starts_with(&url.replace("/token", "/authorize?")),
        "{}",
        pages[0]
    );
    assert!(pages[1].starts_with("HTTP/1.1 404"), "{}", pages[1]);
    assert!(pages[2].starts_with("HTTP/1.1 404"), "{}", pages[2]);
    assert!(pages[2].contains("not the sign-in"), "{}", pages[2]);
    assert!(pages[3].starts_with("HTTP/1.1 200"), "{}", pages[3]);
    assert!(pages[3].contains("You can close this tab"), "{}", pages[3]);
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", "app-1"),
        ("scope", "https://mail.google.com/"),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
        ("prompt", "consent"),
    ] {
        assert_eq!(q[k], v, "{k}");
    }
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
    assert!(q["state"].len() >= 40 && !q.contains_key("client_secret"));
    // The exchange: the code, the same redirect_uri, the verifier behind the challenge.
    let asked = endpoint.requests();
    assert_eq!(asked.len(), 1);
    let t = &asked[0];
    assert_eq!(t["grant_type"], "authorization_code");
    assert_eq!(t["code"], "auth-code-Secret-55");
    assert_eq!(t["redirect_uri"], q["redirect_uri"]);
    assert_eq!(t["client_id"], "app-1");
    assert_eq!(t["client_secret"], SECRET);
    let verifier = &t["code_verifier"];
    assert!(verifier.len() >= 43, "RFC 7636 §4.1: {verifier}");
    use base64::Engine;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    assert_eq!(q["code_challenge"], challenge);
    assert_ne!(verifier, &q["state"]);
}

#[tokio::test]
async fn browser_login_failures_say_why_and_write_nothing() {
    let refused = r#"{"error":"invalid_grant","error_description":"code auth-code-Secret-55 was already used"}"#;
    // The user declines; the code is refused; nobody comes back.
    for (answers, back, want) in [
        (
            vec![],
            Some("/?error=access_denied&error_description=The+user+declined"),
            "the provider refused the sign-in: access_denied: The user declined",
        ),
        (
            vec![(400, refused)],
            Some("/?code=auth-code-Secret-55"),
            "refused (HTTP 400): invalid_grant: code <secret> was already used",
        ),
        (vec![], None, "no sign-in within"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (_endpoint, url) = Endpoint::start(&answers).await;
        let cfg = device_client(&url, &dir);
        let err = browser_login(&cfg, move |_, q| async move {
            if let Some(back) = back {
                let with_state = format!("{back}&state={}", q["state"]).replacen("/&", "/?", 1);
                browse(&q["redirect_uri"], &with_state).await;
            }
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains(want), "want {want:?} in {err}");
        assert!(!err.contains("auth-code-Secret-55"), "{err}");
        assert!(!dir.path().join("refresh-token").exists(), "{err}");
    }
    // No authorization endpoint known.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = device_client("https://idp.example.org/token", &dir);
    let err = login("intake", &cfg, Way::Browser, |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("set authorization_url"), "{err}");
    cfg.token_url = "https://oauth2.googleapis.com/token".into();
    assert_eq!(
        authorization_url(&cfg).as_deref(),
        Some("https://accounts.google.com/o/oauth2/v2/auth")
    );
}

/// A refresh token written over an existing file keeps that file's owner (so a sign-in
/// run as root leaves the daemon's user able to read it) and is owner-only; a leftover
/// temporary file from a crash does not lend it its permissions.
#[cfg(unix)]
#[test]
fn a_secret_file_written_over_keeps_its_owner_and_is_owner_only() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refresh-token");
    std::fs::write(&file, "old\n").unwrap();
    let me = std::fs::metadata(&file).unwrap().uid();
    // As root the old file can be given to nobody (65534); otherwise it stays ours.
    let owner = match std::os::unix::fs::chown(&file, Some(65534), Some(65534)) {
        Ok(()) => 65534,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => me,
        Err(e) => panic!("{e}"),
    };
    let leftover = file.with_extension("closeloop-new");
    std::fs::write(&leftover, "half").unwrap();
    std::fs::set_permissions(&leftover, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_secret_file(&file, "new-token").unwrap();
    let m = std::fs::metadata(&file).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "new-token\n");
    assert_eq!(m.uid(), owner);
    if owner != me {
        assert_eq!(m.gid(), owner);
    }
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
    assert!(!leftover.exists());
}
