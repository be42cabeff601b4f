//! `closeloop oauth2-login`: sign in once as the mailbox's user, so that closeloop holds
//! a refresh token and renews its access tokens by itself from then on.

use std::io::Write;

use anyhow::anyhow;

use super::{Failure, Outcome, Section};
use crate::config::Config;
use crate::oauth2::{login, Prompt, Shown, Way};

pub async fn run(cfg: &Config, section: Section, browser: bool) -> Outcome {
    let (name, table) = match section {
        Section::Intake => ("intake", cfg.intake.oauth2.as_ref()),
        Section::Outbound => ("outbound", cfg.outbound.oauth2.as_ref()),
    };
    let oauth2 = table.ok_or_else(|| {
        Failure::usage(anyhow!(
            "[{name}.oauth2] is not in the config: the sign-in needs its token_url, client_id, \
             scope and refresh_token_file"
        ))
    })?;
    let way = if browser { Way::Browser } else { Way::Device };
    let file = login(name, oauth2, way, |shown| match shown {
        Shown::Code(prompt) => show_code(prompt),
        Shown::Page(page) => show_page(page),
    })
    .await?;
    println!(
        "Signed in. The refresh token is in {} (owner-only); closeloop renews its access \
         tokens with it from now on.",
        file.display()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata(&file).is_ok_and(|m| m.uid() == 0) {
            println!(
                "The file belongs to root: if closeloop runs as another user, give it that \
                 user's: chown <user> {}",
                file.display()
            );
        }
    }
    Ok(())
}

/// Tells the user where to enter the code, then that closeloop is waiting.
fn show_code(prompt: &Prompt) {
    let minutes = prompt.expires_in.as_secs().div_ceil(60);
    println!("To sign in as the mailbox's user, open");
    println!("  {}", prompt.verification_uri);
    println!("in any browser and enter the code");
    println!("  {}", prompt.user_code);
    if let Some(complete) = &prompt.verification_uri_complete {
        println!("(or open {complete}, which holds the code)");
    }
    println!("Waiting for the sign-in; the code is valid for {minutes} min …");
    std::io::stdout().flush().ok();
}

/// Tells the user which page to open, then that closeloop is waiting for the browser.
fn show_page(page: &str) {
    println!("To sign in as the mailbox's user, open this page in a browser on this machine");
    println!("(or one whose connections to the port in it are forwarded here, e.g. ssh -L):");
    println!("  {page}");
    println!("Waiting for the browser to come back …");
    std::io::stdout().flush().ok();
}
