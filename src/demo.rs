//! `closeloop demo`: the whole loop on bundled sample mail, with no servers.
//! It writes a config into a fresh folder, drops sample reports into a local
//! Maildir, and then runs the daemon's own parts — `maildir::drain` (the same
//! pipeline as `run` and `ingest`) and `outbox::send_due` with the file mailer —
//! telling the story as it goes. What it prints is CLI output.
//!
//! Architecture invariant: no demo-only code path through the product. The demo
//! only writes mail where the daemon reads it and reads back what the store and
//! the letters say; it never touches cases directly.

mod samples;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use samples::planted_secrets;

use crate::config::{Config, ConfigError};
use crate::context::Context;
use crate::domain::{CaseId, LetterKind, Millis};
use crate::keyfile::KeyError;
use crate::letters::LetterError;
use crate::maildir::{self, MaildirError};
use crate::mailer::{Mailer, SetupError};
use crate::outbox;
use crate::pipeline::{Ingested, Joined};
use crate::store::{cases, intake, outbox as letters_table, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo folder {path} is not empty; give a new folder with --dir (the demo starts from a fresh database)")]
    NotEmpty { path: PathBuf },
    #[error("demo folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Maildir(#[from] MaildirError),
    #[error(transparent)]
    Open(#[from] crate::context::OpenError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Letters(#[from] LetterError),
    #[error(transparent)]
    Outbound(#[from] SetupError),
    #[error("cannot print the demo's story: {0}")]
    Print(std::io::Error),
    #[error("the demo went off script: {0}")]
    Script(String),
}

type Result<T, E = DemoError> = std::result::Result<T, E>;

/// The configured responder and the authserv-id of the demo's "receiving server".
const LEAD: &str = "lead@example.org";
const AUTHSERV: &str = "mx.example.org";
const MINUTE: Millis = 60_000;

macro_rules! say {
    ($out:expr) => { writeln!($out).map_err(DemoError::Print)? };
    ($out:expr, $($arg:tt)*) => { writeln!($out, $($arg)*).map_err(DemoError::Print)? };
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The default folder: `./var/demo/<UTC timestamp>`.
pub fn default_dir(now: Millis) -> PathBuf {
    let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now).unwrap_or_default();
    PathBuf::from("var")
        .join("demo")
        .join(at.format("%Y%m%d-%H%M%S").to_string())
}

/// The demo's config file: every path absolute, so `--config DIR/closeloop.toml`
/// works from anywhere afterwards.
pub fn config_text(dir: &Path) -> String {
    let q = |p: PathBuf| toml::Value::String(p.display().to_string()).to_string();
    let db = toml::Value::String(format!("sqlite://{}", dir.join("closeloop.db").display()));
    format!(
        "# Written by `closeloop demo`. Inspect with:\n\
         #   closeloop --config {cfg} cases --status all\n\
         # See config/closeloop.toml for every key, explained.\n\n\
         [database]\nurl = {db}\n\n\
         [intake]\nkind = \"maildir\"\ndir = {maildir}\nallowed_domains = [\"example.org\"]\n\n\
         [outbound]\nkind = \"file\"\ndir = {letters}\nfrom = \"security@example.org\"\n\n\
         [responders]\naddresses = [\"{LEAD}\"]\nauth = \"dmarc\"\ntrusted_authserv_id = \"{AUTHSERV}\"\n\n\
         [letters]\norg_name = \"Example Org\"\n\n\
         [secrets]\nkey_file = {key}\n\n\
         [http]\nlisten = \"\"\n",
        cfg = dir.join("closeloop.toml").display(),
        maildir = q(dir.join("maildir")),
        letters = q(dir.join("letters")),
        key = q(dir.join("closeloop.key")),
    )
}

/// What became of the bundled messages, by sample name.
type Results = BTreeMap<String, Ingested>;

/// Runs the demo in `dir` (default: a new folder under `./var/demo`), telling
/// the story on `out`. Returns the folder.
pub async fn run(dir: Option<&Path>, out: &mut (dyn Write + Send)) -> Result<PathBuf> {
    let started = std::time::Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    let dir = prepare_dir(dir, now)?;
    let cfg_path = dir.join("closeloop.toml");
    let text = config_text(&dir);
    std::fs::write(&cfg_path, &text).map_err(io(&cfg_path))?;
    let cfg = Config::from_toml(&cfg_path, &text, std::iter::empty())?;
    let ctx = Context::open(&cfg).await?;
    let mailer = Mailer::from_config(&cfg)?;
    let maildir = cfg.intake.dir.clone();
    maildir::ensure(&maildir)?;

    // A morning in the life of the security mailbox, three hours ago.
    let t_reports = now - 180 * MINUTE;
    let t_replies = now - 60 * MINUTE;
    let planted = samples::planted();

    say!(
        out,
        "closeloop demo: the whole loop on sample reports, no servers needed"
    );
    say!(out);
    say!(out, "Folder {}", dir.display());
    say!(
        out,
        "  closeloop.toml   the config (SQLite, a local Maildir, letters as .eml files)"
    );
    say!(
        out,
        "  closeloop.db     the database; closeloop.key: the fingerprint key (0600)"
    );
    say!(
        out,
        "  maildir/         the security mailbox; letters/: what closeloop sent"
    );
    say!(out, "Paths below are relative to this folder.");

    // Step 1: mail arrives.
    say!(out);
    say!(
        out,
        "1. Seven messages arrive in the security mailbox (maildir/new)"
    );
    for (i, s) in samples::REPORTS.iter().enumerate() {
        let sent = t_reports - (samples::REPORTS.len() - i) as Millis * 7 * MINUTE;
        let raw = samples::report(s, &planted, sent);
        deliver(
            &maildir,
            &format!("{}.{}.demo", t_reports / 1000, s.name),
            &raw,
        )?;
        say!(out, "   {:<19} {} <{}>", s.name, s.about, sender_of(&raw));
    }

    // Step 2: the daemon's intake.
    say!(out);
    say!(
        out,
        "2. closeloop reads the mailbox (the daemon's own Maildir intake and pipeline)"
    );
    let results = drain(&ctx, &maildir, t_reports).await?;
    let mut conn = ctx.store.conn().await?;
    for (name, r) in &results {
        let line = match r {
            Ingested::Quarantined { reason } => {
                format!("quarantined: {reason}; kept and listed, never answered (no backscatter)")
            }
            Ingested::Ignored { reason } => {
                format!("ignored: {reason}; never answered (no mail loops)")
            }
            Ingested::Report {
                how: Joined::Duplicate(_),
                ..
            } => format!(
                "{}; this reporter will get the outcome too",
                r.describe(ctx.prefix())
            ),
            other => other.describe(ctx.prefix()),
        };
        say!(out, "   {:<19} {line}", name);
    }
    let aws = case_of(&results, "01-gmail-build-log")?;
    let github = case_of(&results, "04-typed-github")?;
    let gcp = case_of(&results, "05-typed-gcp-sa")?;
    say!(
        out,
        "   What closeloop stored (masked; the plaintext keys are not in the database):"
    );
    let mut all = cases::list(&mut conn, None).await?;
    all.sort_by_key(|c| c.id.0);
    for case in all {
        let reports = intake::reports_of(&mut conn, case.id).await?;
        let artifacts = intake::artifacts_of(&mut conn, case.id).await?;
        let shown: Vec<String> = artifacts
            .iter()
            .filter(|a| a.class != "context")
            .map(|a| format!("{} {}", a.kind, a.masked))
            .collect();
        say!(
            out,
            "   {:<5} {} report(s); {}",
            case.id.display(ctx.prefix()),
            reports.len(),
            shown.join(", ")
        );
    }
    drop(conn);

    // Step 3: acknowledgements and notifications.
    say!(out);
    say!(
        out,
        "3. The outbox sends what those reports caused (written to letters/ as .eml files)"
    );
    let pass = outbox::send_due(&ctx, &mailer, t_reports + MINUTE).await?;
    print_letters(out, &dir, &pass.delivered)?;
    say!(
        out,
        "   An acknowledgement names the case and says it is not the outcome yet."
    );

    // Step 4: the responder answers by email.
    say!(out);
    say!(
        out,
        "4. The responder {LEAD} replies to the notifications with commands"
    );
    say!(
        out,
        "   (each reply carries `Authentication-Results: {AUTHSERV}; dmarc=pass`, checked"
    );
    say!(
        out,
        "   against responders.trusted_authserv_id: responders.auth = \"dmarc\")"
    );
    let script = [
        (aws, "r1", "classify secret-leak\nresolve remediated\n"),
        (
            aws,
            "r2",
            "classify secret-leak\n\
             severity critical\n\
             owasp NHI2\n\
             action deactivated the leaked access key in AWS IAM and issued a new one to the build job\n\
             action removed the key from build #4411's log, the Jira comment and Slack\n\
             action the build now reads its key from the CI secret store, so logs show only a mask\n\
             resolve remediated : CloudTrail shows no use of the key from outside our network.\n",
        ),
        (
            gcp,
            "r3",
            "classify suspicious-account\n\
             resolve false-positive : The night-time key and bucket listing came from our approved \
             backup job, which rotates its key every month; we checked the audit log and the change ticket.\n",
        ),
        (
            github,
            "r4",
            "classify secret-leak\n\
             severity high\n\
             assign lead@example.org\n\
             ask Which account owns the gist? We are revoking the token now.\n",
        ),
    ];
    let mut conn = ctx.store.conn().await?;
    for (i, (case, tag, commands)) in script.iter().enumerate() {
        let notify = letters_table::of_case(&mut conn, *case)
            .await?
            .into_iter()
            .find(|l| l.kind == LetterKind::Notify.slug() && l.recipient == LEAD)
            .ok_or_else(|| DemoError::Script(format!("no notification for case {}", case.0)))?;
        let to = samples::ReplyTo {
            case: &case.display(ctx.prefix()),
            subject: &notify.subject,
            in_reply_to: &notify.message_id,
            notified_at: notify.created_at,
        };
        let at = t_replies - (script.len() - i) as Millis * 5 * MINUTE;
        let mid = format!("demo-{tag}.{}@example.org", t_replies / 1000);
        let raw = samples::reply(&to, commands, AUTHSERV, &mid, at);
        deliver(&maildir, &format!("{}.{tag}.demo", t_replies / 1000), &raw)?;
        say!(out, "   {tag}  Re: {}", notify.subject);
        for l in commands.lines() {
            say!(out, "         | {l}");
        }
    }
    drop(conn);

    // Step 5: commands through the same intake.
    say!(out);
    say!(
        out,
        "5. closeloop reads the replies (same intake): each block is applied whole or not at all"
    );
    let replies = drain(&ctx, &maildir, t_replies).await?;
    let mut conn = ctx.store.conn().await?;
    let mut rejected_seen = 0;
    for (name, r) in &replies {
        let tag = name.split('.').next().unwrap_or(name);
        match r {
            Ingested::Command {
                case,
                applied: true,
            } => {
                let c = cases::require(&mut conn, *case, ctx.prefix()).await?;
                let state = match (&c.outcome, c.status.as_str()) {
                    (Some(o), "resolved") => {
                        format!("{} is resolved: {o}", case.display(ctx.prefix()))
                    }
                    _ => format!("{} stays open", case.display(ctx.prefix())),
                };
                say!(out, "   {tag}  applied; {state}");
            }
            Ingested::Command {
                case,
                applied: false,
            } => {
                let events = cases::events(&mut conn, *case).await?;
                let why = events
                    .iter()
                    .filter(|e| e.kind == "rejected")
                    .nth(rejected_seen)
                    .map(|e| {
                        e.text
                            .split_once(": ")
                            .map_or(e.text.clone(), |(_, t)| t.to_string())
                    })
                    .unwrap_or_default();
                rejected_seen += 1;
                say!(
                    out,
                    "   {tag}  REJECTED, nothing changed on {}: {why}",
                    case.display(ctx.prefix())
                );
            }
            other => say!(out, "   {tag}  {}", other.describe(ctx.prefix())),
        }
    }
    drop(conn);

    // Step 6: confirmations, questions, outcomes.
    say!(out);
    say!(
        out,
        "6. The outbox sends confirmations, the question and the outcome letters"
    );
    let pass = outbox::send_due(&ctx, &mailer, t_replies + MINUTE).await?;
    print_letters(out, &dir, &pass.delivered)?;
    say!(
        out,
        "   Every reporter of {} gets the outcome, duplicates included.",
        aws.display(ctx.prefix())
    );

    // The raw mail carries the (fake) plaintext keys: a real mailbox keeps it in
    // its processed folder; the demo folder should not.
    let processed = maildir::folder(&maildir, &ctx.cfg.intake.processed_mailbox);
    let removed = remove_raw_mail(&processed)?;
    say!(out);
    say!(
        out,
        "The {removed} raw messages were removed from {}: they carry the planted keys in plain text.",
        processed.join("cur").strip_prefix(&dir).unwrap_or(&processed).display()
    );
    say!(out, "(In production the raw mail stays in the mailbox's processed folder; protect that mailbox.)");

    summary(out, &ctx).await?;
    full_letter(out, &ctx, &dir, aws, &pass.delivered).await?;

    say!(out);
    say!(
        out,
        "Finished in {:.1} s. Look around:",
        started.elapsed().as_secs_f64()
    );
    say!(
        out,
        "  closeloop --config {} cases --status all",
        cfg_path.display()
    );
    say!(
        out,
        "  closeloop --config {} case show {}",
        cfg_path.display(),
        aws.display(ctx.prefix())
    );
    say!(out, "  ls {}", dir.join("letters").display());
    ctx.store.close().await;
    Ok(dir)
}

fn prepare_dir(dir: Option<&Path>, now: Millis) -> Result<PathBuf> {
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_dir(now));
    let dir = if dir.is_absolute() {
        dir
    } else {
        let cwd = std::env::current_dir().map_err(io(&dir))?;
        cwd.join(dir)
    };
    if let Ok(mut entries) = std::fs::read_dir(&dir) {
        if entries.next().is_some() {
            return Err(DemoError::NotEmpty { path: dir });
        }
    }
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    Ok(dir)
}

/// Delivers one message the Maildir way: write into `tmp/`, rename into `new/`.
fn deliver(maildir: &Path, name: &str, raw: &str) -> Result<()> {
    let tmp = maildir.join("tmp").join(name);
    std::fs::write(&tmp, raw).map_err(io(&tmp))?;
    let new = maildir.join("new").join(name);
    std::fs::rename(&tmp, &new).map_err(io(&new))
}

fn sender_of(raw: &str) -> &str {
    raw.lines()
        .find_map(|l| l.strip_prefix("From: "))
        .and_then(|f| f.split_once('<'))
        .map(|(_, a)| a.trim_end_matches('>'))
        .unwrap_or("")
}

/// Drains the Maildir at `at`; results keyed by sample name.
async fn drain(ctx: &Context, maildir: &Path, at: Millis) -> Result<Results> {
    let mut out = Results::new();
    maildir::drain(
        ctx,
        maildir,
        &mut maildir::CurState::default(),
        || at,
        |path, r| {
            let file = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            // `<time>.<name>.demo`
            let name = file.split('.').nth(1).unwrap_or(&file).to_string();
            out.insert(name, r);
        },
    )
    .await?;
    Ok(out)
}

fn case_of(results: &Results, name: &str) -> Result<CaseId> {
    match results.get(name) {
        Some(Ingested::Report { case, .. }) => Ok(*case),
        other => Err(DemoError::Script(format!(
            "sample {name} did not become a report: {other:?}"
        ))),
    }
}

fn print_letters(
    out: &mut (dyn Write + Send),
    dir: &Path,
    delivered: &[(LetterKind, String, String)],
) -> Result<()> {
    for (kind, to, place) in delivered {
        let shown = Path::new(place)
            .strip_prefix(dir)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| place.clone());
        say!(out, "   {:<9} to {:<20} {shown}", kind.slug(), to);
    }
    Ok(())
}

