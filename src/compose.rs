//! Composes letters: gathers what each letter needs from the store, renders
//! it with `letters`, and enqueues it in the CALLER's transaction (the
//! transactional outbox), with a stable Message-ID and a per-recipient rate
//! limit so a loop or a flood cannot make closeloop spam anyone.
//!
//! Must not send anything (that is `outbox`) nor change cases (`lifecycle`).

use std::collections::HashMap;

use crate::config::{AuthMode, Config};
use crate::context::Context;
use crate::domain::{rfc3339, CaseId, Category, LetterKind, Millis, Outcome};
use crate::letters::{self, Letter, LetterError, MaskedArtifact, Org, Overrides};
use crate::pipeline::Joined;
use crate::signed_address;
use crate::store::cases::{self, CaseRow};
use crate::store::intake::{self as rows, ReportRow};
use crate::store::outbox::{self, LetterRow};
use crate::store::{Conn, StoreError};

/// At most this many letters to one address per hour; more are recorded, not queued.
pub const RATE_LIMIT_PER_HOUR: i64 = 30;
const HOUR_MS: Millis = 3_600_000;

/// Builds the letters' view of the deployment, loading and checking template
/// overrides now so a broken one fails at start, not at the first letter.
pub fn org(cfg: &Config) -> Result<Org, LetterError> {
    let org = Org::new(
        cfg.letters.org_name.clone(),
        cfg.letters.case_prefix.clone(),
    );
    match &cfg.letters.templates_dir {
        Some(dir) => Ok(org.with_overrides(Overrides::load(dir)?)),
        None => Ok(org),
    }
}

/// "2 November 2026".
pub fn date_words(at: Millis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or_default()
}

