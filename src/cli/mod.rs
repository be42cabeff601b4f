//! The command line (SPEC §2): argument definitions, help that teaches, and
//! dispatch. Entry layer: the only place besides `main` that reads config and
//! wires the parts together. Exit codes: 0 ok, 1 runtime failure, 2 bad usage
//! or invalid config.

mod cases;
mod check;
mod copy_db;
mod ingest;
mod logging;
mod oauth2_login;
mod quarantine;
mod respond;
mod scan;
mod stats;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub use logging::subscriber as log_subscriber;

use crate::config::{Config, ConfigError};
use crate::context::Context;
use crate::store::Store;

const AFTER_HELP: &str = "\
How it works: staff forward suspicious findings to the security mailbox; closeloop
stores each as a redacted, deduplicated report on a case; responders reply with
commands (classify, action, resolve …); every reporter gets an outcome letter.

Examples:
  closeloop demo                                  # the whole loop, no servers needed
  closeloop --config /etc/closeloop/closeloop.toml run   # the daemon
  closeloop ingest message.eml                    # one message from a file
  closeloop cases --status open                   # what is waiting
  echo 'classify secret-leak' | closeloop respond --as lead@example.org CL-3";

#[derive(Parser, Debug)]
#[command(
    name = "closeloop",
    version,
    about = "Closed-loop security reporting: intake, dedup, responder commands and outcome letters by email",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Config file (TOML). Keys can be overridden with CLOSELOOP_<SECTION>_<KEY>.
    #[arg(
        long,
        global = true,
        env = "CLOSELOOP_CONFIG",
        default_value = "config/closeloop.toml"
    )]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: intake, commands, outbox, reminders, HTTP endpoint.
    #[command(
        after_help = "Example:\n  closeloop --config /etc/closeloop/closeloop.toml run\n  closeloop run --once   # drain waiting mail, send due letters, exit"
    )]
    Run {
        /// Drain what is waiting, send due letters, then exit.
        #[arg(long)]
        once: bool,
    },
    /// The whole loop on bundled sample reports, with no servers.
    #[command(
        after_help = "Example:\n  closeloop demo\n  closeloop demo --dir /tmp/cl-demo\n  closeloop --config /tmp/cl-demo/closeloop.toml cases --status all\n\nWrites a config, a SQLite database, a Maildir and letters/*.eml into a new folder,\nruns sample reports and responder replies through the daemon's own pipeline,\nand prints what happened. Takes a second or two; needs no servers."
    )]
    Demo {
        /// Folder for the demo's database, Maildir and letters (default: a new folder under ./var/demo).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Ingest RFC 5322 messages from files, or one from stdin (MTA pipe delivery).
    #[command(
        after_help = "Examples:\n  closeloop ingest report.eml other.eml\n  closeloop ingest < report.eml\n\nPrints one line per message: report (case opened or joined), quarantined, ignored,\ncommand or reply. Exit 0 when every message was stored, whatever became of it."
    )]
    Ingest {
        /// Message files; none = read one message from stdin.
        files: Vec<PathBuf>,
    },
    /// Find secrets and identities in text; prints JSON lines, never a plaintext secret.
    #[command(
        after_help = "Example:\n  closeloop scan build.log\n  git diff | closeloop scan\n\nEach line: {\"kind\":\"github-pat\",\"class\":\"secret\",\"masked\":\"ghp_…a1b2\",\"start\":10,\"end\":50}\n(byte offsets into the input; a byte that is not UTF-8 counts as one)."
    )]
    Scan {
        /// Text file; none = stdin.
        file: Option<PathBuf>,
    },
    /// List cases.
    #[command(
        after_help = "Examples:\n  closeloop cases\n  closeloop cases --status all --json\n\nColumns: ID, STATUS, CATEGORY, OUTCOME, REPORTS (duplicates included), OPENED, FIRST SUBJECT.\nJSON fields are stable (SPEC §2); artifacts appear masked only."
    )]
    Cases {
        /// Which cases to list.
        #[arg(long, value_enum, default_value = "open")]
        status: StatusFilter,
        /// JSON output (stable fields, SPEC §2).
        #[arg(long)]
        json: bool,
    },
    /// One case in detail.
    #[command(
        subcommand,
        after_help = "Example:\n  closeloop case show CL-3\n  closeloop case show 3 --json"
    )]
    Case(CaseCommand),
    /// Apply a command block from stdin to a case, as a configured responder.
    #[command(
        after_help = "Example:\n  printf 'classify secret-leak\\naction revoked the key in AWS IAM\\nresolve remediated\\n' \\\n    | closeloop respond --as lead@example.org CL-3\n\nSame language and rules as replying by email (see README: Responder commands)."
    )]
    Respond {
        /// The responder's address (must be in responders.addresses).
        #[arg(long = "as", value_name = "EMAIL")]
        as_: String,
        /// Case id: CL-3 or 3.
        id: String,
    },
    /// Loop metrics: reports, duplicates, loop-closure rate, time to outcome.
    #[command(
        after_help = "Example:\n  closeloop stats --since 30d\n  closeloop stats --json\n\nReports received, cases opened, duplicates joined, quarantined and ignored mail,\nloop-closure rate (outcome letters actually sent), times to classification and\noutcome, SLA breaches. The same figures are on /metrics when http.listen is set."
    )]
    Stats {
        /// Only activity in this window (e.g. 7d, 24h).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List messages set aside: quarantined (or, with --ignored, ignored), with the reason.
    #[command(
        after_help = "Examples:\n  closeloop quarantine\n  closeloop quarantine --since 7d --json\n  closeloop quarantine --ignored\n\nQuarantined: a sender outside intake.allowed_domains, a message that is oversized,\nunreadable or more complex than is read (over 10,000 MIME parts, 100,000 header lines\nor 100,000 addresses, or encoded parts that cannot be counted). Ignored: automatic\nmail, bounces, mailing lists, mail from closeloop's own address. Neither is answered.\nCopies of our letters (outbound.journal) are listed by neither. Newest first; subjects are shown redacted, as stored.\nThe messages themselves stay in the mailbox's processed folder."
    )]
    Quarantine {
        /// List ignored messages instead of quarantined ones.
        #[arg(long)]
        ignored: bool,
        /// Only messages received in this window (e.g. 7d, 24h).
        #[arg(long)]
        since: Option<String>,
        /// At most this many (newest first).
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Validate the config and check that the database, IMAP and SMTP answer.
    #[command(
        name = "check-config",
        after_help = "Example:\n  closeloop --config /etc/closeloop/closeloop.toml check-config\n\nOne line per check (config, database, key file, reading marks, templates, intake,\noutbound): `ok` or `FAIL` with the reason, `warn` for what works but deserves a look.\nExit 2 when the config file is invalid, 1 when a check fails (a template override\nthat does not render is a failed check)."
    )]
    CheckConfig,
    /// Apply database migrations (also done automatically at start).
    #[command(
        after_help = "Example:\n  closeloop --config /etc/closeloop/closeloop.toml migrate\n\nMigrations are append-only and also run at every start, so an upgrade is:\nreplace the binary, restart the service."
    )]
    Migrate,
    /// Sign in once as the mailbox's user, for the refresh token an OAuth2 sign-in renews tokens with.
    #[command(
        name = "oauth2-login",
        after_help = "Example:\n  closeloop --config /etc/closeloop/closeloop.toml oauth2-login --section intake\n\nFor [intake.oauth2] or [outbound.oauth2] with refresh_token_file set. Asks the\nprovider for a code (the device authorization grant, RFC 8628), prints the page to\nopen and the code to enter there (in any browser, on any machine), waits while you\nsign in as the mailbox's user and consent, then writes the refresh token to\nrefresh_token_file (owner-only). From then on closeloop renews its access tokens\nby itself. Microsoft 365: a public client (\"Allow public client flows\") and\noffline_access in scope, e.g.\n  scope = \"https://outlook.office365.com/IMAP.AccessAsUser.All offline_access\"\nOther providers: set device_authorization_url. Run it as the user closeloop runs as.\n\nWith --browser (Gmail, whose mail scope the code flow does not serve): prints a\nsign-in page for a browser on this machine (or a forwarded port) and takes the\nanswer on a loopback port, e.g. with a Google \"Desktop app\" client:\n  closeloop oauth2-login --section intake --browser"
    )]
    Oauth2Login {
        /// Which table's client signs in.
        #[arg(long, value_enum, default_value_t = Section::Intake)]
        section: Section,
        /// Sign in with a browser on this machine instead of a code (the authorization
        /// code grant with PKCE; Gmail needs it).
        #[arg(long)]
        browser: bool,
    },
    /// Copy a whole deployment to another, empty database (SQLite <-> PostgreSQL).
    #[command(
        name = "copy-db",
        after_help = "Example:\n  closeloop copy-db --from sqlite://var/closeloop.db --to postgres://closeloop@db/closeloop\n\nBoth databases are migrated first; the target must be empty. Stop the daemons\nwhile copying. Ids are kept; row counts are verified and printed per table.\nThen point database.url at the new database. The key file stays where it is."
    )]
    CopyDb {
        /// Database URL to copy from.
        #[arg(long, value_name = "URL")]
        from: String,
        /// Empty database URL to copy to.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CaseCommand {
    /// Reports, reporters, artifacts (masked), timeline and letters of one case.
    #[command(after_help = "Example:\n  closeloop case show CL-3 --json")]
    Show {
        /// Case id: CL-3 or 3.
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// A config section with its own mail server sign-in.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// `[intake.oauth2]`: reading the security mailbox.
    Intake,
    /// `[outbound.oauth2]`: sending letters.
    Outbound,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Open,
    Resolved,
    All,
}

/// A failure with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 2,
            error: error.into(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure {
            code: 1,
            error: e.into(),
        }
    }
}

