//! `closeloop check-config`: validate the file, then check each part it names
//! answers — one line per check, `ok` or `FAIL` with the reason.

use std::path::Path;

use super::{load_config, Failure, Outcome};
use crate::config::{Config, IntakeKind, OutboundKind};
use crate::keyfile::Key;
use crate::maildir;
use crate::store::{redact_url, Store};

pub async fn run(path: &Path) -> Outcome {
    let cfg = load_config(path)?;
    println!("ok    config {} is valid", path.display());
    for w in cfg.warnings() {
        println!("warn  {w}");
    }
    let mut failed = 0;
    let mut report = |name: String, r: Result<String, String>| match r {
        Ok(detail) => println!("ok    {name}: {detail}"),
        Err(why) => {
            failed += 1;
            println!("FAIL  {name}: {why}");
        }
    };
    report(
        format!("database {}", redact_url(&cfg.database.url)),
        check_database(&cfg).await,
    );
    report(
        format!("key file {}", cfg.key_file().display()),
        check_key(&cfg),
    );
    if let Some(dir) = cfg.reading_marks_dir() {
        // Not a failure: reading goes on unguarded without them.
        match check_dir(&dir) {
            Ok(detail) => println!("ok    reading marks {}: {detail}", dir.display()),
            Err(why) => println!(
                "warn  reading marks {}: {why}; a message that crashes its reader would be \
                 read again at every restart",
                dir.display()
            ),
        }
    }
    report(
        "letter templates".into(),
        crate::compose::org(&cfg)
            .map(|_| "built-in templates and overrides render".into())
            .map_err(|e| e.to_string()),
    );
    match cfg.intake.kind {
        IntakeKind::Maildir => {
            let dir = &cfg.intake.dir;
            report(
                format!("maildir {}", dir.display()),
                check_dir(&dir.join("new")),
            );
            if let Some(hint) = maildir::left_in_cur(dir, &cfg.intake.processed_mailbox) {
                println!("warn  {hint}");
            }
        }
        IntakeKind::Imap => report(
            format!("imap {}:{}", cfg.intake.host, cfg.intake.port),
            crate::imap::check(&cfg).await,
        ),
    }
    match cfg.outbound.kind {
        OutboundKind::File => report(
            format!("outbox folder {}", cfg.outbound.dir.display()),
            check_dir(&cfg.outbound.dir),
        ),
        OutboundKind::Smtp => report(
            format!("smtp {}:{}", cfg.outbound.host, cfg.outbound.port),
            crate::mailer::check(&cfg).await,
        ),
    }
    if failed > 0 {
        return Err(Failure::from(anyhow::anyhow!("{failed} check(s) failed")));
    }
    Ok(())
}

async fn check_database(cfg: &Config) -> Result<String, String> {
    let store = Store::open(&cfg.database.url)
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    Ok("opens, migrations applied".into())
}

fn check_key(cfg: &Config) -> Result<String, String> {
    let (_, created) = Key::load_or_create(&cfg.key_file()).map_err(|e| e.to_string())?;
    Ok(if created {
        "created (mode 0600)".into()
    } else {
        "readable, mode 0600".into()
    })
}

fn check_dir(dir: &Path) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create: {e}"))?;
    let probe = dir.join(format!(".closeloop-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("not writable: {e}"))?;
    std::fs::remove_file(&probe).ok();
    Ok("exists and is writable".into())
}