/// An artifact kind in words a reporter understands.
pub fn artifact_words(kind: &str) -> String {
    let words = match kind {
        "aws-access-key-id" => "an AWS access key",
        "aws-secret-access-key" => "an AWS secret key",
        "github-pat" | "github-fine-grained-pat" | "github-oauth" | "github-app-token" => {
            "a GitHub token"
        }
        "gitlab-pat" => "a GitLab token",
        "slack-token" => "a Slack token",
        "slack-webhook" => "a Slack webhook",
        "stripe-secret-key" | "stripe-restricted-key" => "a Stripe key",
        "twilio-api-key" => "a Twilio key",
        "sendgrid-api-key" => "a SendGrid key",
        "openai-api-key" => "an OpenAI key",
        "anthropic-api-key" => "an Anthropic key",
        "google-api-key" => "a Google API key",
        "npm-token" => "an npm token",
        "pypi-token" => "a PyPI token",
        "docker-pat" => "a Docker Hub token",
        "vault-token" => "a HashiCorp Vault token",
        "huggingface-token" => "a Hugging Face token",
        "digitalocean-token" => "a DigitalOcean token",
        "shopify-token" => "a Shopify token",
        "gcp-oauth-client-secret" => "a Google OAuth client secret",
        "telegram-bot-token" => "a Telegram bot token",
        "databricks-token" => "a Databricks token",
        "mailgun-api-key" => "a Mailgun key",
        "azure-client-secret" => "an Azure app's client secret",
        "atlassian-api-token" => "an Atlassian (Jira, Confluence) token",
        "discord-bot-token" => "a Discord bot token",
        "gitlab-token" => "a GitLab token",
        "linear-api-key" => "a Linear key",
        "sentry-token" => "a Sentry token",
        "grafana-token" => "a Grafana token",
        "new-relic-key" => "a New Relic key",
        "postman-api-key" => "a Postman key",
        "terraform-cloud-token" => "a Terraform Cloud token",
        "doppler-token" => "a Doppler token",
        "planetscale-token" => "a PlanetScale token or password",
        "pulumi-token" => "a Pulumi token",
        "age-secret-key" => "an age encryption key",
        "onepassword-token" => "a 1Password service account token",
        "tailscale-key" => "a Tailscale key",
        "jfrog-token" => "a JFrog (Artifactory) token",
        "stripe-webhook-secret" => "a Stripe webhook signing secret",
        "heroku-api-key" => "a Heroku key",
        "groq-api-key" => "a Groq key",
        "perplexity-api-key" => "a Perplexity key",
        "notion-token" => "a Notion token",
        "flyio-token" => "a Fly.io token",
        "openshift-token" => "an OpenShift token",
        "dynatrace-token" => "a Dynatrace token",
        "prefect-token" => "a Prefect token",
        "aws-bedrock-api-key" => "an Amazon Bedrock key",
        "harness-token" => "a Harness token",
        "sonarqube-token" => "a SonarQube token",
        "buildkite-token" => "a Buildkite token",
        "supabase-token" => "a Supabase token",
        "xai-api-key" => "an xAI key",
        "replicate-token" => "a Replicate token",
        "google-oauth-token" => "a Google OAuth token",
        "square-token" => "a Square token",
        "facebook-access-token" => "a Facebook (Meta) access token",
        "brevo-api-key" => "a Brevo (Sendinblue) key",
        "alibaba-access-key-id" => "an Alibaba Cloud access key",
        "tencent-secret-id" => "a Tencent Cloud key",
        "mapbox-token" => "a Mapbox secret token",
        "figma-token" => "a Figma token",
        "netlify-token" => "a Netlify token",
        "rubygems-api-key" => "a RubyGems key",
        "nuget-api-key" => "a NuGet key",
        "shippo-token" => "a Shippo token",
        "flutterwave-secret-key" => "a Flutterwave secret key",
        "langsmith-api-key" => "a LangSmith key",
        "pinecone-api-key" => "a Pinecone key",
        "discord-webhook" => "a Discord webhook",
        "teams-webhook" => "a Microsoft Teams webhook",
        "neon-api-key" => "a Neon key",
        "clojars-token" => "a Clojars token",
        "readme-api-key" => "a ReadMe key",
        "dropbox-token" => "a Dropbox token",
        "easypost-api-key" => "an EasyPost key",
        "frameio-token" => "a Frame.io token",
        "typeform-token" => "a Typeform token",
        "cloudflare-origin-ca-key" => "a Cloudflare Origin CA key",
        "render-api-key" => "a Render key",
        "contentful-token" => "a Contentful token",
        "duffel-token" => "a Duffel token",
        "mailchimp-api-key" => "a Mailchimp key",
        "scalingo-token" => "a Scalingo token",
        "twitter-bearer-token" => "an X (Twitter) bearer token",
        "yandex-api-key" => "a Yandex Cloud key",
        "bitbucket-app-password" => "a Bitbucket app password",
        "firebase-fcm-key" => "a Firebase Cloud Messaging server key",
        "adobe-client-secret" => "an Adobe client secret",
        "openrouter-api-key" => "an OpenRouter key",
        "signed-url-signature" => "a signed link's signature",
        "private-key" => "a private key",
        "gcp-service-account-key" => "a Google Cloud service account key",
        "jwt" => "a login token (JWT)",
        "bearer-token" => "an access token",
        "url-password" => "a password in a link",
        "azure-storage-key" => "an Azure storage key",
        "generic-secret" => "a password or key",
        "gcp-service-account" => "a Google Cloud service account",
        "aws-arn" => "an AWS account or role",
        "azure-app-id" => "an Azure app",
        "k8s-service-account" => "a Kubernetes service account",
        "url" => "a web address",
        "host" => "a server name",
        other => return other.replace('-', " "),
    };
    words.to_string()
}

fn masked(list: &[rows::ArtifactRow], with_context: bool) -> Vec<MaskedArtifact> {
    list.iter()
        .filter(|a| with_context || a.class != "context")
        .map(|a| MaskedArtifact::new(artifact_words(&a.kind), a.masked.clone()))
        .collect()
}

/// What a transaction has yet to write of letters and their events, and what
/// it knows of recipients' letters in the last hour, so a batch asks the
/// store once per recipient instead of once per letter and writes its
/// letters and events in a few statements. Events and letters wait in
/// order until `flush`; the counts are only valid while every letter the
/// transaction adds goes through here: a caller that lets other code queue
/// letters must `forget` afterwards.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// (recipient, since) → letters to them created at or after `since`.
    counts: HashMap<(String, Millis), i64>,
    events: Vec<cases::NewEvent>,
    letters: Vec<(LetterRow, Millis)>,
}