pub type Outcome = Result<(), Failure>;

/// Runs one parsed command line.
pub async fn dispatch(cli: Cli) -> Outcome {
    match cli.command {
        Command::Scan { file } => scan::run(file.as_deref()),
        Command::CheckConfig => check::run(&cli.config).await,
        Command::CopyDb { from, to } => copy_db::run(&from, &to).await,
        Command::Demo { dir } => {
            match crate::demo::run(dir.as_deref(), &mut std::io::stdout()).await {
                Ok(_) => Ok(()),
                Err(e @ crate::demo::DemoError::NotEmpty { .. }) => Err(Failure::usage(e)),
                Err(e) => Err(Failure::from(e)),
            }
        }
        command => {
            let cfg = load_config(&cli.config)?;
            match command {
                Command::Migrate => {
                    let store = Store::open(&cfg.database.url).await?;
                    println!(
                        "migrations applied to {}",
                        crate::store::redact_url(&cfg.database.url)
                    );
                    store.close().await;
                    Ok(())
                }
                Command::Ingest { files } => ingest::run(&cfg, &files).await,
                Command::Oauth2Login { section, browser } => {
                    oauth2_login::run(&cfg, section, browser).await
                }
                Command::Cases { status, json } => {
                    cases::list(&open(&cfg).await?, status, json).await
                }
                Command::Case(CaseCommand::Show { id, json }) => {
                    cases::show(&open(&cfg).await?, &id, json).await
                }
                Command::Respond { as_, id } => respond::run(&open(&cfg).await?, &as_, &id).await,
                Command::Stats { since, json } => {
                    stats::run(&open(&cfg).await?, since.as_deref(), json).await
                }
                Command::Quarantine {
                    ignored,
                    since,
                    limit,
                    json,
                } => {
                    let ctx = open(&cfg).await?;
                    quarantine::run(&ctx, ignored, since.as_deref(), limit, json).await
                }
                Command::Run { once } => crate::daemon::run(open(&cfg).await?, once)
                    .await
                    .map_err(Failure::from),
                Command::Scan { .. }
                | Command::CheckConfig
                | Command::CopyDb { .. }
                | Command::Demo { .. } => unreachable!("handled above"),
            }
        }
    }
}

/// A `--since` window (`7d`, `24h` …); a bad one is a usage error (exit 2).
pub(crate) fn since_arg(since: Option<&str>) -> Result<Option<crate::config::Span>, Failure> {
    since
        .map(|s| {
            crate::config::Span::parse(s)
                .map_err(|e| Failure::usage(anyhow::anyhow!("--since: {e}")))
        })
        .transpose()
}

/// Loads and validates the config: errors are usage errors (exit 2).
pub fn load_config(path: &Path) -> Result<Config, Failure> {
    let cfg = Config::load(path).map_err(|e| match e {
        ConfigError::Read { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => Failure::usage(
            anyhow::anyhow!("{e}\nhint: pass --config PATH or set CLOSELOOP_CONFIG; config/closeloop.toml is a sample"),
        ),
        e => Failure::usage(e),
    })?;
    for w in cfg.warnings() {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}

/// Opens the deployment; a broken template override is a usage error (exit 2).
pub async fn open(cfg: &Config) -> Result<Context, Failure> {
    Context::open(cfg).await.map_err(|e| match e {
        crate::context::OpenError::Templates(_) => Failure::usage(e),
        e => Failure::from(e),
    })
}
