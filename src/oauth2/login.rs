//! Signing in once as the mailbox's user (`closeloop oauth2-login`), for the refresh token
//! closeloop renews its access tokens with afterwards: by the device authorization grant
//! (a code entered in any browser) or the authorization code grant (a browser on this
//! machine brought back to closeloop). The refresh token is written to
//! `refresh_token_file`, owner-only.

use std::path::PathBuf;

use super::browser::code_grant;
use super::device::{device_grant, Prompt};
use super::{write_secret_file, OAuth2Error};
use crate::config::OAuth2;

/// Which grant signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// RFC 8628: a code entered in any browser, on any machine.
    Device,
    /// RFC 8252 with PKCE: a browser that can reach a loopback port of this machine.
    Browser,
}

/// What the user is asked to do.
#[derive(Debug)]
pub enum Shown<'a> {
    /// Open the page and enter the code.
    Code(&'a Prompt),
    /// Open this page (it brings the browser back to closeloop).
    Page(&'a str),
}

/// Signs in for `[{section}.oauth2]` the `way` asked, telling the user by `show`, and
/// writes the refresh token to `refresh_token_file`, which it returns.
pub async fn login(
    section: &str,
    cfg: &OAuth2,
    way: Way,
    show: impl FnOnce(Shown<'_>),
) -> Result<PathBuf, OAuth2Error> {
    let fail = OAuth2Error::in_section(section);
    let file = match (&cfg.refresh_token_file, &cfg.refresh_token_env) {
        (Some(f), _) => f.clone(),
        (None, Some(_)) => {
            return Err(fail(
                "refresh_token_env cannot be written: set refresh_token_file, where the \
                 refresh token is to be kept"
                    .into(),
            ))
        }
        (None, None) => {
            return Err(fail(
                "set refresh_token_file: where the refresh token is to be kept".into(),
            ))
        }
    };
    if cfg.service_account_file.is_some() {
        return Err(fail(
            "a service account needs no sign-in: it signs its own requests".into(),
        ));
    }
    let (granted, grant) = match way {
        Way::Device => (
            device_grant(section, cfg, |p| show(Shown::Code(p))).await?,
            "the device authorization grant",
        ),
        Way::Browser => (
            code_grant(section, cfg, |page| show(Shown::Page(page))).await?,
            "the authorization code grant",
        ),
    };
    let refresh_token = granted.ok_or_else(|| {
        fail(format!(
            "{}: the sign-in worked but the answer has no refresh_token; ask for one in \
             scope (Microsoft: add offline_access)",
            cfg.token_url
        ))
    })?;
    write_secret_file(&file, &refresh_token).map_err(|e| {
        fail(format!(
            "refresh_token_file {}: cannot write it: {e}",
            file.display()
        ))
    })?;
    tracing::info!(
        section,
        file = %file.display(),
        grant,
        "refresh token obtained by signing in, and written"
    );
    Ok(file)
}