impl Outgoing {
    /// Drops what it knows of counts: the next letter asks the store again.
    pub fn forget(&mut self) {
        self.counts.clear();
    }

    /// Learns the counts of these recipients (any case) in one query.
    pub async fn prefetch(
        &mut self,
        conn: &mut Conn,
        recipients: &[String],
        now: Millis,
    ) -> Result<(), StoreError> {
        let since = now - HOUR_MS;
        let mut ask: Vec<&str> = Vec::new();
        for r in recipients {
            if !ask.contains(&r.as_str()) && !self.counts.contains_key(&(r.clone(), since)) {
                ask.push(r);
            }
        }
        if ask.is_empty() {
            return Ok(());
        }
        let found = outbox::counts_to_since(conn, &ask, since, RATE_LIMIT_PER_HOUR).await?;
        for r in ask {
            let n = found
                .iter()
                .find(|(to, _)| to == r)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            self.counts.insert((r.to_string(), since), n);
        }
        Ok(())
    }

    /// An event on a case by closeloop itself, written at the next `flush`.
    pub fn event(&mut self, case: CaseId, at: Millis, kind: &'static str, text: String) {
        self.events.push(cases::NewEvent {
            case,
            at,
            actor: "closeloop",
            kind,
            text,
        });
    }

    /// Writes the waiting events, then the waiting letters.
    pub async fn flush(&mut self, conn: &mut Conn) -> Result<(), StoreError> {
        if !self.events.is_empty() {
            cases::add_events(conn, &self.events).await?;
            self.events.clear();
        }
        if !self.letters.is_empty() {
            outbox::enqueue_many(conn, &self.letters).await?;
            self.letters.clear();
        }
        Ok(())
    }

    async fn count(
        &mut self,
        conn: &mut Conn,
        to: &str,
        since: Millis,
    ) -> Result<&mut i64, StoreError> {
        let key = (to.to_string(), since);
        if !self.counts.contains_key(&key) {
            let n = outbox::count_to_since(conn, to, since, RATE_LIMIT_PER_HOUR).await?;
            self.counts.insert(key.clone(), n);
        }
        Ok(self.counts.entry(key).or_default())
    }
}

/// Stores a rendered letter unless the recipient's hourly limit is reached.
/// Returns a line for confirmations ("outcome to a@x.org"), or None when held back.
pub async fn store_letter(
    ctx: &Context,
    conn: &mut Conn,
    case: Option<CaseId>,
    letter: Letter,
    now: Millis,
) -> Result<Option<String>, StoreError> {
    let mut out = Outgoing::default();
    let line = admit(ctx, conn, &mut out, case, letter, now).await?;
    out.flush(conn).await?;
    Ok(line)
}

/// Decides whether a letter may go (the recipient's hourly limit, counted
/// in `out`) and queues it in `out`, due now or an hour later. Returns a
/// line for confirmations, or None when it is held back (or addressed to
/// ourselves).
async fn admit(
    ctx: &Context,
    conn: &mut Conn,
    out: &mut Outgoing,
    case: Option<CaseId>,
    letter: Letter,
    now: Millis,
) -> Result<Option<String>, StoreError> {
    let to = letter.to.to_ascii_lowercase();
    if to == ctx.own_address() {
        return Ok(None);
    }
    let mut due = now;
    let sent = out.count(conn, &to, now - HOUR_MS).await?;
    let over = *sent >= RATE_LIMIT_PER_HOUR;
    // Letters that close the loop are delayed, never dropped; the rest are held back.
    let closes_loop = matches!(
        letter.kind,
        LetterKind::Outcome | LetterKind::Recent | LetterKind::Question | LetterKind::Update
    );
    if !over || closes_loop {
        // This letter will be stored (created now): it counts from here on.
        *sent += 1;
    }
    if over {
        tracing::warn!(
            kind = letter.kind.slug(),
            case = case.map(|c| c.0),
            closes_loop,
            "recipient rate limit reached"
        );
        if let Some(c) = case {
            let what = if closes_loop {
                "delayed by an hour"
            } else {
                "held back"
            };
            let text = format!(
                "{} letter to {to} {what}: more than {RATE_LIMIT_PER_HOUR} letters an hour",
                letter.kind
            );
            out.event(c, now, "rate-limited", text);
        }
        if !closes_loop {
            return Ok(None);
        }
        due = now + HOUR_MS;
    }
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce)
        .map_err(|e| StoreError::NotFound(format!("no randomness for a Message-ID: {e}")))?;
    let message_id = letters::message_id_for(
        letter.kind,
        case.unwrap_or(CaseId(0)),
        &to,
        i64::from_le_bytes(nonce) & i64::MAX,
        &ctx.own_domain(),
    );
    let line = format!("{} to {to}", letter.kind);
    let row = LetterRow {
        id: 0,
        case_id: case,
        kind: letter.kind.slug().to_string(),
        recipient: to,
        subject: letter.subject,
        body: letter.body,
        message_id,
        in_reply_to: letter.in_reply_to,
        refs: letter.references.join(" "),
        reply_to: letter.reply_to,
        auto_submitted: letter.auto_submitted.to_string(),
        status: "pending".into(),
        attempts: 0,
        last_error: None,
        created_at: now,
        sent_at: None,
    };
    out.letters.push((row, due));
    Ok(Some(line))
}

