//! The authorization code grant for native apps (RFC 8252) with PKCE (RFC 7636), the
//! other way of `login`, for providers whose mail scopes the device grant does not serve
//! (Gmail). closeloop listens on a loopback port, prints the provider's sign-in page with
//! that port as the redirect address, and the browser brings the code back there once
//! the user has signed in and consented; closeloop exchanges it, with the PKCE verifier
//! only it holds. The browser must reach the port: sign in on the machine closeloop runs
//! on, or forward the port (`ssh -L`).
//!
//! The code, the verifier and every token stay unseen; the state parameter ties the
//! answer to this sign-in.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::{blank, client_auth, post_form, printable, read_answer, OAuth2Error};
use crate::config::OAuth2;

/// How long the sign-in may take.
#[cfg(not(test))]
const WAIT: Duration = Duration::from_secs(600);
#[cfg(test)]
const WAIT: Duration = Duration::from_secs(1);

/// What a browser is shown that comes back with another sign-in's state, or none.
const OTHER_PAGE: &str = "<!doctype html><title>closeloop</title><p>This is not the sign-in \
                          closeloop is waiting for: open the page it printed last.</p>";

/// What the browser shows once it has brought the code back.
const DONE_PAGE: &str = "<!doctype html><title>closeloop</title><p>closeloop has the sign-in. \
                         You can close this tab.</p>";

/// The provider's authorization endpoint for `cfg`: the configured one, else Google's
/// or Microsoft's beside its token endpoint.
pub fn authorization_url(cfg: &OAuth2) -> Option<String> {
    if let Some(url) = &cfg.authorization_url {
        return Some(url.clone());
    }
    if cfg.token_url == "https://oauth2.googleapis.com/token" {
        return Some("https://accounts.google.com/o/oauth2/v2/auth".into());
    }
    cfg.token_url
        .strip_suffix("/oauth2/v2.0/token")
        .map(|base| format!("{base}/oauth2/v2.0/authorize"))
}

/// The authorization code grant for `[{section}.oauth2]`: `show` is given the page to
/// open; this waits for the browser to come back with the code and exchanges it; the
/// refresh token granted, if any.
pub(super) async fn code_grant(
    section: &str,
    cfg: &OAuth2,
    show: impl FnOnce(&str),
) -> Result<Option<String>, OAuth2Error> {
    let fail = OAuth2Error::in_section(section);
    let authorize = authorization_url(cfg).ok_or_else(|| {
        fail(
            "set authorization_url (the provider's authorization endpoint; found by itself \
             for Google's and Microsoft's token_url)"
                .into(),
        )
    })?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail(format!("cannot listen on 127.0.0.1 for the browser: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| fail(format!("the listening port: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let verifier = random_token().map_err(&fail)?;
    let state = random_token().map_err(&fail)?;
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", cfg.scope.trim())
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        // Google hands out a refresh token only when asked for offline access, and again
        // only with a fresh consent; Microsoft ignores the first and honours the second.
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent");
    let separator = if authorize.contains('?') { '&' } else { '?' };
    let page = format!("{authorize}{separator}{}", query.finish());

    // The answer of this sign-in (its state) goes to the waiter; anything else (a
    // favicon, a probe, a stale tab of an earlier sign-in) is turned away.
    let (tx, mut rx) = mpsc::channel::<Vec<(String, String)>>(1);
    let expected = state.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (tx, expected) = (tx.clone(), expected.clone());
        async move {
            let pairs: Vec<(String, String)> =
                form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            if !pairs.iter().any(|(k, v)| k == "state" && *v == expected) {
                return (
                    axum::http::StatusCode::NOT_FOUND,
                    axum::response::Html(OTHER_PAGE),
                );
            }
            tx.send(pairs).await.ok();
            (axum::http::StatusCode::OK, axum::response::Html(DONE_PAGE))
        }
    });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    show(&page);

    let answer = tokio::time::timeout(WAIT, async {
        let pairs = rx.recv().await.ok_or("the listener stopped")?;
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if let Some(error) = get("error") {
            let said = [Some(error), get("error_description")]
                .into_iter()
                .flatten()
                .map(|t| printable(&t, 400))
                .collect::<Vec<_>>()
                .join(": ");
            return Err(format!("the provider refused the sign-in: {said}"));
        }
        get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| "the browser came back without a code".to_string())
    })
    .await;
    server.abort();
    let code = answer
        .map_err(|_| {
            fail(format!(
                "no sign-in within {} min; run oauth2-login again",
                WAIT.as_secs() / 60
            ))
        })?
        .map_err(&fail)?;

    let auth = client_auth(section, cfg).map_err(&fail)?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("code_verifier", &verifier);
    auth.append(cfg, &mut form);
    let mut secrets = vec![code.clone(), verifier.clone()];
    secrets.extend(auth.secret());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let token_url = cfg.token_url.as_str();
    let at = |e: String| fail(format!("{token_url}: {}", blank(&e, &secrets)));
    let (status, body) = post_form(token_url, form.finish()).await.map_err(at)?;
    Ok(read_answer(status, &body).map_err(at)?.refresh_token)
}

/// 32 random bytes, base64url: a PKCE verifier (RFC 7636 §4.1) or a state.
fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random bytes: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
