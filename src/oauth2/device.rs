//! The device authorization grant (RFC 8628), one way of `login`: closeloop asks the
//! provider for a code, the user opens the provider's page in any browser, on any
//! machine, enters the code and consents; closeloop polls the token endpoint until then.
//! Microsoft 365 offers it for public clients ("Allow public client flows").
//!
//! Neither the device code (it would finish someone else's sign-in) nor any token is
//! shown; the user code is, since entering it is the point.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{blank, client_auth, post_form, printable, read_answer, refusal, seconds, OAuth2Error};
use crate::config::OAuth2;

/// RFC 8628 §3.2: poll every 5 s unless the provider says otherwise.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// However briefly a provider asks to be polled.
const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// `slow_down` adds this much to the interval (§3.5).
#[cfg(not(test))]
const SLOW_DOWN: Duration = Duration::from_secs(5);
#[cfg(test)]
const SLOW_DOWN: Duration = Duration::from_millis(100);
/// A code whose answer gives no lifetime is waited for this long.
const UNSTATED_LIFETIME: Duration = Duration::from_secs(900);
/// However long a provider says its code lives, or asks to wait between polls: a sign-in
/// is waited for an hour at most, polled at least every minute.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);
const LONGEST_INTERVAL: Duration = Duration::from_secs(60);

/// What the user is asked to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    /// The page where the code is entered.
    pub verification_uri: String,
    /// The same page with the code already in it, when the provider gives one.
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    /// How long the code is valid.
    pub expires_in: Duration,
}

/// The device endpoint's answer (RFC 8628 §3.2; Google names the page `verification_url`).
#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<serde_json::Value>,
    interval: Option<serde_json::Value>,
}

/// The device authorization endpoint of `cfg`: the configured one, else Microsoft's
/// beside its token endpoint.
pub fn device_authorization_url(cfg: &OAuth2) -> Option<String> {
    if let Some(url) = &cfg.device_authorization_url {
        return Some(url.clone());
    }
    cfg.token_url
        .strip_suffix("/oauth2/v2.0/token")
        .map(|base| format!("{base}/oauth2/v2.0/devicecode"))
}

/// The device authorization grant for `[{section}.oauth2]`: `show` is given what the
/// user must do, then this waits for the sign-in; the refresh token granted, if any.
pub(super) async fn device_grant(
    section: &str,
    cfg: &OAuth2,
    show: impl FnOnce(&Prompt),
) -> Result<Option<String>, OAuth2Error> {
    let fail = OAuth2Error::in_section(section);
    let device_url = device_authorization_url(cfg).ok_or_else(|| {
        fail(
            "set device_authorization_url (the provider's device authorization endpoint; \
             found by itself for Microsoft's token_url)"
                .into(),
        )
    })?;

    // Ask for a code.
    let auth = client_auth(section, cfg).map_err(&fail)?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    auth.append(cfg, &mut form);
    if !cfg.scope.trim().is_empty() {
        form.append_pair("scope", cfg.scope.trim());
    }
    let mut secrets: Vec<String> = auth.secret().into_iter().collect();
    let at = |url: &str, e: &str, secrets: &[String]| {
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        fail(format!("{url}: {}", blank(e, &secrets)))
    };
    let (status, body) = post_form(&device_url, form.finish())
        .await
        .map_err(|e| at(&device_url, &e, &secrets))?;
    refusal(status, &body).map_err(|e| at(&device_url, &e, &secrets))?;
    let answer: DeviceAnswer = serde_json::from_slice(&body)
        .map_err(|_| at(&device_url, "HTTP 200 without a JSON object", &secrets))?;
    let missing = |field: &str| at(&device_url, &format!("the answer has no {field}"), &secrets);
    let device_code = answer
        .device_code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| missing("device_code"))?;
    let prompt = Prompt {
        verification_uri: answer
            .verification_uri
            .or(answer.verification_url)
            .map(|u| printable(&u, 400))
            .ok_or_else(|| missing("verification_uri"))?,
        verification_uri_complete: answer.verification_uri_complete.map(|u| printable(&u, 400)),
        user_code: answer
            .user_code
            .map(|c| printable(&c, 100))
            .ok_or_else(|| missing("user_code"))?,
        expires_in: seconds(answer.expires_in.as_ref())
            .unwrap_or(UNSTATED_LIFETIME)
            .min(LONGEST_WAIT),
    };
    secrets.push(device_code.clone());
    let mut interval = seconds(answer.interval.as_ref())
        .unwrap_or(DEFAULT_INTERVAL)
        .clamp(MIN_INTERVAL, LONGEST_INTERVAL);
    let deadline = Instant::now() + prompt.expires_in;
    show(&prompt);

    // Wait for the sign-in.
    let token_url = cfg.token_url.as_str();
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(fail(format!(
                "the code {} expired before the sign-in was done; run oauth2-login again",
                prompt.user_code
            )));
        }
        // A client assertion is good for one request: a fresh proof for each.
        let auth = client_auth(section, cfg).map_err(&fail)?;
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
            .append_pair("device_code", &device_code);
        auth.append(cfg, &mut form);
        let mut shown = secrets.clone();
        shown.extend(auth.secret());
        let (status, body) = post_form(token_url, form.finish())
            .await
            .map_err(|e| at(token_url, &e, &shown))?;
        match pending(status, &body) {
            Some(Pending::Wait) => continue,
            Some(Pending::SlowDown) => {
                interval = (interval + SLOW_DOWN).min(LONGEST_INTERVAL);
                continue;
            }
            None => {}
        }
        let granted = read_answer(status, &body).map_err(|e| at(token_url, &e, &shown))?;
        return Ok(granted.refresh_token);
    }
}

/// The sign-in is not done yet (RFC 8628 §3.5).
enum Pending {
    Wait,
    SlowDown,
}

fn pending(status: u16, body: &[u8]) -> Option<Pending> {
    if (200..300).contains(&status) {
        return None;
    }
    #[derive(Deserialize)]
    struct Said {
        error: Option<String>,
    }
    match serde_json::from_slice::<Said>(body).ok()?.error?.as_str() {
        "authorization_pending" => Some(Pending::Wait),
        "slow_down" => Some(Pending::SlowDown),
        _ => None,
    }
}