fn render_failed(e: LetterError) -> StoreError {
    // Templates are checked at start; a failure here is a bug worth a loud error.
    StoreError::NotFound(format!("letter rendering failed: {e}"))
}

/// Where a responder's reply should go: the per-case signed address in
/// `token` mode, else our own address (the subject carries the case id).
pub fn responder_reply_to(ctx: &Context, case: CaseId, responder: &str) -> String {
    let own = ctx.own_address();
    if ctx.cfg.responders.auth == AuthMode::Token {
        let (local, domain) = own.split_once('@').unwrap_or((own.as_str(), "localhost"));
        signed_address::sign(ctx.key.bytes(), local, domain, case, responder)
    } else {
        own
    }
}

/// Responders hear about the first few reports of a case one by one; after
/// that, joins are only on the timeline (a flood must not bury new cases).
pub const NOTIFY_JOINS_UP_TO: i64 = 5;

/// What a case looks like with a report just added to it, as the letters
/// after the report need it (the caller keeps it; nothing is read back).
#[derive(Clone, Copy, Debug)]
pub struct CaseSoFar<'a> {
    /// The case's distinct artifacts (original-message keys excluded), in first-seen order.
    pub artifacts: &'a [rows::ArtifactRow],
    pub reports: i64,
    /// Distinct reporters.
    pub people: i64,
    /// The first few distinct reporters, in order of their first report.
    pub reporters: &'a [String],
}