/// The figures of `closeloop stats`, from the same code.
async fn summary(out: &mut (dyn Write + Send), ctx: &Context) -> Result<()> {
    let window = crate::stats::Window {
        since: None,
        now: chrono::Utc::now().timestamp_millis(),
    };
    let sla = crate::stats::SlaMs {
        classify_within: ctx.cfg.sla.classify_within.millis(),
        outcome_within: ctx.cfg.sla.outcome_within.millis(),
    };
    let mut conn = ctx.store.conn().await?;
    let measured = crate::stats::collect(&mut conn, window, sla).await?;
    say!(out);
    say!(
        out,
        "Summary: the same figures as `closeloop --config {} stats`",
        ctx_config_hint(ctx)
    );
    say!(
        out,
        "{}",
        crate::stats::render_table(&measured.stats, "the demo").trim_end()
    );
    Ok(())
}

fn ctx_config_hint(ctx: &Context) -> String {
    ctx.cfg
        .sqlite_path()
        .and_then(|p| {
            p.parent()
                .map(|d| d.join("closeloop.toml").display().to_string())
        })
        .unwrap_or_default()
}

/// Prints the first outcome letter of `case` as its reporter reads it.
async fn full_letter(
    out: &mut (dyn Write + Send),
    ctx: &Context,
    dir: &Path,
    case: CaseId,
    delivered: &[(LetterKind, String, String)],
) -> Result<()> {
    let mut conn = ctx.store.conn().await?;
    let letter = letters_table::of_case(&mut conn, case)
        .await?
        .into_iter()
        .find(|l| l.kind == LetterKind::Outcome.slug())
        .ok_or_else(|| DemoError::Script("no outcome letter was written".into()))?;
    let path = delivered
        .iter()
        .find(|(k, to, _)| *k == LetterKind::Outcome && *to == letter.recipient)
        .map(|(_, _, p)| {
            Path::new(p)
                .strip_prefix(dir)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| p.clone())
        })
        .unwrap_or_default();
    say!(out);
    say!(out, "The outcome letter to {} ({path}):", letter.recipient);
    say!(
        out,
        "------------------------------------------------------------------------"
    );
    say!(out, "From: {}", ctx.cfg.outbound.from);
    say!(out, "To: {}", letter.recipient);
    say!(out, "Subject: {}", letter.subject);
    say!(out);
    say!(out, "{}", letter.body.trim_end());
    say!(
        out,
        "------------------------------------------------------------------------"
    );
    Ok(())
}

/// Deletes the ingested sample files (everything in the processed folder's `cur/`);
/// returns how many.
fn remove_raw_mail(processed: &Path) -> Result<usize> {
    let cur = processed.join("cur");
    let mut n = 0;
    for e in std::fs::read_dir(&cur).map_err(io(&cur))?.flatten() {
        std::fs::remove_file(e.path()).map_err(io(&e.path()))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_is_valid_and_absolute() {
        let dir = Path::new("/tmp/some \"odd\" dir");
        let text = config_text(dir);
        let cfg = Config::from_toml(Path::new("demo.toml"), &text, std::iter::empty()).unwrap();
        assert!(cfg.intake.dir.is_absolute() && cfg.outbound.dir.is_absolute());
        assert_eq!(cfg.sqlite_path().unwrap(), dir.join("closeloop.db"));
        assert_eq!(cfg.key_file(), dir.join("closeloop.key"));
        assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());
    }
}