/// Letters after a report is stored: acknowledgement and responder notice,
/// or the instant answer when it matched a recently resolved case. Takes the
/// report as just stored and its case as it now stands from the caller. The
/// letters wait in `out` for the caller's `flush`.
#[allow(clippy::too_many_arguments)]
pub async fn after_report(
    ctx: &Context,
    conn: &mut Conn,
    out: &mut Outgoing,
    case: CaseId,
    report: &ReportRow,
    so_far: &CaseSoFar<'_>,
    how: &Joined,
    now: Millis,
) -> Result<(), StoreError> {
    let artifacts = so_far.artifacts;
    let (report_count, people) = (so_far.reports, so_far.people);
    let others = (people - 1).max(0) as usize;

    if let Joined::Recent(_) = how {
        let row = cases::require(conn, case, ctx.prefix()).await?;
        let position = people.max(1) as usize;
        if let Some(outcome) =
            outcome_ctx(conn, &row, report, position, position, artifacts, None).await?
        {
            let recent = letters::RecentCtx {
                outcome,
                resolved_on: row.resolved_at.map(date_words).unwrap_or_default(),
            };
            let letter = letters::render_recent(&ctx.org, &report.reporter, &recent)
                .map_err(render_failed)?;
            admit(ctx, conn, out, Some(case), letter, now).await?;
        }
    } else if ctx.cfg.letters.ack {
        let ack = letters::AckCtx {
            case_id: case,
            reporter_name: report.reporter_name.clone(),
            reported_subject: report.subject.clone(),
            reported_on: reported_on(report),
            others_reported: others,
            masked_artifacts: masked(artifacts, false),
            their_message_id: report.message_id.clone(),
        };
        let letter =
            letters::render_ack(&ctx.org, &report.reporter, &ack).map_err(render_failed)?;
        admit(ctx, conn, out, Some(case), letter, now).await?;
    }

    let joined = matches!(how, Joined::Duplicate(_));
    if !(joined && report_count > NOTIFY_JOINS_UP_TO) {
        let reporters = so_far.reporters.to_vec();
        let notify = letters::NotifyCtx {
            case_id: case,
            from: report.reporter.clone(),
            subject: report.subject.clone(),
            received: rfc3339(report.received_at),
            original: (report.orig_subject.is_some() || report.orig_from.is_some()).then(|| {
                letters::OriginalInfo {
                    from: report.orig_from.clone().unwrap_or_default(),
                    subject: report.orig_subject.clone().unwrap_or_default(),
                    date: report.orig_date.clone().unwrap_or_default(),
                }
            }),
            masked_artifacts: masked(artifacts, true),
            joined_existing: joined,
            report_count: report_count as usize,
            reporters,
            redacted_excerpt: match report.body.char_indices().nth(1200) {
                Some((cut, _)) => report.body[..cut].to_string(),
                None => report.body.clone(),
            },
            warnings: rows::split_problems(&report.problems)
                .map(str::to_string)
                .collect(),
            answered_from: matches!(how, Joined::Recent(_)).then_some(case),
            reopened: matches!(how, Joined::Reopened),
            classify_within: Some(format!("{}", ctx.cfg.sla.classify_within)),
        };
        for to in ctx.cfg.notify_addresses() {
            let letter = letters::render_notify(&ctx.org, &to, &notify)
                .map_err(render_failed)?
                .with_reply_to(Some(responder_reply_to(ctx, case, &to)));
            admit(ctx, conn, out, Some(case), letter, now).await?;
        }
    }
    Ok(())
}

/// Actions recorded on a case, in order, in the responder's words.
async fn actions(conn: &mut Conn, case: CaseId) -> Result<Vec<String>, StoreError> {
    Ok(cases::events(conn, case)
        .await?
        .into_iter()
        .filter(|e| e.kind == "action")
        .map(|e| e.text)
        .collect())
}

async fn outcome_ctx(
    conn: &mut Conn,
    case: &CaseRow,
    report: &ReportRow,
    position: usize,
    total: usize,
    artifacts: &[rows::ArtifactRow],
    merged_from: Option<CaseId>,
) -> Result<Option<letters::OutcomeCtx>, StoreError> {
    let Some(outcome) = case
        .outcome
        .as_deref()
        .and_then(|o| o.parse::<Outcome>().ok())
    else {
        return Ok(None);
    };
    let category = case
        .category
        .as_deref()
        .and_then(|c| c.parse::<Category>().ok())
        .unwrap_or(Category::Other);
    Ok(Some(letters::OutcomeCtx {
        case_id: case.id,
        reporter_name: report.reporter_name.clone(),
        reported_subject: report.subject.clone(),
        reported_on: reported_on(report),
        category,
        actions: actions(conn, case.id).await?,
        outcome,
        resolution_text: case.resolution.clone(),
        until: case.until_date.clone(),
        advice: None,
        position,
        reporters_total: total,
        masked_artifacts: masked(artifacts, false),
        their_message_id: report.message_id.clone(),
        merged_from,
    }))
}

/// One outcome letter per reporter of the case and of cases merged into it.
/// Returns a line per queued letter.
pub async fn outcome_letters(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    now: Millis,
) -> Result<Vec<String>, StoreError> {
    let row = cases::require(conn, case, ctx.prefix()).await?;
    let firsts = first_reports(conn, case).await?;
    let mut artifacts = rows::artifacts_of(conn, case).await?;
    for merged in merged_tree(conn, case).await? {
        for a in rows::artifacts_of(conn, merged).await? {
            if !artifacts.contains(&a) {
                artifacts.push(a);
            }
        }
    }
    let total = firsts.len();
    let mut queued = Vec::new();
    for (i, (report, merged_from)) in firsts.iter().enumerate() {
        if let Some(octx) =
            outcome_ctx(conn, &row, report, i + 1, total, &artifacts, *merged_from).await?
        {
            let letter = letters::render_outcome(&ctx.org, &report.reporter, &octx)
                .map_err(render_failed)?;
            if let Some(line) = store_letter(ctx, conn, Some(case), letter, now).await? {
                queued.push(line);
            }
        }
    }
    Ok(queued)
}

/// Each reporter's first report on the case and on the cases merged into it,
/// oldest first, with the merged case it was filed on (`None`: this case).
/// One letter per reporter is written from this list.
async fn first_reports(
    conn: &mut Conn,
    case: CaseId,
) -> Result<Vec<(ReportRow, Option<CaseId>)>, StoreError> {
    let mut all: Vec<(ReportRow, Option<CaseId>)> = rows::reports_of(conn, case)
        .await?
        .into_iter()
        .map(|r| (r, None))
        .collect();
    for merged in merged_tree(conn, case).await? {
        all.extend(
            rows::reports_of(conn, merged)
                .await?
                .into_iter()
                .map(|r| (r, Some(merged))),
        );
    }
    all.sort_by_key(|(r, _)| (r.received_at, r.id));
    let mut firsts: Vec<(ReportRow, Option<CaseId>)> = Vec::new();
    for (r, m) in all {
        if !firsts.iter().any(|(f, _)| f.reporter == r.reporter) {
            firsts.push((r, m));
        }
    }
    Ok(firsts)
}

/// Queues one letter to each reporter of `case` (and of the cases merged into
/// it), rendered from their first report. Returns a line per queued letter.
async fn to_each_reporter(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    now: Millis,
    render: impl Fn(&ReportRow) -> Result<Letter, LetterError>,
) -> Result<Vec<String>, StoreError> {
    let mut queued = Vec::new();
    for (r, _) in first_reports(conn, case).await? {
        let letter = render(&r).map_err(render_failed)?;
        if let Some(line) = store_letter(ctx, conn, Some(case), letter, now).await? {
            queued.push(line);
        }
    }
    Ok(queued)
}

/// When the reporter sent (or, lacking a date, we received) a report, in words.
fn reported_on(r: &ReportRow) -> String {
    date_words(r.sent_at.unwrap_or(r.received_at))
}

/// Every case merged into `case`, directly or through other merges.
async fn merged_tree(conn: &mut Conn, case: CaseId) -> Result<Vec<CaseId>, StoreError> {
    let mut out = Vec::new();
    let mut todo = vec![case];
    while let Some(c) = todo.pop() {
        for m in cases::merged_from(conn, c).await? {
            if !out.contains(&m) && m != case && out.len() < 10_000 {
                out.push(m);
                todo.push(m);
            }
        }
    }
    Ok(out)
}

/// The `ask` question to every reporter of the case. Returns a line per letter.
pub async fn question_letters(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    question: &str,
    now: Millis,
) -> Result<Vec<String>, StoreError> {
    to_each_reporter(ctx, conn, case, now, |r| {
        let q = letters::QuestionCtx {
            case_id: case,
            reporter_name: r.reporter_name.clone(),
            reported_subject: r.subject.clone(),
            reported_on: reported_on(r),
            question: question.to_string(),
            their_message_id: r.message_id.clone(),
        };
        letters::render_question(&ctx.org, &r.reporter, &q)
    })
    .await
}

/// What a responder's message was, for threading the answer under it.
#[derive(Clone, Debug, Default)]
pub struct TheirMessage {
    pub subject: String,
    pub message_id: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub async fn confirm(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    responder: &str,
    applied: Vec<String>,
    status: String,
    letters_queued: Vec<String>,
    their: &TheirMessage,
    now: Millis,
) -> Result<(), StoreError> {
    let c = letters::ConfirmCtx {
        case_id: case,
        applied,
        status,
        letters_queued,
        their_subject: their.subject.clone(),
        their_message_id: their.message_id.clone(),
    };
    let letter = letters::render_confirm(&ctx.org, responder, &c)
        .map_err(render_failed)?
        .with_reply_to(Some(responder_reply_to(ctx, case, responder)));
    store_letter(ctx, conn, Some(case), letter, now).await?;
    Ok(())
}

pub async fn reject(
    ctx: &Context,
    conn: &mut Conn,
    case: Option<CaseId>,
    responder: &str,
    errors: Vec<String>,
    their: &TheirMessage,
    now: Millis,
) -> Result<(), StoreError> {
    let c = letters::RejectCtx {
        case_id: case,
        errors,
        their_subject: their.subject.clone(),
        their_message_id: their.message_id.clone(),
    };
    let mut letter = letters::render_reject(&ctx.org, responder, &c).map_err(render_failed)?;
    if let Some(case) = case {
        letter = letter.with_reply_to(Some(responder_reply_to(ctx, case, responder)));
    }
    store_letter(ctx, conn, case, letter, now).await?;
    Ok(())
}

/// Tells the responders about something that happened to a case by itself
/// (a reporter answered, an accepted risk expired): a reminder-style notice.
pub async fn responders_reminder(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    reason: letters::ReminderReason,
    now: Millis,
) -> Result<(), StoreError> {
    let row = cases::require(conn, case, ctx.prefix()).await?;
    let reports = rows::reports_of(conn, case).await?;
    let mut reporters: Vec<&str> = reports.iter().map(|r| r.reporter.as_str()).collect();
    reporters.sort_unstable();
    reporters.dedup();
    let open_for_ms = now.saturating_sub(row.opened_at);
    let r = letters::ReminderCtx {
        case_id: case,
        sla: match reason {
            letters::ReminderReason::Classify => Some(format!("{}", ctx.cfg.sla.classify_within)),
            letters::ReminderReason::Outcome => Some(format!("{}", ctx.cfg.sla.outcome_within)),
            letters::ReminderReason::RiskReview { .. } => None,
        },
        reason,
        subject: reports
            .first()
            .map(|r| r.subject.clone())
            .unwrap_or_default(),
        opened_at: rfc3339(row.opened_at),
        open_for: span_words(open_for_ms),
        category: row.category.as_deref().and_then(|c| c.parse().ok()),
        severity: row.severity.as_deref().and_then(|c| c.parse().ok()),
        report_count: reports.len(),
        waiting_reporters: reporters.len(),
    };
    for to in ctx.cfg.notify_addresses() {
        let letter = letters::render_reminder(&ctx.org, &to, &r)
            .map_err(render_failed)?
            .with_reply_to(Some(responder_reply_to(ctx, case, &to)));
        store_letter(ctx, conn, Some(case), letter, now).await?;
    }
    Ok(())
}

/// "3 days", "5 hours", "20 minutes".
pub fn span_words(ms: Millis) -> String {
    let mins = ms / 60_000;
    let (n, unit) = if mins >= 2 * 1440 {
        (mins / 1440, "days")
    } else if mins >= 120 {
        (mins / 60, "hours")
    } else {
        (mins, "minutes")
    };
    format!("{n} {unit}")
}

/// The honest progress letter (`sla.outcome_within` passed without an outcome):
/// one per reporter of the case and of cases merged into it, saying it is still
/// being worked on and what has been done so far. Returns a line per letter.
pub async fn update_letters(
    ctx: &Context,
    conn: &mut Conn,
    case: CaseId,
    now: Millis,
) -> Result<Vec<String>, StoreError> {
    let row = cases::require(conn, case, ctx.prefix()).await?;
    let category = row.category.as_deref().and_then(|c| c.parse().ok());
    let done = actions(conn, case).await?;
    to_each_reporter(ctx, conn, case, now, |r| {
        let u = letters::UpdateCtx {
            case_id: case,
            reporter_name: r.reporter_name.clone(),
            reported_subject: r.subject.clone(),
            reported_on: reported_on(r),
            category,
            actions_so_far: done.clone(),
            their_message_id: r.message_id.clone(),
        };
        letters::render_update(&ctx.org, &r.reporter, &u)
    })
    .await
}
